// Contacts: add, edit and delete (CreateContact, UpdateContact, DeleteContact) with email, mobile and webhooks
// (DingTalk, WeCom, Lark), listed by ListContact and paged by the server.
import { call } from "./api.js";
import { t } from "./i18n.js";
import { el, field, attempt, confirmDialog, table, pager, heading, notice } from "./ui.js";

const SHOW_SIZE = 20;

export function render(main) {
  const errors = el("div");
  const messages = el("div", { "aria-live": "polite" });
  const list = el("div");
  let page = 1;
  let editing = null;
  const title = el("h2", { id: "contact-form-title" }, t("addContact"));
  const [nameField, nameInput] = field(t("name"), el("input", { name: "contactName", required: true, maxlength: 64 }));
  const [emailField, emailInput] = field(t("email"), el("input", { name: "email", type: "email", autocomplete: "off" }));
  const [mobileField, mobileInput] = field(t("mobile"), el("input", { name: "mobile", type: "tel", required: true, autocomplete: "off" }));
  const [hooksField, hooksArea] = field(t("webhooks"), el("textarea", { name: "webhooks", rows: 3, spellcheck: "false", autocomplete: "off" }));
  const cancel = el("button", { type: "button", hidden: true, onclick: () => startEdit(null) }, t("cancel"));
  const form = el("form", { class: "card", "aria-labelledby": title.id }, title, nameField, emailField, mobileField, hooksField,
    el("div", { class: "buttons" }, cancel, el("button", { type: "submit", class: "primary" }, t("save"))));

  function startEdit(contact) {
    editing = contact;
    title.textContent = t(contact ? "editContact" : "addContact");
    cancel.hidden = !contact;
    nameInput.value = contact ? contact.Name : "";
    emailInput.value = contact ? contact.Email : "";
    mobileInput.value = contact ? contact.Mobile : "";
    hooksArea.value = contact ? (contact.WebhookList || []).join("\n") : "";
    if (contact) nameInput.focus();
  }

  async function load() {
    const body = await attempt(errors, () => call("ListContact", { CurrentPage: page, ShowSize: SHOW_SIZE }));
    if (!body) return;
    list.replaceChildren(table(t("navContacts"), [
      [t("name"), (c) => c.Name],
      [t("email"), (c) => c.Email || "—"],
      [t("mobile"), (c) => c.Mobile || "—"],
      [t("webhooks"), (c) => (c.WebhookList || []).join(" ") || "—"],
      [t("actions"), (c) => el("span", { class: "row-actions" },
        el("button", { type: "button", class: "link", "aria-label": `${t("edit")}: ${c.Name}`, onclick: () => startEdit(c) }, t("edit")),
        el("button", { type: "button", class: "link danger", "aria-label": `${t("delete")}: ${c.Name}`, onclick: async () => {
          if (!(await confirmDialog(t("confirmDeleteContact", { name: c.Name })))) return;
          if (await attempt(errors, () => call("DeleteContact", { ContactId: c.ContactId }))) {
            messages.replaceChildren(notice(t("deleted")));
            load();
          }
        } }, t("delete")))],
    ], body.ContactList || []), pager(page, SHOW_SIZE, body.TotalCount || 0, (next) => { page = next; load(); }));
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const hooks = hooksArea.value.split("\n").map((line) => line.trim()).filter(Boolean);
    const params = { Name: nameInput.value.trim(), Email: emailInput.value.trim(), Mobile: mobileInput.value.trim(), Webhooks: JSON.stringify(hooks) };
    const done = await attempt(errors, () => (editing
      ? call("UpdateContact", { ContactId: editing.ContactId, ...params })
      : call("CreateContact", params)));
    if (!done) return;
    startEdit(null);
    messages.replaceChildren(notice(t("saved")));
    load();
  });

  main.replaceChildren(heading(t("navContacts")), messages, errors, form, el("h2", {}, t("navContacts")), list);
  load();
}
