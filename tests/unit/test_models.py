"""Domain models refuse what CAS refuses: unknown products, too many contacts, naive times, empty jobs."""

from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from certdeploy.domain.models import (
    LISTENER_PRODUCTS,
    MAX_CONTACTS_PER_JOB,
    SM_PRODUCTS,
    CertOrigin,
    Job,
    Product,
    Resource,
)
from certdeploy.domain.states import JobStatus

NOW = datetime(2026, 11, 28, tzinfo=timezone.utc)


def _job(**overrides: object) -> Job:
    fields: dict[str, object] = {
        "id": 1,
        "account_id": 1,
        "name": "rollout",
        "cert_origin": CertOrigin.UPLOAD,
        "cert_ids": (1,),
        "created_at": NOW,
        "modified_at": NOW,
    }
    return Job.model_validate({**fields, **overrides})


def test_the_twelve_product_codes_are_the_cas_ones() -> None:
    assert [p.value for p in Product] == [
        "SAE",
        "MSE",
        "APIGateway",
        "GA",
        "FC",
        "OSS",
        "WAF",
        "ALB",
        "NLB",
        "CDN",
        "DCDN",
        "DDOS",
    ]
    assert {p.value for p in SM_PRODUCTS} == {"CDN", "DCDN", "DDOS"}
    assert {p.value for p in LISTENER_PRODUCTS} == {"ALB", "NLB", "GA"}


def test_an_unknown_product_code_is_refused() -> None:
    with pytest.raises(ValidationError):
        Resource(id=1, account_id=1, product="SLB", region="cn-hangzhou", instance_id="i", domain="a.example.com")


def test_a_new_job_is_editing() -> None:
    assert _job().status is JobStatus.EDITING


def test_a_job_takes_up_to_ten_contacts() -> None:
    assert len(_job(contact_ids=tuple(range(MAX_CONTACTS_PER_JOB))).contact_ids) == 10
    with pytest.raises(ValidationError, match="at most 10"):
        _job(contact_ids=tuple(range(11)))


def test_a_job_needs_a_certificate_and_a_name() -> None:
    with pytest.raises(ValidationError):
        _job(cert_ids=())
    with pytest.raises(ValidationError):
        _job(name="")


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValidationError, match="timezone-aware"):
        _job(created_at=datetime(2026, 11, 28))


def test_official_and_uploaded_origins() -> None:
    assert CertOrigin.BUY.is_official and CertOrigin.FREE.is_official
    assert not CertOrigin.UPLOAD.is_official


def test_models_are_immutable() -> None:
    with pytest.raises(ValidationError):
        _job().status = JobStatus.PENDING  # type: ignore[misc]
