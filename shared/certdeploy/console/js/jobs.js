// Deployment to Cloud Services: the task list, filtered and paged by the server (ListDeploymentJob), with
// multi-select batch delete (DeleteDeploymentJob for each) and Details / Delete per row.
import { call } from "./api.js";
import { t, formatTime } from "./i18n.js";
import { el, field, attempt, confirmDialog, statusBadge, table, pager, heading, notice } from "./ui.js";

const STATUSES = ["editing", "pending", "scheduling", "processing", "success", "error", "rolled_back"];
const TYPES = ["user", "cloud"];
const SHOW_SIZE = 10;

function select(label, name, values, prefix, current) {
  return field(label, el("select", { name },
    el("option", { value: "" }, t("all")),
    values.map((v) => el("option", { value: v, selected: v === current }, t(`${prefix}.${v}`)))));
}

// The API's comma-joined lists with room to wrap.
function spaced(list) {
  return list ? list.split(",").join(", ") : "—";
}

// A search box value as ListDeploymentJob filters: a certificate's numeric ID, or a task's InstanceId.
function searchParams(text) {
  const value = text.trim();
  if (!value) return {};
  return /^\d+$/.test(value) ? { CertId: value } : { InstanceId: value };
}

export function render(main) {
  const state = { page: 1, status: "", type: "", search: "", selected: new Set() };
  const errors = el("div");
  const messages = el("div", { "aria-live": "polite" });
  const list = el("div", { "aria-busy": "false" });
  const [statusField, statusSelect] = select(t("status"), "status", STATUSES, "status", state.status);
  const [typeField, typeSelect] = select(t("type"), "type", TYPES, "type", state.type);
  const [searchField, searchInput] = field(t("searchLabel"), el("input", { type: "search", name: "search", placeholder: t("searchPlaceholder") }));
  const filters = el("form", { class: "filters", role: "search" }, statusField, typeField, searchField,
    el("button", { type: "submit" }, t("search")));
  const deleteButton = el("button", { type: "button", class: "danger", disabled: true, onclick: () => batchDelete() }, t("deleteSelected", { n: 0 }));

  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    Object.assign(state, { page: 1, status: statusSelect.value, type: typeSelect.value, search: searchInput.value });
    load();
  });
  statusSelect.addEventListener("change", () => filters.requestSubmit());
  typeSelect.addEventListener("change", () => filters.requestSubmit());

  function updateSelection() {
    deleteButton.disabled = state.selected.size === 0;
    deleteButton.textContent = t("deleteSelected", { n: state.selected.size });
  }

  async function remove(ids) {
    for (const id of ids) {
      const done = await attempt(errors, () => call("DeleteDeploymentJob", { JobId: id }));
      if (!done) return false;
      state.selected.delete(id);
    }
    messages.replaceChildren(notice(t("deleted")));
    return true;
  }

  async function batchDelete() {
    const ids = [...state.selected];
    if (!(await confirmDialog(t("confirmBatchDelete", { n: ids.length })))) return;
    await remove(ids);
    load();
  }

  async function load() {
    list.setAttribute("aria-busy", "true");
    const body = await attempt(errors, () => call("ListDeploymentJob", {
      Status: state.status, JobType: state.type, ...searchParams(state.search), CurrentPage: state.page, ShowSize: SHOW_SIZE,
    }));
    list.setAttribute("aria-busy", "false");
    if (!body) return;
    const rows = body.Data || [];
    state.selected = new Set([...state.selected].filter((id) => rows.some((row) => String(row.Id) === id)));
    updateSelection();
    const boxes = [];
    const selectAll = el("input", { type: "checkbox", "aria-label": t("selectAll"), onchange: (event) => {
      for (const box of boxes) {
        box.checked = event.target.checked;
        box.dispatchEvent(new Event("change"));
      }
    } });
    const columns = [
      [selectAll, (row) => {
        const box = el("input", { type: "checkbox", "aria-label": t("selectRow", { name: row.Name }), checked: state.selected.has(String(row.Id)) });
        box.addEventListener("change", () => {
          if (box.checked) state.selected.add(String(row.Id));
          else state.selected.delete(String(row.Id));
          updateSelection();
        });
        boxes.push(box);
        return box;
      }],
      [t("name"), (row) => el("a", { href: `#/jobs/${row.Id}` }, row.Name)],
      [t("status"), (row) => statusBadge(row.Status)],
      [t("type"), (row) => t(`type.${row.JobType}`)],
      [t("certificates"), (row) => (row.Certificates || []).map((c) => c.CertName).join(", ") || "—"],
      [t("products"), (row) => spaced(row.ProductName)],
      [t("domains"), (row) => spaced(row.CertDomain)],
      [t("scheduled"), (row) => formatTime(row.ScheduleTime, "short")],
      [t("started"), (row) => formatTime(row.StartTime, "short")],
      [t("ended"), (row) => formatTime(row.EndTime, "short")],
      [t("actions"), (row) => el("span", { class: "row-actions" },
        el("a", { href: `#/jobs/${row.Id}`, "aria-label": `${t("details")}: ${row.Name}` }, t("details")),
        el("button", { type: "button", class: "link danger", "aria-label": `${t("delete")}: ${row.Name}`, onclick: async () => {
          if (await confirmDialog(t("confirmDelete", { name: row.Name })) && (await remove([String(row.Id)]))) load();
        } }, t("delete")))],
    ];
    list.replaceChildren(
      table(t("navJobs"), columns, rows),
      pager(state.page, SHOW_SIZE, body.Total || 0, (page) => { state.page = page; load(); }),
    );
  }

  main.replaceChildren(
    heading(t("navJobs"), el("a", { class: "button primary", href: "#/jobs/new" }, t("createTask")),
      el("button", { type: "button", onclick: () => load() }, t("refresh"))),
    filters, el("div", { class: "bulk" }, deleteButton), messages, errors, list,
  );
  load();
}
