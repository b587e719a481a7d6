"""Verification of what a resource serves after a deployment: the rules, with no I/O.

A check reads the chain a resource serves for a name (TLS with SNI); `domain/served_chain.py` judges it. The
statuses, the job option on mismatches, the names checked and the re-check schedule are here, free of `cryptography`
(every function loads this module; only the checks need the judgement). Products that propagate slowly are checked
again after each delay of the schedule before a mismatch or an unreachable resource is final.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from certdeploy.domain.models import Product, UtcDatetime
from certdeploy.domain.text_enum import TextEnum


class VerifyStatus(TextEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    MISMATCH = "mismatch"
    UNREACHABLE = "unreachable"
    SKIPPED = "skipped"


class VerifyMismatch(TextEnum):
    """What a final mismatch does (the job option `VerifyMismatch`)."""

    REPORT = "report"
    FAIL = "fail"
    ROLLBACK = "rollback"

    @property
    def holds_worker(self) -> bool:
        """Whether the worker waits for its verification before it ends (it may still fail)."""
        return self is not VerifyMismatch.REPORT


# CDN edges, OSS and WAF/GA/Anti-DDoS points of presence take minutes to serve a new certificate everywhere.
SLOW_PRODUCTS: frozenset[Product] = frozenset(
    {Product.CDN, Product.DCDN, Product.OSS, Product.WAF, Product.GA, Product.DDOS}
)
DEFAULT_RECHECK_SECONDS: tuple[int, ...] = (30, 120, 600)


class ServedCertificate(BaseModel):
    """What a resource served instead of the job's certificate."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    fingerprint_sha256: str
    subject: str
    not_after: UtcDatetime


class Verification(BaseModel):
    """One worker's verification, as it stands after its last check."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    worker_id: int
    job_id: int
    account_id: int
    status: VerifyStatus
    checks: int = Field(0, ge=0, description="checks made so far")
    server_name: str | None = Field(None, description="the SNI name checked")
    detail: str | None = Field(None, description="why: the error, the reason skipped, or what did not match")
    served: ServedCertificate | None = None
    checked_at: UtcDatetime | None = None

    @property
    def final(self) -> bool:
        return self.status is not VerifyStatus.PENDING


class Judgement(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    status: VerifyStatus
    detail: str | None = None
    served: ServedCertificate | None = None


def concrete_name(resource_domain: str, certificate_names: Sequence[str]) -> str | None:
    """The name to send as SNI for a resource's domain: the domain itself, or for a wildcard domain (`*.example.com`)
    one concrete name of the certificate it covers (`www.example.com`); None when the job knows none."""
    if not resource_domain.startswith("*."):
        return resource_domain
    suffix = resource_domain[1:].lower()
    for name in certificate_names:
        label, _, rest = name.lower().partition(".")
        if label and label != "*" and f".{rest}" == suffix:
            return name.lower()
    return None


def next_recheck(product: Product, checks_done: int, schedule: Sequence[int]) -> int | None:
    """Seconds until the next check of a resource whose last check was not `verified`; None when it is final."""
    if product not in SLOW_PRODUCTS or checks_done > len(schedule):
        return None
    return schedule[checks_done - 1]
