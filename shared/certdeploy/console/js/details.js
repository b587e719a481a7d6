// Task details: a summary, a tab of all resources and one per cloud service with each resource's status (polled every 2 s while anything
// is still moving), the failure cause beside a failed resource and Roll Back per resource (CreateRollbackTask), and
// a Timeline tab paged from ListDeploymentJobEvents. Where the job's resources are verified (docs/verification.md), a
// Verification column shows ListWorkerResource's VerifyStatus with its detail, and what was served on a mismatch. A
// job with stages shows its plan and stage, and why it halted (docs/decisions.md#staged-rollout).
import { call, callAll } from "./api.js";
import { t, formatTime } from "./i18n.js";
import { el, attempt, confirmDialog, statusBadge, table, pager, heading, notice } from "./ui.js";
import { tabs } from "./tabs.js";

const POLL_MS = 2000;
const MOVING_JOB = new Set(["pending", "scheduling", "processing"]);
const MOVING_WORKER = new Set(["pending", "scheduling", "processing", "rollback"]);
const ROLLABLE = new Set(["success", "error", "rollback_error"]);
const EVENTS_PER_PAGE = 20;
const TIMELINE = "timeline";
const ALL = "all";

function summary(job) {
  return el("dl", { class: "facts" },
    el("dt", {}, t("status")), el("dd", {}, statusBadge(job.Status)),
    el("dt", {}, t("certificates")), el("dd", {}, job.CertDomain || "—"),
    el("dt", {}, t("scheduled")), el("dd", {}, formatTime(job.ScheduleTime)),
    el("dt", {}, t("started")), el("dd", {}, formatTime(job.StartTime)),
    el("dt", {}, t("ended")), el("dd", {}, formatTime(job.EndTime)),
    ...(job.Stages ? [el("dt", {}, t("stages")), el("dd", {}, stagesText(job))] : []),
    ...(job.HaltReason ? [el("dt", {}, t("halted")), el("dd", { class: "cause" }, job.HaltReason)] : []));
}

// A job with stages (docs/decisions.md#staged-rollout): its plan, and once submitted the stage it is at.
function stagesText(job) {
  const vars = { stages: job.Stages, max: job.MaxFailures, stage: job.CurrentStage, count: job.StageCount };
  return t(job.StageCount ? "stageProgress" : "stagePlan", vars);
}

// What the check of a worker's resource found: a badge, then why (text nodes only: the detail and the served
// subject come from the resource).
function verification(w) {
  const served = w.ServedSubject
    ? t("verifyServed", { subject: w.ServedSubject, fingerprint: w.ServedFingerprint || "", expires: formatTime(w.ServedNotAfter) })
    : null;
  const progress = w.VerifyStatus === "pending" && w.VerifyChecks ? t("verifyCheck", { n: w.VerifyChecks }) : null;
  const why = [progress, w.VerifyDetail, served].filter(Boolean).join("; ");
  return el("span", { class: "verify" },
    el("span", { class: `badge verify-${w.VerifyStatus}` }, t(`verify.${w.VerifyStatus}`)),
    why ? el("span", { class: "verify-detail" }, " ", why) : null);
}

function workersTable(product, workers, job, domains, rollBack) {
  const verified = workers.some((w) => w.VerifyStatus);
  return table(product, [
    [t("product"), (w) => w.CloudProduct],
    [t("domain"), (w) => domains.get(w.ResourceId) || w.ResourceDomain || "—"],
    [t("instance"), (w) => [w.InstanceId, w.Port].filter(Boolean).join(":") || "—"],
    [t("region"), (w) => w.RegionId || "—"],
    [t("certificate"), (w) => w.CertName || "—"],
    [t("status"), (w) => statusBadge(w.Status)],
    [t("failureCause"), (w) => (w.ErrorCode || w.ErrorMessage
      ? el("span", { class: "cause" }, el("code", {}, w.ErrorCode || ""), " ", w.ErrorMessage || "") : "—")],
    ...(verified ? [[t("verify"), (w) => (w.VerifyStatus ? verification(w) : "—")]] : []),
    [t("actions"), (w) => (ROLLABLE.has(w.Status) && !MOVING_JOB.has(job.Status)
      ? el("button", { type: "button", class: "link", "aria-label": `${t("rollBack")}: ${domains.get(w.ResourceId) || w.ResourceId}`,
        onclick: () => rollBack(w) }, t("rollBack"))
      : "—")],
  ], workers);
}

