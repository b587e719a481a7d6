"""What a job's contacts are told when it finishes or a rollback completes, and how it reads on each channel.

Pure: a `JobReport` goes in, a `RenderedNotification` (email subject, text and HTML bodies, bot markdown and bot
lines) comes out. Everything user-controlled is escaped for the format it lands in, and a private key can never get
in: the report has no field for one, and PEM private-key blocks in error messages are cut out on the way in.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from certdeploy.domain.models import Job, Product, Resource, UtcDatetime, Worker
from certdeploy.domain.states import JobStatus, WorkerStatus
from certdeploy.domain.text_enum import TextEnum

# Bots render a short message: the first few failures, then a count of the rest.
BOT_MAX_FAILURES = 10
# A failure cause longer than this is cut; the full cause stays in the job details.
MAX_ERROR_MESSAGE_CHARS = 300
PRIVATE_KEY_REMOVED = "[private key removed]"
# SMS template variables are short: a longer job name is cut (the job ID identifies it anyway).
SMS_MAX_JOB_NAME_CHARS = 20

_PRIVATE_KEY_BLOCK = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.DOTALL
)
_CONTROL_RUN = re.compile(r"[\x00-\x1f\x7f]+")
# CommonMark punctuation that could turn a name into a link, an image, emphasis, code or an HTML tag
# (every line we write starts with our own marker, so line-start syntax such as `#` cannot trigger).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>])")
_PRODUCT_ORDER = {product: index for index, product in enumerate(Product)}


class NotificationEvent(TextEnum):
    JOB_FINISHED = "job_finished"
    ROLLBACK_FINISHED = "rollback_finished"


_OUTCOMES_BY_EVENT: dict[NotificationEvent, frozenset[JobStatus]] = {
    NotificationEvent.JOB_FINISHED: frozenset({JobStatus.SUCCESS, JobStatus.ERROR}),
    # A rollback that failed leaves the job as it ended; the report then lists the resources not restored.
    NotificationEvent.ROLLBACK_FINISHED: frozenset({JobStatus.ROLLED_BACK, JobStatus.SUCCESS, JobStatus.ERROR}),
}


def _remove_private_keys(text: str) -> str:
    return _PRIVATE_KEY_BLOCK.sub(PRIVATE_KEY_REMOVED, text)


def _one_line(text: str) -> str:
    """Control characters (CR/LF included) become one space: nothing user-controlled can start a new line."""
    return _CONTROL_RUN.sub(" ", text).strip()


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProductCount(_Model):
    """How one product's resources fared in the event: deployments for `job_finished`, restores for a rollback."""

    product: Product
    total: int = Field(ge=0)
    succeeded: int = Field(ge=0)
    failed: int = Field(ge=0)

    @model_validator(mode="after")
    def _fits_total(self) -> ProductCount:
        if self.succeeded + self.failed > self.total:
            raise ValueError("succeeded + failed cannot exceed total")
        return self


