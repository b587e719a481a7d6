// Resources: per product (DescribeCloudResourceStatus counts them), each resource with its HTTPS state and the
// certificate bound now (ListCloudResources, paged by the server). Refresh reads them again: the server syncs them.
import { call } from "./api.js";
import { t, formatDay } from "./i18n.js";
import { el, field, attempt, table, pager, heading, notice } from "./ui.js";

const SHOW_SIZE = 20;

export function render(main) {
  const errors = el("div");
  const list = el("div");
  const counts = el("div");
  let page = 1;
  const [productField, productSelect] = field(t("product"), el("select", { name: "product" }, el("option", { value: "" }, t("allProducts"))));
  productSelect.addEventListener("change", () => { page = 1; load(); });

  async function loadCounts() {
    const body = await attempt(errors, () => call("DescribeCloudResourceStatus", {}));
    if (!body) return;
    const current = productSelect.value;
    productSelect.replaceChildren(el("option", { value: "" }, t("allProducts")), ...(body.Data || []).map((p) =>
      el("option", { value: p.CloudProduct, selected: p.CloudProduct === current }, `${p.CloudProduct} (${p.TotalCount})`)));
    counts.replaceChildren(notice((body.Data || []).map((p) => `${p.CloudProduct}: ${t("count", { n: p.TotalCount })}`).join(" · ")));
  }

  async function load() {
    const body = await attempt(errors, () => call("ListCloudResources", { CloudProduct: productSelect.value, CurrentPage: page, ShowSize: SHOW_SIZE }));
    if (!body) return;
    list.replaceChildren(table(t("navResources"), [
      [t("product"), (r) => r.CloudProduct],
      [t("domain"), (r) => r.Domain],
      [t("instance"), (r) => [r.InstanceId, r.ListenerPort].filter(Boolean).join(":") || "—"],
      [t("region"), (r) => r.RegionId],
      [t("https"), (r) => el("span", { class: `badge ${r.EnableHttps ? "status-success" : ""}` }, t(r.EnableHttps ? "on" : "off"))],
      [t("boundCert"), (r) => (r.CertName ? `${r.CertName}${r.CertEndTime ? ` (${t("expires")} ${formatDay(Math.floor(Number(r.CertEndTime) / 1000))})` : ""}` : "—")],
    ], body.Data || []), pager(page, SHOW_SIZE, body.Total || 0, (next) => { page = next; load(); }));
  }

  main.replaceChildren(
    heading(t("navResources"), el("button", { type: "button", onclick: () => { loadCounts(); load(); } }, t("syncResources"))),
    el("p", { class: "hint" }, t("syncNote")), counts, el("form", { class: "filters", onsubmit: (e) => e.preventDefault() }, productField),
    errors, list,
  );
  loadCounts();
  load();
}