// The Timeline tab's content and its loader (read again whenever the tab is shown, and on each poll while it is).
function timelinePanel(jobId, domains) {
  const panel = el("div");
  const errors = el("div");
  let current = 1;
  async function load(page) {
    current = page;
    const body = await attempt(errors, () => call("ListDeploymentJobEvents", { JobId: jobId, CurrentPage: page, ShowSize: EVENTS_PER_PAGE }));
    if (!body) return;
    panel.replaceChildren(
      table(t("timeline"), [
        [t("time"), (e) => formatTime(e.Time)],
        [t("event"), (e) => t(`event.${e.Type}`)],
        [t("resource"), (e) => (e.CloudProduct ? `${e.CloudProduct} ${domains.get(e.ResourceId) || e.ResourceId || ""}` : "—")],
        [t("detail"), (e) => [e.Detail, e.ErrorCode ? el("code", {}, ` ${e.ErrorCode}`) : null, e.ErrorMessage ? ` ${e.ErrorMessage}` : null]],
      ], body.Data || []),
      pager(body.CurrentPage || page, body.ShowSize || EVENTS_PER_PAGE, body.Total || 0, load));
  }
  return { node: el("div", {}, errors, panel), reload: () => load(current) };
}

export function render(main, [jobId]) {
  const errors = el("div");
  const messages = el("div", { "aria-live": "polite" });
  const head = el("div");
  const body = el("div");
  const live = el("p", { class: "hint live-hint", hidden: true }, t("live"));
  let selected = null;
  let timer = null;
  let stopped = false;
  let timeline = null;
  let domains = null;

  async function rollBack(worker) {
    const domain = domains.get(worker.ResourceId) || worker.ResourceId;
    if (!(await confirmDialog(t("confirmRollback", { domain })))) return;
    const done = await attempt(errors, () => call("CreateRollbackTask", { JobId: jobId, WorkerId: worker.Id }));
    if (done) {
      messages.replaceChildren(notice(`${t("rollBack")}: ${domain}`));
      refresh();
    }
  }

  async function refresh() {
    clearTimeout(timer);
    const found = await attempt(errors, async () => {
      const [job, workers] = await Promise.all([
        call("DescribeDeploymentJob", { JobId: jobId }),
        callAll("ListWorkerResource", { JobId: jobId }, "Data", "Total"),
      ]);
      return { job, workers };
    });
    if (stopped || !found) return;
    const { job, workers } = found;
    if (!domains) {
      const listed = await attempt(errors, () => call("ListDeploymentJobResource", { JobId: jobId }));
      domains = new Map((listed ? listed.Data || [] : []).map((r) => [r.Id, r.Domain]));
    }
    head.replaceChildren(heading(`${t("taskDetails")}: ${job.Name}`,
      el("a", { class: "button", href: "#/jobs" }, t("navJobs"))), summary(job));
    const products = [...new Set(workers.map((w) => w.CloudProduct))].sort();
    timeline = timeline || timelinePanel(jobId, domains);
    const panels = [[ALL, `${t("all")} (${workers.length})`, workersTable(t("all"), workers, job, domains, rollBack)]];
    panels.push(...products.map((product) => [product, `${product} (${workers.filter((w) => w.CloudProduct === product).length})`,
      workersTable(product, workers.filter((w) => w.CloudProduct === product), job, domains, rollBack)]));
    panels.push([TIMELINE, t("timeline"), timeline.node]);
    if (!selected || !panels.some(([key]) => key === selected)) selected = panels[0][0];
    // A poll rebuilds the tabs: the control that had focus (a tab or a Roll Back button) gets it back.
    const focused = body.contains(document.activeElement)
      ? document.activeElement.dataset.key || document.activeElement.getAttribute("aria-label") : null;
    body.replaceChildren(tabs(panels, selected, (key) => {
      const opened = key === TIMELINE && selected !== TIMELINE;
      selected = key;
      if (opened) timeline.reload();
    }));
    const again = focused && [...body.querySelectorAll("[data-key], button[aria-label]")]
      .find((node) => node.dataset.key === focused || node.getAttribute("aria-label") === focused);
    if (again) again.focus();
    if (selected === TIMELINE) timeline.reload();
    // A verification still checking (a slow product's re-checks) keeps the page polling after its worker ended.
    const moving = MOVING_JOB.has(job.Status)
      || workers.some((w) => MOVING_WORKER.has(w.Status) || w.VerifyStatus === "pending");
    live.hidden = !moving;
    if (moving) timer = setTimeout(refresh, POLL_MS);
  }

  main.replaceChildren(head, live, messages, errors, body);
  refresh();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
