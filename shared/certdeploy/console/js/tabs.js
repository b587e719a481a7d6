// An ARIA tabs widget (role=tablist): arrow keys, Home and End move between tabs; only the selected tab is in the
// Tab order, as the WAI-ARIA Authoring Practices' tabs pattern has it.
import { el, uid } from "./ui.js";

export function tabs(panels, selected, onSelect) {
  const base = uid("tabs");
  const buttons = [];
  const views = [];
  const choose = (index, focus) => {
    panels.forEach(([key], i) => {
      const on = i === index;
      buttons[i].setAttribute("aria-selected", String(on));
      buttons[i].tabIndex = on ? 0 : -1;
      views[i].hidden = !on;
      if (on) onSelect(key);
    });
    if (focus) buttons[index].focus();
  };
  panels.forEach(([key, label, content], index) => {
    const tabId = `${base}-tab-${index}`;
    const panelId = `${base}-panel-${index}`;
    buttons.push(el("button", { type: "button", role: "tab", id: tabId, "aria-controls": panelId, "data-key": key,
      onclick: () => choose(index, false) }, label));
    views.push(el("div", { role: "tabpanel", id: panelId, "aria-labelledby": tabId, tabindex: "0" }, content));
  });
  const list = el("div", { role: "tablist", class: "tabs" }, buttons);
  list.addEventListener("keydown", (event) => {
    const current = buttons.indexOf(document.activeElement);
    if (current < 0) return;
    const moves = { ArrowRight: current + 1, ArrowLeft: current - 1, Home: 0, End: buttons.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    choose((moves[event.key] + buttons.length) % buttons.length, true);
  });
  choose(Math.max(0, panels.findIndex(([key]) => key === selected)), false);
  return el("div", {}, list, views);
}
