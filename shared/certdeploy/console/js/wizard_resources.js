// Create Task steps 3 and 4. Step 3 makes a draft job of the chosen certificates with every resource of the
// account: the server matches them, so its workers are the matched resources (each with the certificate it will
// get, ListWorkerResource) and DescribeDeploymentJobStatus's ExcludedResources are the others with their reason.
// Step 4 narrows the draft to the resources kept (UpdateDeploymentJob) and shows what DescribeDeploymentJobStatus
// counts, with its BindingChanges (what each resource serves now and will get); Submit is UpdateDeploymentJobStatus (`scheduling` to deploy now, `pending` to wait for ScheduleTime).
import { call, callAll } from "./api.js";
import { t, formatTime } from "./i18n.js";
import { el, attempt, table, uid } from "./ui.js";

export async function discardDraft(draft) {
  if (draft.jobId && !draft.submitted) {
    const jobId = draft.jobId;
    draft.jobId = null;
    try {
      await call("DeleteDeploymentJob", { JobId: jobId });
    } catch {
      // the draft stays listed as `editing`, where the user can delete it
    }
  }
}

function byProduct(items) {
  const groups = new Map();
  for (const item of items) {
    const product = item.CloudProduct;
    if (!groups.has(product)) groups.set(product, []);
    groups.get(product).push(item);
  }
  return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b));
}

async function matchAll(draft) {
  await discardDraft(draft);
  const resources = await callAll("ListCloudResources", {}, "Data", "Total");
  if (!resources.length) return { workers: [], excluded: [], resources };
  const created = await call("CreateDeploymentJob", {
    Name: draft.name, JobType: "user", CertIds: draft.certIds.join(","),
    ResourceIds: resources.map((r) => r.Id).join(","), ContactIds: draft.contactIds.join(","),
    ScheduleTime: draft.scheduleTime,
  });
  draft.jobId = created.JobId;
  const [workers, status] = await Promise.all([
    callAll("ListWorkerResource", { JobId: draft.jobId }, "Data", "Total"),
    call("DescribeDeploymentJobStatus", { JobId: draft.jobId }),
  ]);
  return { workers, excluded: status.ExcludedResources || [], resources };
}

export function resourcesStep(draft, body, errors, next, back) {
  const list = el("div", { "aria-live": "polite" }, t("loading"));
  const nextButton = el("button", { type: "submit", class: "primary", disabled: true }, t("nextStep"));
  const form = el("form", { class: "card" },
    el("div", { class: "page-head" }, el("h2", {}, t("step3")),
      el("button", { type: "button", onclick: () => load() }, t("syncResources"))),
    el("p", { class: "hint" }, t("syncNote")), list,
    el("div", { class: "buttons" }, el("button", { type: "button", onclick: back }, t("back")), nextButton));
  let boxes = [];

  async function load() {
    list.replaceChildren(t("loading"));
    nextButton.disabled = true;
    const found = await attempt(errors, () => matchAll(draft));
    if (!found) return;
    const domains = new Map(found.resources.map((r) => [r.Id, r]));
    draft.resources = domains;
    const keep = new Set(draft.resourceIds.length ? draft.resourceIds : found.workers.map((w) => w.ResourceId));
    boxes = [];
    const groups = byProduct([...found.workers.map((w) => ({ ...w, matched: true })),
      ...found.excluded.map((e) => ({ ...e, matched: false }))]);
    list.replaceChildren(...groups.map(([product, items]) => el("fieldset", { class: "product" },
      el("legend", {}, product),
      items.map((item) => {
        const resource = domains.get(item.ResourceId) || {};
        const where = [resource.Domain || item.ResourceId, resource.InstanceId, resource.RegionId].filter(Boolean).join(" · ");
        if (!item.matched) {
          return el("div", { class: "choice unmatched" }, el("span", { class: "badge" }, t("notMatched")),
            el("span", {}, where, " — ", el("em", {}, `${t("reason")}: ${item.ReasonText}`)));
        }
        const box = el("input", { type: "checkbox", id: uid("res"), value: item.ResourceId, checked: keep.has(item.ResourceId) });
        boxes.push(box);
        return el("div", { class: "choice" }, box, el("label", { for: box.id }, where, " — ", `${t("willGet")}: ${item.CertName}`));
      }))));
    if (!found.workers.length) list.prepend(el("div", { class: "error", role: "alert" }, t("noMatchedResource")));
    nextButton.disabled = !found.workers.length;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const picked = boxes.filter((box) => box.checked).map((box) => Number(box.value));
    if (!picked.length) {
      errors.replaceChildren(el("div", { class: "error", role: "alert" }, t("noResourceSelected")));
      return;
    }
    draft.resourceIds = picked;
    next();
  });
  body.replaceChildren(form);
  load();
}

