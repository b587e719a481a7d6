"""What a job's contacts read: outcome, per-product counts, each failed resource with its cause; escaped; no keys."""

from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from certdeploy.adapters.notify.render import BOT_MAX_FAILURES, render_notification
from certdeploy.domain.models import CertOrigin, Job, Product, Resource, Worker
from certdeploy.domain.notifications import (
    PRIVATE_KEY_REMOVED,
    FailedResource,
    JobReport,
    NotificationEvent,
    ProductCount,
    build_job_report,
)
from certdeploy.domain.states import JobStatus, WorkerStatus
from certdeploy.domain.verification import ServedCertificate, Verification, VerifyStatus

STARTED = datetime(2024, 1, 30, 10, 0, 0, tzinfo=timezone.utc)
FINISHED = datetime(2024, 1, 30, 10, 5, 12, tzinfo=timezone.utc)
KEY_BODY = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg"
PEM_KEY = f"-----BEGIN EC PRIVATE KEY-----\n{KEY_BODY}\n-----END EC PRIVATE KEY-----"


def failed_report(**changes: object) -> JobReport:
    fields: dict[str, object] = {
        "job_id": 7,
        "job_name": "www rotation",
        "event": NotificationEvent.JOB_FINISHED,
        "outcome": JobStatus.ERROR,
        "started_at": STARTED,
        "finished_at": FINISHED,
        "products": (
            ProductCount(product=Product.CDN, total=2, succeeded=2, failed=0),
            ProductCount(product=Product.ALB, total=3, succeeded=1, failed=2),
        ),
        "failures": (
            FailedResource(
                product=Product.ALB,
                region="cn-hangzhou",
                instance_id="alb-1",
                domain="www.example.com",
                error_code="Throttling.User",
                error_message="Request was denied due to user flow control.",
            ),
            FailedResource(product=Product.ALB, region="cn-shanghai", instance_id="alb-2", domain="api.example.com"),
        ),
    }
    fields.update(changes)
    return JobReport.model_validate(fields)


def test_failed_job_text_reads_as_written() -> None:
    # GIVEN a job where two of five resources failed
    # WHEN it is rendered
    rendered = render_notification(failed_report())
    # THEN the wording is exactly this (contacts and their mail filters rely on it staying stable)
    assert rendered.subject == '[certdeploy] Deployment job "www rotation" (ID 7) failed: 2 of 5 resources failed'
    assert rendered.text == (
        'Deployment job "www rotation" (ID 7) failed: 2 of 5 resources failed.\n'
        "\n"
        "Started:   2024-01-30 10:00:00 UTC\n"
        "Finished:  2024-01-30 10:05:12 UTC\n"
        "Resources: 5 total, 3 succeeded, 2 failed\n"
        "\n"
        "By product:\n"
        "  CDN  2 total, 2 succeeded, 0 failed\n"
        "  ALB  3 total, 1 succeeded, 2 failed\n"
        "\n"
        "Failed resources:\n"
        "  - ALB cn-hangzhou alb-1 www.example.com\n"
        "    Cause: Throttling.User: Request was denied due to user flow control.\n"
        "  - ALB cn-shanghai alb-2 api.example.com\n"
        "    Cause: no cause recorded\n"
        "\n"
        "Sent by certdeploy to the contacts of this job.\n"
    )


def test_every_channel_carries_the_counts_and_each_failure_with_its_cause() -> None:
    rendered = render_notification(failed_report())
    for body in (rendered.html, rendered.bot_markdown, "\n".join(rendered.bot_lines)):
        assert "5 total, 3 succeeded, 2 failed" in body
        assert "alb-1" in body and "www.example.com" in body
        assert "Request was denied due to user flow control." in body
        assert "alb-2" in body and "no cause recorded" in body
    assert "<td>ALB</td><td>3</td><td>1</td><td>2</td>" in rendered.html
    assert "ALB: 3 total, 1 succeeded, 2 failed" in rendered.bot_markdown
    assert "ALB: 3 total, 1 succeeded, 2 failed" in rendered.bot_lines


def test_successful_job_says_so_and_lists_no_failures() -> None:
    report = failed_report(
        outcome=JobStatus.SUCCESS,
        products=(ProductCount(product=Product.OSS, total=1, succeeded=1, failed=0),),
        failures=(),
    )
    rendered = render_notification(report)
    assert rendered.subject == '[certdeploy] Deployment job "www rotation" (ID 7) succeeded: 1 resource deployed'
    assert "Failed resources" not in rendered.text
    assert "Failed resources" not in rendered.html
    assert "Failed resources" not in rendered.bot_markdown


def test_job_with_nothing_to_deploy_is_reported_as_failed() -> None:
    rendered = render_notification(failed_report(products=(), failures=()))
    assert rendered.subject.endswith("(ID 7) failed: no resource was deployed")


