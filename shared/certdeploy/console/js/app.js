// The console shell: sign-in, navigation, language switch and the hash router (#/jobs, #/jobs/new, #/jobs/<id>,
// #/certificates, #/contacts, #/resources). Each page module renders into <main> and may return a cleanup function
// (the details page stops polling with it).
import { signIn, signOut, signedIn, accessKeyId, call } from "./api.js";
import { t, lang, setLang } from "./i18n.js";
import { el, field, attempt, uid } from "./ui.js";
import * as jobs from "./jobs.js";
import * as wizard from "./wizard.js";
import * as details from "./details.js";
import * as certificates from "./certificates.js";
import * as contacts from "./contacts.js";
import * as resources from "./resources.js";

const ROUTES = [
  [/^#\/jobs\/new$/, wizard, "navJobs"],
  [/^#\/jobs\/(\d+)$/, details, "navJobs"],
  [/^#\/jobs$/, jobs, "navJobs"],
  [/^#\/certificates$/, certificates, "navCertificates"],
  [/^#\/contacts$/, contacts, "navContacts"],
  [/^#\/resources$/, resources, "navResources"],
];
const NAV = [["#/jobs", "navJobs"], ["#/certificates", "navCertificates"], ["#/contacts", "navContacts"], ["#/resources", "navResources"]];

const root = document.getElementById("app");
let cleanup = null;

function languageButton() {
  return el("button", {
    type: "button", class: "link", "aria-label": `${t("languageLabel")}: ${t("language")}`,
    onclick: () => { setLang(lang() === "zh" ? "en" : "zh"); route(); },
  }, t("language"));
}

function signInPage() {
  const [idField, idInput] = field(t("accessKeyId"), el("input", { name: "accessKeyId", autocomplete: "username", required: true }));
  const [secretField, secretInput] = field(t("accessKeySecret"),
    el("input", { name: "accessKeySecret", type: "password", autocomplete: "current-password", required: true }), t("signInNote"));
  const errors = el("div");
  const form = el("form", { class: "card sign-in", "aria-labelledby": "sign-in-title" },
    el("h1", { id: "sign-in-title" }, t("signInTitle")), idField, secretField, errors,
    el("button", { type: "submit", class: "primary" }, t("signIn")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const ok = await attempt(errors, async () => {
      await signIn(idInput.value.trim(), secretInput.value);
      await call("ListContact", { ShowSize: 1 }); // proves the key before anything else is shown
      return true;
    });
    secretInput.value = "";
    if (ok) {
      if (!location.hash || location.hash === "#/") location.hash = "#/jobs";
      route();
    } else {
      signOut();
    }
  });
  return el("div", { class: "center" }, el("header", { class: "bar" }, el("span", { class: "brand" }, t("appName")), languageButton()),
    el("main", { id: "main" }, form));
}

function shell(active) {
  const main = el("main", { id: "main", tabindex: "-1" });
  const nav = el("nav", { "aria-label": t("mainNav") }, el("ul", {},
    NAV.map(([href, key]) => el("li", {}, el("a", { href, "aria-current": key === active ? "page" : null }, t(key))))));
  const header = el("header", { class: "bar" },
    el("a", { class: "skip", href: "#main", onclick: (event) => { event.preventDefault(); main.focus(); } }, t("skipToContent")),
    el("span", { class: "brand" }, t("appName")), nav,
    el("span", { class: "who", title: t("accessKeyId") }, accessKeyId()), languageButton(),
    el("button", { type: "button", class: "link", onclick: () => { signOut(); location.hash = ""; route(); } }, t("signOut")));
  return [el("div", { class: "layout" }, header, main), main];
}

function route() {
  if (cleanup) cleanup();
  cleanup = null;
  document.title = t("appName");
  if (!signedIn()) {
    root.replaceChildren(signInPage());
    root.querySelector("input").focus();
    return;
  }
  const match = ROUTES.map(([pattern, page, key]) => [location.hash.match(pattern), page, key]).find(([m]) => m);
  if (!match) {
    location.hash = "#/jobs";
    return;
  }
  const [found, page, key] = match;
  const [layout, main] = shell(key);
  root.replaceChildren(layout);
  document.title = `${t(key)} · ${t("appName")}`;
  cleanup = page.render(main, found.slice(1)) || null;
}

window.addEventListener("hashchange", route);
root.dataset.ready = uid("ready");
route();
