"""A `JobReport` written out for every channel: email subject, text and HTML bodies, bot markdown and lines, SMS.
Where the job's resources were verified, the email lists each resource's verification and the bots count them by
status and list those not verified; the SMS says nothing of it.

The wording and layout are the Jinja2 templates beside this module (`templates/`). Everything a user controls is
escaped for the format it lands in, by the environment rendering it rather than by each template:
- HTML (`*.html.j2`): every `{{ value }}` gets the standard library's entities (`&quot;`, `&#x27;`);
- bot markdown (`*.md.j2`): every `{{ value }}` gets a backslash before CommonMark punctuation that could make a
  link, an image, emphasis, code or an HTML tag (every line we write starts with our own marker, so line-start syntax
  such as `#` cannot trigger);
- plain text (`*.txt.j2`): as written; the report's fields are single lines already (`certdeploy.domain.notifications`).
Both escaping environments autoescape, with `Markup` meaning "already escaped for this format": what a macro returns
is not escaped twice, and a value that skipped our escaping would still get markupsafe's.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template
from markupsafe import Markup

from certdeploy.adapters.notify import RenderedNotification
from certdeploy.domain.notifications import (
    FailedResource,
    JobReport,
    NotificationEvent,
    ProductCount,
    VerifiedResource,
    shorten,
)
from certdeploy.domain.states import JobStatus
from certdeploy.domain.verification import VerifyStatus

# Bots render a short message: the first few failures, then a count of the rest.
BOT_MAX_FAILURES = 10
BOT_MAX_TITLE_CHARS = 120
# SMS template variables are short: a longer job name is cut (the job ID identifies it anyway).
SMS_MAX_JOB_NAME_CHARS = 20

_TEMPLATES = Path(__file__).with_name("templates")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>])")


def _markdown_escape(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _escaping(escape: Callable[[str], str]) -> Callable[[object], Markup]:
    """A `finalize` escaping each value output once; `Markup` (a macro's output) is escaped already."""

    def finalize(value: object) -> Markup:
        return value if isinstance(value, Markup) else Markup(escape(str(value)))

    return finalize


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


def _counts(count: ProductCount | JobReport) -> str:
    return f"{count.total} total, {count.succeeded} succeeded, {count.failed} failed"


def _cause(failure: FailedResource) -> str:
    parts = [part for part in (failure.error_code, failure.error_message) if part]
    return ": ".join(parts) if parts else "no cause recorded"


def _where(resource: FailedResource | VerifiedResource) -> str:
    return f"{resource.product} {resource.region} {resource.instance_id} {resource.domain}"


def _verify_note(verified: VerifiedResource) -> str:
    """The status, then why, then on a mismatch the certificate served, e.g. `mismatch: another certificate is
    served: CN=old.example.com, SHA-256 AB:…, expires 2025-01-01 00:00:00 UTC`."""
    served = (
        f"{verified.served_subject}, SHA-256 {verified.served_fingerprint}, expires {_when(verified.served_not_after)}"
        if verified.served_subject
        else None
    )
    why = ": ".join(part for part in (verified.detail, served) if part)
    return f"{verified.status}: {why}" if why else str(verified.status)


def _environment(escape: Callable[[str], str] | None) -> Environment:
    """Templates rendered with `escape` applied once to every value they output (`None`: as written)."""
    environment = Environment(
        loader=FileSystemLoader(_TEMPLATES),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=escape is not None,
        finalize=_escaping(escape) if escape else None,
    )
    environment.filters.update(when=_when, counts=_counts, cause=_cause, where=_where, verify_note=_verify_note)
    environment.globals.update(NotificationEvent=NotificationEvent, JobStatus=JobStatus)
    return environment


_HTML = _environment(html.escape)
_MARKDOWN = _environment(_markdown_escape)
_TEXT = _environment(None)


def _template(name: str) -> Template:
    environment = _HTML if name.endswith(".html.j2") else _MARKDOWN if name.endswith(".md.j2") else _TEXT
    return environment.get_template(name)


def _lines(name: str, **context: object) -> list[str]:
    """A template whose every line is one line of the message (the last one ends with a newline too)."""
    return _template(name).render(**context).removesuffix("\n").split("\n")


def render_sms_parameters(report: JobReport) -> dict[str, str]:
    """The variables of the operator's SMS template: `${job}` (job name, at most SMS_MAX_JOB_NAME_CHARS), `${job_no}`
    (job ID), `${result}` (succeeded, failed, rolled back, rollback failed), `${total}`, `${succeeded}`, `${failed}`
    (resource counts, as in the email).

    Every value is a string: Dysmsapi answers numbers with isv.INVALID_JSON_PARAM ("JSON参数接受字符串值", Aliyun's
    error table as copied at https://jmcad.top/forum.php?mod=redirect&tid=4028). No variable is called `id`: template
    variables may not be named email, mobile, id, nick or site (SMS user manual, copy at
    https://help-w.com/aliyunqi/1500844962_zh.html)."""
    return {
        "job": shorten(report.job_name, SMS_MAX_JOB_NAME_CHARS),
        "job_no": str(report.job_id),
        "result": _template("sms_result.txt.j2").render(report=report).strip(),
        "total": str(report.total),
        "succeeded": str(report.succeeded),
        "failed": str(report.failed),
    }


def _verify_counts(report: JobReport) -> str:
    """How many resources ended in each verification status, e.g. `2 verified, 1 mismatch`; empty without any."""
    counts = Counter(item.status for item in report.verifications)
    return ", ".join(f"{counts[status]} {status}" for status in VerifyStatus if counts[status])


def render_notification(report: JobReport) -> RenderedNotification:
    (headline,) = _lines("headline.txt.j2", report=report)
    shown = report.failures[:BOT_MAX_FAILURES]
    # Bots list the verifications that did not verify (the count of each status says the rest).
    unverified = [item for item in report.verifications if item.status is not VerifyStatus.VERIFIED]
    context = {
        "report": report,
        "headline": headline,
        "subject": "[certdeploy] " + headline.rstrip("."),
        "bot_failures": shown,
        "bot_more": len(report.failures) - len(shown),
        "verify_counts": _verify_counts(report),
        "bot_unverified": unverified[:BOT_MAX_FAILURES],
        "bot_unverified_more": max(len(unverified) - BOT_MAX_FAILURES, 0),
    }
    return RenderedNotification(
        subject=context["subject"],
        text=_template("email.txt.j2").render(context),
        html=_template("email.html.j2").render(context),
        bot_title=shorten(headline, BOT_MAX_TITLE_CHARS),
        bot_markdown="\n".join(_lines("bot.md.j2", **context)),
        bot_lines=tuple(_lines("bot_lines.txt.j2", **context)),
        sms_parameters=render_sms_parameters(report),
    )
