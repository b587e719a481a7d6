"""What the notifier contract tests share: the notification they send and the TLS setup of their local servers."""

from __future__ import annotations

import ssl
from datetime import datetime, timezone
from pathlib import Path

from certdeploy.adapters.notify import RenderedNotification
from certdeploy.adapters.notify.render import render_notification
from certdeploy.domain.models import Product
from certdeploy.domain.notifications import (
    FailedResource,
    JobReport,
    NotificationEvent,
    ProductCount,
)
from certdeploy.domain.states import JobStatus
from tests.certgen import GeneratedCert


def failed_job_notification(job_name: str) -> RenderedNotification:
    """Job 42 `job_name` finished in error: one of its two CDN resources was throttled."""
    report = JobReport(
        job_id=42,
        job_name=job_name,
        event=NotificationEvent.JOB_FINISHED,
        outcome=JobStatus.ERROR,
        started_at=datetime(2024, 1, 30, 10, 0, tzinfo=timezone.utc),
        finished_at=datetime(2024, 1, 30, 10, 5, tzinfo=timezone.utc),
        products=(ProductCount(product=Product.CDN, total=2, succeeded=1, failed=1),),
        failures=(
            FailedResource(
                product=Product.CDN,
                region="cn-hangzhou",
                instance_id="cdn-1",
                domain="www.example.com",
                error_code="Throttling",
                error_message="slow down",
            ),
        ),
    )
    return render_notification(report)


def server_tls_context(site: GeneratedCert, folder: Path) -> ssl.SSLContext:
    """A TLS server context presenting `site` with its chain (the ssl module loads them from files, kept in
    `folder`)."""
    (folder / "cert.pem").write_text(site.chain_pem)
    (folder / "key.pem").write_text(site.key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context
