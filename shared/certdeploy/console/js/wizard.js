// Create Task in three steps and a preview: basic information, certificates, resources, then Task Preview and
// Submit. Steps 3 and 4 (js/wizard_resources.js) work on a draft job (CreateDeploymentJob leaves it `editing`), so
// the matching, the reasons for leaving resources out and the quota are the server's own answers.
import { callAll } from "./api.js";
import { t, formatDay } from "./i18n.js";
import { el, field, attempt, heading, uid } from "./ui.js";
import { resourcesStep, previewStep, discardDraft } from "./wizard_resources.js";

const MAX_CONTACTS = 10;

function stepper(current) {
  return el("ol", { class: "steps" }, ["step1", "step2", "step3", "step4"].map((key, index) =>
    el("li", { "aria-current": index + 1 === current ? "step" : null, class: index + 1 < current ? "done" : null }, t(key))));
}

function basicStep(draft, body, errors, next) {
  const [nameField, nameInput] = field(t("taskName"), el("input", { name: "name", required: true, maxlength: 64, value: draft.name }));
  const contactList = el("div", { class: "choices" }, t("loading"));
  const contactHint = el("p", { class: "hint", id: uid("contacts-hint") }, t("tooManyContacts"));
  const contacts = el("fieldset", { "aria-describedby": contactHint.id }, el("legend", {}, t("contacts")), contactList, contactHint);
  const radios = ["now", "custom"].map((mode) => el("input", { type: "radio", name: "when", value: mode, id: uid("when"), checked: draft.when === mode }));
  const [timeField, timeInput] = field(t("scheduleTime"), el("input", { type: "datetime-local", name: "scheduleTime", step: 1, value: draft.scheduleText }));
  const showTime = () => { timeField.hidden = !radios[1].checked; };
  radios.forEach((radio) => radio.addEventListener("change", showTime));
  showTime();
  const when = el("fieldset", {}, el("legend", {}, t("deployTime")),
    radios.map((radio) => el("div", { class: "choice" }, radio, el("label", { for: radio.id }, t(radio.value === "now" ? "deployNow" : "customTime")))),
    timeField);
  const form = el("form", { class: "card" }, nameField, contacts, when, el("div", { class: "buttons" },
    el("a", { class: "button", href: "#/jobs" }, t("cancel")), el("button", { type: "submit", class: "primary" }, t("nextStep"))));
  attempt(errors, async () => {
    const all = await callAll("ListContact", {}, "ContactList", "TotalCount");
    contactList.replaceChildren(...(all.length ? all.map((contact) => {
      const box = el("input", { type: "checkbox", id: uid("contact"), value: contact.ContactId, checked: draft.contactIds.includes(String(contact.ContactId)) });
      return el("div", { class: "choice" }, box, el("label", { for: box.id }, `${contact.Name} ${contact.Email || contact.Mobile || ""}`));
    }) : [el("p", { class: "empty" }, t("noRows"))]));
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const picked = [...contactList.querySelectorAll("input:checked")].map((box) => box.value);
    const problems = [];
    if (!nameInput.value.trim()) problems.push(t("nameRequired"));
    if (picked.length > MAX_CONTACTS) problems.push(t("tooManyContacts"));
    if (radios[1].checked && !timeInput.value) problems.push(t("scheduleRequired"));
    if (problems.length) {
      errors.replaceChildren(el("div", { class: "error", role: "alert" }, problems.join(" ")));
      return;
    }
    draft.name = nameInput.value.trim();
    draft.contactIds = picked;
    draft.when = radios[1].checked ? "custom" : "now";
    draft.scheduleText = timeInput.value;
    // datetime-local is read in the browser's time zone; the API takes Unix milliseconds.
    draft.scheduleTime = draft.when === "custom" ? new Date(timeInput.value).getTime() : null;
    next();
  });
  body.replaceChildren(form);
  nameInput.focus();
}

function certificateStep(draft, body, errors, next, back) {
  const list = el("div", { class: "choices" }, t("loading"));
  const note = el("p", { class: "hint", id: uid("one-type") }, t("oneTypeNote"));
  const form = el("form", { class: "card" },
    el("fieldset", { "aria-describedby": note.id }, el("legend", {}, t("step2")), note, list),
    el("div", { class: "buttons" }, el("button", { type: "button", onclick: back }, t("back")),
      el("button", { type: "submit", class: "primary" }, t("nextStep"))));
  const boxes = [];
  const enforceOneType = () => {
    const chosen = boxes.find((box) => box.checked);
    for (const box of boxes) box.disabled = Boolean(chosen) && box.dataset.origin !== chosen.dataset.origin;
  };
  attempt(errors, async () => {
    const certs = await callAll("ListUserCertificateOrder", { OrderType: "CERT" }, "CertificateOrderList", "TotalCount");
    list.replaceChildren(...(certs.length ? certs.map((cert) => {
      const origin = cert.Upload ? "upload" : "official";
      const box = el("input", { type: "checkbox", id: uid("cert"), value: cert.CertificateId, "data-origin": origin,
        checked: draft.certIds.includes(String(cert.CertificateId)), onchange: enforceOneType });
      boxes.push(box);
      return el("div", { class: "choice cert-choice" }, box, el("label", { for: box.id },
        el("strong", {}, cert.Name), ` ${cert.CommonName} · ${t(`origin.${origin}`)} · ${t("expires")} ${formatDay(cert.EndDate)}`,
        cert.Expired ? el("span", { class: "badge status-error" }, t("expired")) : null));
    }) : [el("p", { class: "empty" }, t("noRows"))]));
    enforceOneType();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const picked = boxes.filter((box) => box.checked);
    if (!picked.length) {
      errors.replaceChildren(el("div", { class: "error", role: "alert" }, t("certRequired")));
      return;
    }
    draft.certIds = picked.map((box) => box.value);
    draft.resourceIds = [];
    draft.certNames = picked.map((box) => box.nextElementSibling.querySelector("strong").textContent);
    next();
  });
  body.replaceChildren(form);
}

export function render(main) {
  const draft = { name: "", contactIds: [], when: "now", scheduleText: "", scheduleTime: null, certIds: [], certNames: [], jobId: null, resourceIds: [] };
  const steps = el("div");
  const errors = el("div");
  const body = el("div");
  const title = el("p", { class: "hint" });
  const show = (n) => {
    errors.replaceChildren();
    steps.replaceChildren(stepper(n));
    title.textContent = `${t("stepOf", { n })}: ${t(`step${n}`)}`;
    const go = [null, () => show(2), () => show(3), () => show(4)];
    if (n === 1) basicStep(draft, body, errors, go[1]);
    else if (n === 2) certificateStep(draft, body, errors, go[2], () => show(1));
    else if (n === 3) resourcesStep(draft, body, errors, go[3], () => show(2));
    else previewStep(draft, body, errors, () => show(3));
    main.querySelector("h1").focus();
  };
  main.replaceChildren(heading(t("createTask")), steps, title, errors, body);
  show(1);
  return () => discardDraft(draft);
}