def test_rollback_report_speaks_of_restoring() -> None:
    report = failed_report(event=NotificationEvent.ROLLBACK_FINISHED, outcome=JobStatus.ROLLED_BACK)
    rendered = render_notification(report)
    assert rendered.subject == (
        '[certdeploy] Rollback of deployment job "www rotation" (ID 7) finished: 2 of 5 resources not restored'
    )
    assert "Resources not restored:" in rendered.text


def test_outcome_must_fit_the_event() -> None:
    with pytest.raises(ValidationError, match="does not go with"):
        failed_report(event=NotificationEvent.ROLLBACK_FINISHED, outcome=JobStatus.PROCESSING)
    with pytest.raises(ValidationError, match="does not go with"):
        failed_report(outcome=JobStatus.PROCESSING)


def test_a_failed_rollback_is_reported_while_the_job_keeps_its_outcome() -> None:
    report = failed_report(event=NotificationEvent.ROLLBACK_FINISHED, outcome=JobStatus.SUCCESS)
    rendered = render_notification(report)
    assert rendered.subject.endswith("finished: 2 of 5 resources not restored")


def test_product_counts_cannot_exceed_their_total() -> None:
    with pytest.raises(ValidationError, match="cannot exceed total"):
        ProductCount(product=Product.CDN, total=1, succeeded=1, failed=1)


def test_malicious_job_name_is_escaped_in_html_and_inert_in_markdown() -> None:
    # GIVEN a job name and a failure cause written to attack the HTML mail and the bot markdown
    name = '<script>alert("x")</script>[win](http://evil.example)'
    failure = FailedResource(
        product=Product.CDN,
        region="cn-hangzhou",
        instance_id="cdn-1",
        domain="<b>www.example.com</b>",
        error_message='<img src=x onerror="steal()">',
    )
    report = failed_report(
        job_name=name,
        products=(ProductCount(product=Product.CDN, total=1, failed=1, succeeded=0),),
        failures=(failure,),
    )
    # WHEN rendered
    rendered = render_notification(report)
    # THEN no tag of theirs survives in the HTML, and the markdown cannot link or inject HTML
    assert "<script>" not in rendered.html and "<img" not in rendered.html and "<b>" not in rendered.html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in rendered.html
    assert "&lt;img src=x onerror=&quot;steal()&quot;&gt;" in rendered.html
    assert "[win](" not in rendered.bot_markdown and "<script>" not in rendered.bot_markdown
    assert r"\[win\](http://evil.example)" in rendered.bot_markdown
    assert r"\<img" in rendered.bot_markdown
    # AND the plain text and the Lark lines (never parsed as markup) show the name as written
    assert name in rendered.text
    assert name in rendered.bot_lines[0]


def test_line_breaks_in_names_cannot_add_header_or_body_lines() -> None:
    rendered = render_notification(failed_report(job_name="ok\r\nBcc: victim@example.com"))
    assert "\r" not in rendered.subject and "\n" not in rendered.subject
    assert not any(line.startswith("Bcc:") for line in rendered.text.splitlines())


def test_private_key_in_a_failure_cause_never_reaches_any_channel() -> None:
    # GIVEN a deployer error that echoed a private key back
    failure = FailedResource(
        product=Product.WAF,
        region="cn-hangzhou",
        instance_id="waf-1",
        domain="www.example.com",
        error_code="InvalidKey",
        error_message=f"key rejected: {PEM_KEY} (check the format)",
    )
    report = failed_report(failures=(failure,))
    # WHEN rendered
    rendered = render_notification(report)
    # THEN no channel carries any part of it, and the reader is told something was removed
    for body in (rendered.subject, rendered.text, rendered.html, rendered.bot_markdown, *rendered.bot_lines):
        assert "PRIVATE KEY" not in body
        assert KEY_BODY not in body
    assert f"key rejected: {PRIVATE_KEY_REMOVED} (check the format)" in rendered.text


def test_a_truncated_key_block_is_removed_too() -> None:
    failure = FailedResource(
        product=Product.WAF,
        region="r",
        instance_id="i",
        domain="d",
        error_message=f"bad: -----BEGIN RSA PRIVATE KEY-----\n{KEY_BODY}",
    )
    assert KEY_BODY not in (failure.error_message or "")


def test_a_report_has_no_place_for_key_material() -> None:
    with pytest.raises(ValidationError, match="private_key"):
        JobReport.model_validate({**failed_report().model_dump(), "private_key": PEM_KEY})