export function previewStep(draft, body, errors, back) {
  const content = el("div", {}, t("loading"));
  const submit = el("button", { type: "button", class: "primary", disabled: true }, t("submit"));
  const blocked = el("div");
  body.replaceChildren(el("section", { class: "card", "aria-labelledby": "preview-title" },
    el("h2", { id: "preview-title" }, t("step4")), content, blocked,
    el("div", { class: "buttons" }, el("button", { type: "button", onclick: back }, t("back")), submit)));
  attempt(errors, async () => {
    await call("UpdateDeploymentJob", { JobId: draft.jobId, ResourceIds: draft.resourceIds.join(",") });
    const [status, workers] = await Promise.all([
      call("DescribeDeploymentJobStatus", { JobId: draft.jobId }),
      callAll("ListWorkerResource", { JobId: draft.jobId }, "Data", "Total"),
    ]);
    const left = status.BuyCount - status.UseCount - status.CostCount;
    content.replaceChildren(
      el("dl", { class: "facts" },
        el("dt", {}, t("taskName")), el("dd", {}, draft.name),
        el("dt", {}, t("deployTime")), el("dd", {}, draft.when === "now" ? t("deployNow") : formatTime(draft.scheduleTime)),
        el("dt", {}, t("certificates")), el("dd", {}, draft.certNames.join(", ")),
        el("dt", {}, t("quotaCost")), el("dd", { class: "quota-cost" }, String(status.CostCount)),
        el("dt", {}, t("quotaLeft")), el("dd", { class: "quota-left" }, String(left)),
        el("dt", {}, t("quotaBought")), el("dd", {}, String(status.BuyCount)),
        el("dt", {}, t("quotaUsed")), el("dd", {}, String(status.UseCount))),
      el("h3", {}, t("resourcesPerProduct")),
      table(t("resourcesPerProduct"), [
        [t("product"), ([product]) => product],
        [t("resourceCount"), ([, items]) => String(items.length)],
        [t("domains"), ([, items]) => items.map((w) => (draft.resources.get(w.ResourceId) || {}).Domain || w.ResourceId).join(", ")],
        [t("certificate"), ([, items]) => [...new Set(items.map((w) => w.CertName))].join(", ")],
      ], byProduct(workers)),
      el("h3", {}, t("bindingChanges")),
      table(t("bindingChanges"), [
        [t("product"), (c) => c.CloudProduct],
        [t("domain"), (c) => c.Domain],
        [t("nowBound"), (c) => (c.CurrentCertName
          ? `${c.CurrentCertName}${c.CurrentCertEndTime ? ` (${t("expires")} ${formatTime(c.CurrentCertEndTime, "short")})` : ""}`
          : t("nothingBound"))],
        [t("willGet"), (c) => `${c.CertName}${c.CertEndTime ? ` (${t("expires")} ${formatTime(c.CertEndTime, "short")})` : ""}`],
      ], status.BindingChanges || []));
    if (!workers.length) {
      blocked.replaceChildren(el("div", { class: "error", role: "alert" }, t("noMatchedResource")));
      return;
    }
    submit.disabled = false;
    submit.onclick = async () => {
      submit.disabled = true;
      const done = await attempt(errors, () => call("UpdateDeploymentJobStatus", {
        JobId: draft.jobId, Status: draft.when === "custom" ? "pending" : "scheduling",
      }));
      if (!done) {
        submit.disabled = false;
        return;
      }
      draft.submitted = true;
      location.hash = `#/jobs/${draft.jobId}`;
    };
  });
}
