// English and Simplified Chinese. The chosen language is kept in localStorage (it is no secret); dates are shown
// in the browser's time zone with Intl.

const MESSAGES = {
  en: {
    appName: "certdeploy console", language: "中文", languageLabel: "Switch language",
    signInTitle: "Sign in", accessKeyId: "AccessKey ID", accessKeySecret: "AccessKey secret",
    signIn: "Sign in", signOut: "Sign out",
    signInNote: "The secret stays in this tab's memory as a non-extractable key; reloading the page or signing out forgets it.",
    navJobs: "Deployment to Cloud Services", navCertificates: "Certificates", navContacts: "Contacts",
    navResources: "Resources", mainNav: "Main",
    createTask: "Create Task", refresh: "Refresh", search: "Search", searchLabel: "Certificate ID or task InstanceId", searchPlaceholder: "12 or cas-job-user-3",
    status: "Status", type: "Type", all: "All", name: "Name", certificates: "Certificates",
    products: "Products", domains: "Domains", scheduled: "Scheduled", started: "Started", ended: "Ended",
    actions: "Actions", details: "Details", delete: "Delete", deleteSelected: "Delete selected ({n})",
    selectRow: "Select task {name}", selectAll: "Select all on this page",
    confirmBatchDelete: "Delete {n} task(s)? This cannot be undone.",
    confirmDelete: "Delete task \"{name}\"? This cannot be undone.",
    confirm: "Confirm", cancel: "Cancel", noRows: "Nothing to show.",
    page: "Page {page} of {pages} ({total} in all)", previous: "Previous", next: "Next",
    loading: "Loading…", errorTitle: "The API refused:", requestId: "RequestId",
    "status.editing": "Editing", "status.pending": "Pending", "status.scheduling": "Scheduling",
    "status.processing": "Processing", "status.success": "Succeeded", "status.error": "Failed",
    "status.rolled_back": "Rolled back", "status.rollback": "Rolling back",
    "status.rollback_success": "Rolled back", "status.rollback_error": "Rollback failed",
    "type.user": "User", "type.cloud": "Multi-cloud", "type.trustee": "Hosted",
    step1: "Basic information", step2: "Select certificates", step3: "Select resources", step4: "Task Preview",
    stepOf: "Step {n} of 4", taskName: "Task name", contacts: "Contacts (up to 10)",
    tooManyContacts: "Pick at most 10 contacts.", deployTime: "Deploy time", deployNow: "Deploy now",
    customTime: "Custom time", scheduleTime: "Date and time", scheduleRequired: "Choose a date and time.",
    nameRequired: "Enter a task name.", certRequired: "Select at least one certificate.",
    back: "Back", nextStep: "Next", submit: "Submit",
    certType: "Certificate type", "origin.upload": "Uploaded", "origin.official": "Official",
    oneTypeNote: "A task deploys one type of certificate: uploaded or official.",
    expires: "Expires", expired: "Expired", commonName: "Common name",
    syncResources: "Refresh resources", matched: "Matched", willGet: "Will get", notMatched: "Not matched",
    reason: "Reason", selectResource: "Deploy to {domain}",
    noMatchedResource: "No resource matches the selected certificates, so the task cannot be submitted.",
    noResourceSelected: "Select at least one matched resource.",
    quotaCost: "Quota this task consumes", quotaLeft: "Quota left after it", quotaBought: "Quota bought",
    quotaUsed: "Quota used", resourcesPerProduct: "Resources per product",
    excluded: "Left out", product: "Product", region: "Region", instance: "Instance", domain: "Domain",
    resource: "Resource", certificate: "Certificate", failureCause: "Failure cause",
    rollBack: "Roll Back", confirmRollback: "Roll back {domain} to the certificate it had before?",
    timeline: "Timeline", time: "Time", event: "Event", detail: "Detail", live: "Updating every 2 s",
    taskDetails: "Task details", summary: "Summary",
    upload: "Upload certificate", pastePem: "Certificate (PEM)", pasteKey: "Private key (PEM)",
    orFile: "or choose a file", certName: "Certificate name", uploaded: "Uploaded certificate {name}.",
    confirmDeleteCert: "Delete certificate \"{name}\"? This cannot be undone.", sans: "Domains",
    addContact: "Add contact", editContact: "Edit contact", email: "Email", mobile: "Mobile",
    webhooks: "Webhooks (DingTalk, WeCom, Lark), one URL a line", save: "Save", edit: "Edit",
    confirmDeleteContact: "Delete contact \"{name}\"?", https: "HTTPS", boundCert: "Bound certificate",
    on: "On", off: "Off", allProducts: "All products", count: "{n} resource(s)", resourceCount: "Resources",
    syncNote: "Resources are synchronised by the server (the scheduler, or `certdeploy cloud load`); Refresh reads them again.",
    skipToContent: "Skip to content", saved: "Saved.", deleted: "Deleted.",
    "event.created": "Created", "event.edited": "Edited", "event.back_to_editing": "Back to editing",
    "event.submitted": "Submitted", "event.started": "Started", "event.retry_scheduled": "Retry scheduled",
    "event.worker_succeeded": "Resource deployed", "event.worker_failed": "Resource failed", "event.finished": "Finished",
    "event.rollback_requested": "Rollback requested", "event.rolled_back": "Rolled back",
    "event.rollback_failed": "Rollback failed", "event.notification_sent": "Notification sent",
    "event.notification_failed": "Notification failed", bindingChanges: "What each resource serves now and will get",
    nowBound: "Now", nothingBound: "nothing",
    verify: "Verification", "verify.pending": "Checking", "verify.verified": "Verified",
    "verify.mismatch": "Mismatch", "verify.unreachable": "Unreachable", "verify.skipped": "Skipped",
    verifyCheck: "check {n}", verifyServed: "served {subject} (SHA-256 {fingerprint}, expires {expires})",
    "event.verify_checked": "Verification check", "event.stage_started": "Stage started",
    "event.stage_passed": "Stage passed", "event.halted": "Halted", "event.resumed": "Resumed",
    stages: "Stages", stageProgress: "{stages} (max failures {max}); stage {stage} of {count}",
    stagePlan: "{stages} (max failures {max})", halted: "Halted",
  },
  zh: {
    appName: "certdeploy 控制台", language: "English", languageLabel: "切换语言",
    signInTitle: "登录", accessKeyId: "AccessKey ID", accessKeySecret: "AccessKey Secret",
    signIn: "登录", signOut: "退出登录",
    signInNote: "Secret 仅以不可导出的密钥保存在本标签页内存中；刷新页面或退出登录即被清除。",
    navJobs: "部署到云产品", navCertificates: "证书", navContacts: "联系人", navResources: "云资源", mainNav: "主导航",
    createTask: "创建任务", refresh: "刷新", search: "搜索", searchLabel: "证书 ID 或任务实例 ID", searchPlaceholder: "12 或 cas-job-user-3",
    status: "状态", type: "类型", all: "全部", name: "名称", certificates: "证书", products: "云产品",
    domains: "域名", scheduled: "计划时间", started: "开始时间", ended: "结束时间", actions: "操作",
    details: "详情", delete: "删除", deleteSelected: "删除所选（{n}）", selectRow: "选择任务 {name}",
    selectAll: "全选本页", confirmBatchDelete: "确定删除 {n} 个任务？此操作不可撤销。",
    confirmDelete: "确定删除任务“{name}”？此操作不可撤销。", confirm: "确定", cancel: "取消",
    noRows: "暂无数据。", page: "第 {page} / {pages} 页（共 {total} 条）", previous: "上一页", next: "下一页",
    loading: "加载中…", errorTitle: "接口返回错误：", requestId: "RequestId",
    "status.editing": "编辑中", "status.pending": "待执行", "status.scheduling": "调度中",
    "status.processing": "部署中", "status.success": "成功", "status.error": "失败", "status.rolled_back": "已回滚",
    "status.rollback": "回滚中", "status.rollback_success": "已回滚", "status.rollback_error": "回滚失败",
    "type.user": "用户任务", "type.cloud": "多云任务", "type.trustee": "托管任务",
    step1: "基本信息", step2: "选择证书", step3: "选择资源", step4: "任务预览", stepOf: "第 {n} 步，共 4 步",
    taskName: "任务名称", contacts: "联系人（最多 10 个）", tooManyContacts: "最多选择 10 个联系人。",
    deployTime: "部署时间", deployNow: "立即部署", customTime: "自定义时间", scheduleTime: "日期和时间",
    scheduleRequired: "请选择日期和时间。", nameRequired: "请输入任务名称。", certRequired: "请至少选择一张证书。",
    back: "上一步", nextStep: "下一步", submit: "提交", certType: "证书类型", "origin.upload": "上传证书",
    "origin.official": "官方证书", oneTypeNote: "一个任务只能部署一种类型的证书：上传证书或官方证书。",
    expires: "到期时间", expired: "已过期", commonName: "绑定域名", syncResources: "刷新资源", matched: "已匹配",
    willGet: "将部署", notMatched: "未匹配", reason: "原因", selectResource: "部署到 {domain}",
    noMatchedResource: "没有与所选证书匹配的资源，无法提交任务。", noResourceSelected: "请至少选择一个已匹配的资源。",
    quotaCost: "本任务消耗额度", quotaLeft: "提交后剩余额度", quotaBought: "已购额度", quotaUsed: "已用额度",
    resourcesPerProduct: "各云产品资源", excluded: "未纳入", product: "云产品", region: "地域", instance: "实例",
    domain: "域名", resource: "资源", certificate: "证书", failureCause: "失败原因", rollBack: "回滚",
    confirmRollback: "确定将 {domain} 回滚到之前的证书？", timeline: "时间线", time: "时间", event: "事件",
    detail: "说明", live: "每 2 秒更新", taskDetails: "任务详情", summary: "概览", upload: "上传证书",
    pastePem: "证书（PEM）", pasteKey: "私钥（PEM）", orFile: "或选择文件", certName: "证书名称",
    uploaded: "已上传证书 {name}。", confirmDeleteCert: "确定删除证书“{name}”？此操作不可撤销。", sans: "域名",
    addContact: "添加联系人", editContact: "编辑联系人", email: "邮箱", mobile: "手机号",
    webhooks: "Webhook（钉钉、企业微信、飞书），每行一个 URL", save: "保存", edit: "编辑",
    confirmDeleteContact: "确定删除联系人“{name}”？", https: "HTTPS", boundCert: "已绑定证书", on: "已开启",
    off: "未开启", allProducts: "全部云产品", count: "{n} 个资源", resourceCount: "资源数",
    syncNote: "云资源由服务端同步（定时任务或 `certdeploy cloud load`）；“刷新”会重新读取。",
    skipToContent: "跳到正文", saved: "已保存。", deleted: "已删除。",
    "event.created": "已创建", "event.edited": "已编辑", "event.back_to_editing": "退回编辑", "event.submitted": "已提交",
    "event.started": "开始部署", "event.retry_scheduled": "已安排重试", "event.worker_succeeded": "资源部署成功",
    "event.worker_failed": "资源部署失败", "event.finished": "已结束", "event.rollback_requested": "已请求回滚",
    "event.rolled_back": "已回滚", "event.rollback_failed": "回滚失败", "event.notification_sent": "已发送通知",
    "event.notification_failed": "通知发送失败", bindingChanges: "各资源当前证书与将部署的证书", nowBound: "当前",
    nothingBound: "无",
    verify: "部署验证", "verify.pending": "验证中", "verify.verified": "已验证", "verify.mismatch": "不一致",
    "verify.unreachable": "无法连接", "verify.skipped": "已跳过", verifyCheck: "第 {n} 次检查",
    verifyServed: "实际返回 {subject}（SHA-256 {fingerprint}，到期 {expires}）",
    "event.verify_checked": "验证检查", "event.stage_started": "阶段开始", "event.stage_passed": "阶段通过",
    "event.halted": "已暂停", "event.resumed": "已恢复",
    stages: "分阶段", stageProgress: "{stages}（最多失败 {max}）；第 {stage} / {count} 阶段",
    stagePlan: "{stages}（最多失败 {max}）", halted: "暂停原因",
  },
};