def test_bots_list_the_first_failures_and_count_the_rest() -> None:
    failures = tuple(
        FailedResource(product=Product.CDN, region="r", instance_id=f"cdn-{n:02}", domain=f"d{n}.example.com")
        for n in range(25)
    )
    report = failed_report(
        products=(ProductCount(product=Product.CDN, total=25, succeeded=0, failed=25),), failures=failures
    )
    rendered = render_notification(report)
    assert f"cdn-{BOT_MAX_FAILURES - 1:02}" in rendered.bot_markdown
    assert f"cdn-{BOT_MAX_FAILURES:02}" not in rendered.bot_markdown
    assert "… and 15 more (see the job details)" in rendered.bot_markdown
    assert "… and 15 more (see the job details)" in rendered.bot_lines
    # the email lists every one of them
    assert all(f"cdn-{n:02}" in rendered.text for n in range(25))


def test_long_causes_are_cut() -> None:
    failure = FailedResource(product=Product.CDN, region="r", instance_id="i", domain="d", error_message="x" * 5000)
    assert failure.error_message is not None
    assert len(failure.error_message) == 300 and failure.error_message.endswith("…")


# ------------------------------------------------------------------------------------------- building

NOW = datetime(2024, 1, 30, 11, 0, tzinfo=timezone.utc)


def make_job(status: JobStatus) -> Job:
    return Job(
        id=7,
        account_id=1,
        name="www rotation",
        status=status,
        cert_origin=CertOrigin.UPLOAD,
        cert_ids=(1,),
        start_time=STARTED,
        created_at=STARTED,
        modified_at=STARTED,
    )


def make_resource(resource_id: int, product: Product, instance: str) -> Resource:
    return Resource(
        id=resource_id,
        account_id=1,
        product=product,
        region="cn-hangzhou",
        instance_id=instance,
        domain="a.example.com",
    )


def make_worker(worker_id: int, resource: Resource, status: WorkerStatus, error: str | None = None) -> Worker:
    return Worker(
        id=worker_id,
        job_id=7,
        account_id=1,
        cert_id=1,
        resource_id=resource.id,
        product=resource.product,
        status=status,
        error_code="DeployFailed" if error else None,
        error_message=error,
        created_at=STARTED,
        modified_at=STARTED,
    )


RESOURCES = {
    1: make_resource(1, Product.ALB, "alb-1"),
    2: make_resource(2, Product.CDN, "cdn-1"),
    3: make_resource(3, Product.CDN, "cdn-2"),
}


def test_job_report_counts_workers_per_product_and_lists_the_failed_ones() -> None:
    workers = [
        make_worker(1, RESOURCES[1], WorkerStatus.SUCCESS),
        make_worker(2, RESOURCES[2], WorkerStatus.ERROR, "listener gone"),
        make_worker(3, RESOURCES[3], WorkerStatus.SUCCESS),
    ]
    report = build_job_report(make_job(JobStatus.ERROR), workers, RESOURCES, NotificationEvent.JOB_FINISHED, NOW)
    # products in the CAS product order (ALB before CDN), whatever the worker order
    assert [(c.product, c.total, c.succeeded, c.failed) for c in report.products] == [
        (Product.ALB, 1, 1, 0),
        (Product.CDN, 2, 1, 1),
    ]
    assert [(f.instance_id, f.error_code, f.error_message) for f in report.failures] == [
        ("cdn-1", "DeployFailed", "listener gone")
    ]
    assert (report.started_at, report.finished_at, report.outcome) == (STARTED, NOW, JobStatus.ERROR)


def test_rollback_report_counts_only_rolled_back_workers() -> None:
    workers = [
        make_worker(1, RESOURCES[1], WorkerStatus.ROLLBACK_SUCCESS),
        make_worker(2, RESOURCES[2], WorkerStatus.ROLLBACK_ERROR, "previous certificate deleted"),
        make_worker(3, RESOURCES[3], WorkerStatus.SUCCESS),
    ]
    job = make_job(JobStatus.ROLLED_BACK)
    report = build_job_report(job, workers, RESOURCES, NotificationEvent.ROLLBACK_FINISHED, NOW)
    assert [(c.product, c.total, c.succeeded, c.failed) for c in report.products] == [
        (Product.ALB, 1, 1, 0),
        (Product.CDN, 1, 0, 1),
    ]
    assert [f.error_message for f in report.failures] == ["previous certificate deleted"]


def test_failed_worker_whose_resource_is_gone_is_still_reported() -> None:
    worker = make_worker(9, make_resource(99, Product.NLB, "nlb-9"), WorkerStatus.ERROR, "not found")
    report = build_job_report(make_job(JobStatus.ERROR), [worker], {}, NotificationEvent.JOB_FINISHED, NOW)
    assert [(f.product, f.instance_id, f.error_message) for f in report.failures] == [
        (Product.NLB, "resource 99", "not found")
    ]


# ----------------------------------------------------------------------------------------- verification