class FailedResource(_Model):
    """One resource that failed, with its cause as recorded on the worker."""

    product: Product
    region: str
    instance_id: str
    domain: str
    error_code: str | None = None
    error_message: str | None = None

    @field_validator("region", "instance_id", "domain", "error_code")
    @classmethod
    def _single_line(cls, value: str | None) -> str | None:
        return None if value is None else _one_line(_remove_private_keys(value))

    @field_validator("error_message")
    @classmethod
    def _safe_cause(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return _cut(_one_line(_remove_private_keys(value)), MAX_ERROR_MESSAGE_CHARS)


class JobReport(_Model):
    """Everything a notification says about one event of one job. No certificate or key material."""

    job_id: int
    job_name: str
    event: NotificationEvent
    outcome: JobStatus
    started_at: UtcDatetime | None = None
    finished_at: UtcDatetime | None = None
    products: tuple[ProductCount, ...] = ()
    failures: tuple[FailedResource, ...] = ()

    @field_validator("job_name")
    @classmethod
    def _single_line_name(cls, value: str) -> str:
        return _one_line(value)

    @model_validator(mode="after")
    def _outcome_fits_event(self) -> JobReport:
        if self.outcome not in _OUTCOMES_BY_EVENT[self.event]:
            raise ValueError(f"outcome '{self.outcome}' does not go with event '{self.event}'")
        return self

    @property
    def total(self) -> int:
        return sum(count.total for count in self.products)

    @property
    def succeeded(self) -> int:
        return sum(count.succeeded for count in self.products)

    @property
    def failed(self) -> int:
        return sum(count.failed for count in self.products)


class RenderedNotification(_Model):
    """One report, written out for every channel."""

    subject: str = Field(description="email subject: one line")
    text: str = Field(description="plain-text email body")
    html: str = Field(description="HTML email body; every user-controlled value escaped")
    bot_title: str = Field(description="short title for bots (DingTalk markdown title, Lark post title)")
    bot_markdown: str = Field(description="short markdown for DingTalk and WeCom; user-controlled values escaped")
    bot_lines: tuple[str, ...] = Field(description="the same short message as plain lines (Lark post)")
    sms_parameters: dict[str, str] = Field(description="the SMS template's variables (`render_sms_parameters`)")


# ----------------------------------------------------------------------------------------- building


def build_job_report(
    job: Job,
    workers: Iterable[Worker],
    resources: Mapping[int, Resource],
    event: NotificationEvent,
    finished_at: datetime | None,
) -> JobReport:
    """Summarise a finished job (or its completed rollback) from its workers and their resources.

    For `job_finished` every worker counts, succeeded = `success`, failed = `error`. For `rollback_finished` only
    workers a rollback was run for count, succeeded = `rollback_success`, failed = `rollback_error`.
    """
    if event is NotificationEvent.JOB_FINISHED:
        succeeded_status, failed_status = WorkerStatus.SUCCESS, WorkerStatus.ERROR
        counted = list(workers)
    else:
        succeeded_status, failed_status = WorkerStatus.ROLLBACK_SUCCESS, WorkerStatus.ROLLBACK_ERROR
        rollback_statuses = {WorkerStatus.ROLLBACK, WorkerStatus.ROLLBACK_SUCCESS, WorkerStatus.ROLLBACK_ERROR}
        counted = [worker for worker in workers if worker.status in rollback_statuses]

    tallies: dict[Product, list[int]] = {}
    failures: list[FailedResource] = []
    for worker in counted:
        tally = tallies.setdefault(worker.product, [0, 0, 0])
        tally[0] += 1
        if worker.status is succeeded_status:
            tally[1] += 1
        elif worker.status is failed_status:
            tally[2] += 1
            failures.append(_failed_resource(worker, resources.get(worker.resource_id)))

    products = tuple(
        ProductCount(product=product, total=total, succeeded=succeeded, failed=failed)
        for product, (total, succeeded, failed) in sorted(tallies.items(), key=lambda item: _PRODUCT_ORDER[item[0]])
    )
    failures.sort(key=lambda failure: (_PRODUCT_ORDER[failure.product], failure.region, failure.instance_id))
    return JobReport(
        job_id=job.id,
        job_name=job.name,
        event=event,
        outcome=job.status,
        started_at=job.start_time,
        finished_at=finished_at,
        products=products,
        failures=tuple(failures),
    )


def _failed_resource(worker: Worker, resource: Resource | None) -> FailedResource:
    unknown = "(unknown)"
    return FailedResource(
        product=worker.product,
        region=resource.region if resource else unknown,
        instance_id=resource.instance_id if resource else f"resource {worker.resource_id}",
        domain=resource.domain if resource else worker.resource_domain or unknown,
        error_code=worker.error_code,
        error_message=worker.error_message,
    )


# ---------------------------------------------------------------------------------------- rendering


def _headline(report: JobReport) -> str:
    """The sentence everything starts with, e.g. `Deployment job "www" (ID 7) failed: 2 of 5 resources failed.`"""
    job = f'"{report.job_name}" (ID {report.job_id})'
    if report.event is NotificationEvent.ROLLBACK_FINISHED:
        if report.failed:
            return f"Rollback of deployment job {job} finished: {_of(report.failed, report.total)} not restored."
        return f"Rollback of deployment job {job} finished: {_resources(report.total)} restored."
    if report.outcome is JobStatus.SUCCESS:
        return f"Deployment job {job} succeeded: {_resources(report.total)} deployed."
    if report.total == 0:
        return f"Deployment job {job} failed: no resource was deployed."
    return f"Deployment job {job} failed: {_of(report.failed, report.total)} failed."


def _resources(count: int) -> str:
    return f"{count} resource" if count == 1 else f"{count} resources"


def _of(part: int, total: int) -> str:
    return f"{part} of {_resources(total)}"


def _subject(report: JobReport) -> str:
    return "[certdeploy] " + _headline(report).rstrip(".")


def _time(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


def _counts(count: ProductCount | JobReport) -> str:
    return f"{count.total} total, {count.succeeded} succeeded, {count.failed} failed"


def _cause(failure: FailedResource) -> str:
    parts = [part for part in (failure.error_code, failure.error_message) if part]
    return ": ".join(parts) if parts else "no cause recorded"


def _where(failure: FailedResource) -> str:
    return f"{failure.product} {failure.region} {failure.instance_id} {failure.domain}"


def _failures_title(report: JobReport) -> str:
    return "Resources not restored" if report.event is NotificationEvent.ROLLBACK_FINISHED else "Failed resources"


def render_text(report: JobReport) -> str:
    lines = [
        _headline(report),
        "",
        f"Started:   {_time(report.started_at)}",
        f"Finished:  {_time(report.finished_at)}",
        f"Resources: {_counts(report)}",
    ]
    if report.products:
        width = max(len(str(count.product)) for count in report.products)
        lines += ["", "By product:"]
        lines += [f"  {count.product!s:<{width}}  {_counts(count)}" for count in report.products]
    if report.failures:
        lines += ["", f"{_failures_title(report)}:"]
        for failure in report.failures:
            lines += [f"  - {_where(failure)}", f"    Cause: {_cause(failure)}"]
    lines += ["", "Sent by certdeploy to the contacts of this job."]
    return "\n".join(lines) + "\n"


def render_html(report: JobReport) -> str:
    def esc(value: object) -> str:
        return html.escape(str(value), quote=True)

    parts = [
        "<!DOCTYPE html>",
        f'<html><head><meta charset="utf-8"><title>{esc(_subject(report))}</title></head><body>',
        f"<p><strong>{esc(_headline(report))}</strong></p>",
        "<table>",
        f'<tr><th align="left">Started</th><td>{esc(_time(report.started_at))}</td></tr>',
        f'<tr><th align="left">Finished</th><td>{esc(_time(report.finished_at))}</td></tr>',
        f'<tr><th align="left">Resources</th><td>{esc(_counts(report))}</td></tr>',
        "</table>",
    ]
    if report.products:
        parts += [
            "<h3>By product</h3>",
            "<table><tr><th>Product</th><th>Total</th><th>Succeeded</th><th>Failed</th></tr>",
        ]
        parts += [
            f"<tr><td>{esc(c.product)}</td><td>{c.total}</td><td>{c.succeeded}</td><td>{c.failed}</td></tr>"
            for c in report.products
        ]
        parts.append("</table>")
    if report.failures:
        parts += [
            f"<h3>{esc(_failures_title(report))}</h3>",
            "<table><tr><th>Product</th><th>Region</th><th>Instance</th><th>Domain</th><th>Cause</th></tr>",
        ]
        parts += [
            f"<tr><td>{esc(f.product)}</td><td>{esc(f.region)}</td><td>{esc(f.instance_id)}</td>"
            f"<td>{esc(f.domain)}</td><td>{esc(_cause(f))}</td></tr>"
            for f in report.failures
        ]
        parts.append("</table>")
    parts += ["<p>Sent by certdeploy to the contacts of this job.</p>", "</body></html>"]
    return "\n".join(parts) + "\n"


def _markdown_escape(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _bot_sections(report: JobReport, escape: bool) -> tuple[list[str], list[str]]:
    """The short message as (summary lines, failure lines); at most BOT_MAX_FAILURES failures are listed."""

    def put(value: object) -> str:
        return _markdown_escape(str(value)) if escape else str(value)

    summary = [f"Resources: {_counts(report)}"]
    summary += [f"{put(c.product)}: {_counts(c)}" for c in report.products]
    shown = report.failures[:BOT_MAX_FAILURES]
    failures = [f"{put(_where(f))}: {put(_cause(f))}" for f in shown]
    if len(report.failures) > len(shown):
        failures.append(f"… and {len(report.failures) - len(shown)} more (see the job details)")
    return summary, failures


def render_bot_markdown(report: JobReport) -> str:
    summary, failures = _bot_sections(report, escape=True)
    lines = [f"### {_markdown_escape(_headline(report))}", "", *(f"- {line}" for line in summary)]
    if failures:
        lines += ["", f"**{_failures_title(report)}**", "", *(f"- {line}" for line in failures)]
    return "\n".join(lines)


def _bot_lines(report: JobReport) -> tuple[str, ...]:
    summary, failures = _bot_sections(report, escape=False)
    if failures:
        return (_headline(report), *summary, f"{_failures_title(report)}:", *failures)
    return (_headline(report), *summary)


def _sms_result(report: JobReport) -> str:
    if report.event is NotificationEvent.ROLLBACK_FINISHED:
        return "rollback failed" if report.failed else "rolled back"
    return "succeeded" if report.outcome is JobStatus.SUCCESS else "failed"


def render_sms_parameters(report: JobReport) -> dict[str, str]:
    """The variables of the operator's SMS template: `${job}` (job name, at most SMS_MAX_JOB_NAME_CHARS), `${job_no}`
    (job ID), `${result}` (succeeded, failed, rolled back, rollback failed), `${total}`, `${succeeded}`, `${failed}`
    (resource counts, as in the email).

    Every value is a string: Dysmsapi answers numbers with isv.INVALID_JSON_PARAM ("JSON参数接受字符串值", Aliyun's
    error table as copied at https://jmcad.top/forum.php?mod=redirect&tid=4028). No variable is called `id`: template
    variables may not be named email, mobile, id, nick or site (SMS user manual, copy at
    https://help-w.com/aliyunqi/1500844962_zh.html)."""
    return {
        "job": _cut(report.job_name, SMS_MAX_JOB_NAME_CHARS),
        "job_no": str(report.job_id),
        "result": _sms_result(report),
        "total": str(report.total),
        "succeeded": str(report.succeeded),
        "failed": str(report.failed),
    }


def render_notification(report: JobReport) -> RenderedNotification:
    return RenderedNotification(
        subject=_subject(report),
        text=render_text(report),
        html=render_html(report),
        bot_title=_cut(_headline(report), 120),
        bot_markdown=render_bot_markdown(report),
        bot_lines=_bot_lines(report),
        sms_parameters=render_sms_parameters(report),
    )
