// Small DOM helpers shared by the pages: elements, API errors, confirmations, tables and pagers.
import { t } from "./i18n.js";

// el("button", {class: "x", onclick: fn}, "text", child…): attributes starting with "on" become listeners.
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

let nextId = 0;
export function uid(prefix) {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

// A labelled form control: returns [wrapper, control].
export function field(label, control, hint) {
  control.id = control.id || uid("f");
  const hintNode = hint ? el("p", { class: "hint", id: `${control.id}-hint` }, hint) : null;
  if (hintNode) control.setAttribute("aria-describedby", hintNode.id);
  return [el("div", { class: "field" }, el("label", { for: control.id }, label), control, hintNode), control];
}

// An API error as the page shows it: the CAS Code and Message, and the RequestId to quote.
export function errorBox(error) {
  const code = error.code || "Error";
  const message = error.casMessage ?? error.message;
  return el(
    "div", { class: "error", role: "alert" },
    el("strong", {}, t("errorTitle"), " "), el("code", { class: "error-code" }, code), " ",
    el("span", { class: "error-message" }, message),
    error.requestId ? el("small", {}, ` (${t("requestId")} ${error.requestId})`) : null,
  );
}

export function notice(text) {
  return el("div", { class: "notice", role: "status" }, text);
}

// Run `action`, showing its failure in `slot` (cleared first); resolves to the result or undefined.
export async function attempt(slot, action) {
  slot.replaceChildren();
  try {
    return await action();
  } catch (error) {
    slot.replaceChildren(errorBox(error));
    return undefined;
  }
}

// A modal confirmation (native <dialog>: focus stays inside, Escape cancels); resolves true on Confirm.
export function confirmDialog(message) {
  return new Promise((resolve) => {
    const text = el("p", { id: uid("confirm") }, message);
    const dialog = el("dialog", { class: "confirm", "aria-describedby": text.id });
    const close = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    dialog.append(
      text,
      el("div", { class: "buttons" },
        el("button", { type: "button", onclick: () => close(false) }, t("cancel")),
        el("button", { type: "button", class: "danger", onclick: () => close(true) }, t("confirm"))),
    );
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      close(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    dialog.querySelector("button").focus();
  });
}

export function statusBadge(status) {
  return el("span", { class: `badge status-${status}` }, t(`status.${status}`));
}

// A table with a caption; `columns` are [header, row => cell content].
export function table(caption, columns, rows) {
  if (!rows.length) return el("p", { class: "empty" }, t("noRows"));
  // A table wider than the screen scrolls in its own region, which keyboard users reach with Tab.
  return el("div", { class: "table-wrap", role: "region", "aria-label": caption, tabindex: "0" },
    el("table", {},
      el("caption", { class: "visually-hidden" }, caption),
      el("thead", {}, el("tr", {}, columns.map(([header]) => el("th", { scope: "col" }, header)))),
      el("tbody", {}, rows.map((row) => el("tr", {}, columns.map(([, cell]) => el("td", {}, cell(row))))))));
}

// Previous / Next over a server-side paged list.
export function pager(page, size, total, go) {
  const pages = Math.max(1, Math.ceil(total / size));
  return el("nav", { class: "pager", "aria-label": t("page", { page, pages, total }) },
    el("button", { type: "button", disabled: page <= 1, onclick: () => go(page - 1) }, t("previous")),
    el("span", {}, t("page", { page, pages, total })),
    el("button", { type: "button", disabled: page >= pages, onclick: () => go(page + 1) }, t("next")));
}

export function heading(text, ...extra) {
  return el("div", { class: "page-head" }, el("h1", { tabindex: "-1" }, text), ...extra);
}
