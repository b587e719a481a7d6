"""EventBridge: a certificate was issued -> a hosted job deploys it where it renews one already deployed.

Two deliveries reach it: the CloudEvent itself (the EventBridge rule) and the same CloudEvent as the body of a message
on the certificate-issued queue (what UploadUserCertificate sends, through the queue's trigger).
"""

from __future__ import annotations

from typing import Any

from certdeploy.fc.function import consume_certificate_issued, container_for, initialize

__all__ = ["handler", "initialize"]


def handler(event: bytes, context: Any) -> str:
    handled = consume_certificate_issued(container_for(context), event)
    return "ok" if handled == 1 else f"handled {handled} message(s)"