const STORAGE_KEY = "certdeploy.language";
let language = localStorage.getItem(STORAGE_KEY) || (navigator.language.startsWith("zh") ? "zh" : "en");

export function lang() {
  return language;
}

export function setLang(next) {
  language = next;
  localStorage.setItem(STORAGE_KEY, next);
  document.documentElement.lang = next === "zh" ? "zh-CN" : "en";
}

export function t(key, vars = {}) {
  const text = MESSAGES[language][key] ?? MESSAGES.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

function locale() {
  return language === "zh" ? "zh-CN" : "en-GB";
}

// Epoch milliseconds (a number or the API's decimal text) as a date and time in the browser's time zone; `style`
// is Intl's ("short" in the task list).
export function formatTime(millis, style = "medium") {
  if (millis === undefined || millis === null || millis === "") return "—";
  const value = Number(millis);
  if (!Number.isFinite(value)) return String(millis);
  return new Intl.DateTimeFormat(locale(), { dateStyle: style, timeStyle: style }).format(new Date(value));
}

export function formatDay(text) {
  if (!text) return "—";
  const value = /^\d+$/.test(String(text)) ? new Date(Number(text) * 1000) : new Date(`${text}T00:00:00`);
  return Number.isNaN(value.getTime()) ? String(text) : new Intl.DateTimeFormat(locale(), { dateStyle: "medium" }).format(value);
}

setLang(language);