def verification(worker_id: int, status: VerifyStatus, detail: str | None = None, **served: object) -> Verification:
    return Verification(
        worker_id=worker_id,
        job_id=7,
        account_id=1,
        status=status,
        checks=1,
        detail=detail,
        served=ServedCertificate.model_validate(served) if served else None,
    )


def verified_report() -> JobReport:
    """A successful job of three resources: one verified, one serving another certificate, one unreachable."""
    workers = [make_worker(worker_id, RESOURCES[worker_id], WorkerStatus.SUCCESS) for worker_id in (1, 2, 3)]
    verifications = {
        1: verification(1, VerifyStatus.VERIFIED),
        2: verification(
            2,
            VerifyStatus.MISMATCH,
            "another certificate is served",
            subject="CN=<old>.example.com",
            fingerprint_sha256="AB:CD",
            not_after=FINISHED,
        ),
        3: verification(3, VerifyStatus.UNREACHABLE, "connection refused"),
    }
    job = make_job(JobStatus.SUCCESS)
    return build_job_report(job, workers, RESOURCES, NotificationEvent.JOB_FINISHED, NOW, verifications)


def test_the_email_lists_each_resources_verification_with_what_was_served_or_why() -> None:
    rendered = render_notification(verified_report())
    assert rendered.text.endswith(
        "Verification of what each resource serves:\n"
        "  - ALB cn-hangzhou alb-1 a.example.com\n"
        "    Verify: verified\n"
        "  - CDN cn-hangzhou cdn-1 a.example.com\n"
        "    Verify: mismatch: another certificate is served: CN=<old>.example.com, SHA-256 AB:CD, "
        "expires 2024-01-30 10:05:12 UTC\n"
        "  - CDN cn-hangzhou cdn-2 a.example.com\n"
        "    Verify: unreachable: connection refused\n"
        "\n"
        "Sent by certdeploy to the contacts of this job.\n"
    )
    assert (
        "<tr><td>CDN</td><td>cn-hangzhou</td><td>cdn-1</td><td>a.example.com</td><td>mismatch: another certificate "
        "is served: CN=&lt;old&gt;.example.com, SHA-256 AB:CD, expires 2024-01-30 10:05:12 UTC</td></tr>"
    ) in rendered.html
    assert "<td>verified</td>" in rendered.html and "<td>unreachable: connection refused</td>" in rendered.html


def test_bots_count_verifications_by_status_and_list_those_not_verified() -> None:
    rendered = render_notification(verified_report())
    assert rendered.bot_lines[-5:] == (
        "CDN: 2 total, 2 succeeded, 0 failed",
        "Verification: 1 verified, 1 mismatch, 1 unreachable",
        "Resources not verified:",
        "CDN cn-hangzhou cdn-1 a.example.com: mismatch: another certificate is served: CN=<old>.example.com, "
        "SHA-256 AB:CD, expires 2024-01-30 10:05:12 UTC",
        "CDN cn-hangzhou cdn-2 a.example.com: unreachable: connection refused",
    )
    assert "- Verification: 1 verified, 1 mismatch, 1 unreachable" in rendered.bot_markdown
    assert "**Resources not verified**" in rendered.bot_markdown
    assert r"CN=\<old\>.example.com" in rendered.bot_markdown  # inert in markdown
    assert "alb-1" not in rendered.bot_markdown.split("**Resources not verified**")[1]


def test_a_skipped_verification_gives_its_reason_and_a_rollback_report_lists_none() -> None:
    worker = make_worker(1, RESOURCES[1], WorkerStatus.SUCCESS)
    skipped = {1: verification(1, VerifyStatus.SKIPPED, "no concrete name under *.example.com")}
    finished = build_job_report(
        make_job(JobStatus.SUCCESS), [worker], RESOURCES, NotificationEvent.JOB_FINISHED, NOW, skipped
    )
    assert "Verify: skipped: no concrete name under *.example.com" in render_notification(finished).text

    rolled_back = make_worker(1, RESOURCES[1], WorkerStatus.ROLLBACK_SUCCESS)
    job = make_job(JobStatus.ROLLED_BACK)
    report = build_job_report(job, [rolled_back], RESOURCES, NotificationEvent.ROLLBACK_FINISHED, NOW, skipped)
    assert report.verifications == ()
    assert "Verif" not in render_notification(report).text


def test_without_verification_the_report_is_as_before() -> None:
    workers = [make_worker(1, RESOURCES[1], WorkerStatus.SUCCESS)]
    job = make_job(JobStatus.SUCCESS)
    plain = render_notification(build_job_report(job, workers, RESOURCES, NotificationEvent.JOB_FINISHED, NOW))
    empty = render_notification(build_job_report(job, workers, RESOURCES, NotificationEvent.JOB_FINISHED, NOW, {}))
    assert plain == empty
    for body in (plain.text, plain.html, plain.bot_markdown, "\n".join(plain.bot_lines)):
        assert "Verif" not in body
