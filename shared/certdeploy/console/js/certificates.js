// Certificates: upload by pasting PEM or choosing files (UploadUserCertificate), the list (ListUserCertificateOrder,
// OrderType CERT, paged by the server) and delete (DeleteUserCertificate).
import { call } from "./api.js";
import { t, formatDay } from "./i18n.js";
import { el, field, attempt, confirmDialog, table, pager, heading, notice } from "./ui.js";

const SHOW_SIZE = 20;

function pemInput(label, name) {
  const [wrapper, area] = field(label, el("textarea", { name, rows: 6, spellcheck: "false", autocomplete: "off", required: true }));
  const file = el("input", { type: "file", accept: ".pem,.crt,.cer,.key,text/plain", "aria-label": `${label}: ${t("orFile")}` });
  file.addEventListener("change", async () => {
    if (file.files.length) area.value = await file.files[0].text();
  });
  wrapper.append(el("div", { class: "file" }, el("span", { "aria-hidden": "true" }, t("orFile")), file));
  return [wrapper, area];
}

export function render(main) {
  const errors = el("div");
  const messages = el("div", { "aria-live": "polite" });
  const list = el("div");
  let page = 1;
  const [nameField, nameInput] = field(t("certName"), el("input", { name: "certName", required: true, maxlength: 64 }));
  const [certField, certArea] = pemInput(t("pastePem"), "cert");
  const [keyField, keyArea] = pemInput(t("pasteKey"), "key");
  const form = el("form", { class: "card", "aria-labelledby": "upload-title" }, el("h2", { id: "upload-title" }, t("upload")),
    nameField, certField, keyField, el("div", { class: "buttons" }, el("button", { type: "submit", class: "primary" }, t("upload"))));

  async function load() {
    const body = await attempt(errors, () => call("ListUserCertificateOrder", { OrderType: "CERT", CurrentPage: page, ShowSize: SHOW_SIZE }));
    if (!body) return;
    list.replaceChildren(table(t("navCertificates"), [
      [t("name"), (c) => c.Name],
      [t("commonName"), (c) => c.CommonName],
      [t("sans"), (c) => c.Sans],
      [t("certType"), (c) => t(c.Upload ? "origin.upload" : "origin.official")],
      [t("expires"), (c) => [formatDay(c.EndDate), c.Expired ? el("span", { class: "badge status-error" }, t("expired")) : null]],
      [t("actions"), (c) => el("button", { type: "button", class: "link danger", "aria-label": `${t("delete")}: ${c.Name}`, onclick: async () => {
        if (!(await confirmDialog(t("confirmDeleteCert", { name: c.Name })))) return;
        if (await attempt(errors, () => call("DeleteUserCertificate", { CertId: c.CertificateId }))) {
          messages.replaceChildren(notice(t("deleted")));
          load();
        }
      } }, t("delete"))],
    ], body.CertificateOrderList || []), pager(page, SHOW_SIZE, body.TotalCount || 0, (next) => { page = next; load(); }));
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = nameInput.value.trim();
    const done = await attempt(errors, () => call("UploadUserCertificate", { Name: name, Cert: certArea.value, Key: keyArea.value }));
    if (!done) return;
    form.reset();
    messages.replaceChildren(notice(t("uploaded", { name })));
    load();
  });

  main.replaceChildren(heading(t("navCertificates")), messages, errors, form, el("h2", {}, t("navCertificates")), list);
  load();
}
