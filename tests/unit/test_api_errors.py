"""CAS error bodies and the HTTP status each domain error is answered with."""

from __future__ import annotations

import re

import pytest

from certdeploy.api.errors import ApiError, api_error_from_domain, error_body, internal_error, new_request_id
from certdeploy.domain.errors import (
    DomainError,
    InvalidParameter,
    InvalidStatus,
    KeyMismatch,
    NotFound,
    QuotaExceeded,
    Thing,
)


def test_error_body_has_exactly_the_gateway_fields() -> None:
    body = error_body(ApiError(400, "InvalidParameter", "bad"), request_id="E1", host_id="cas.aliyuncs.com")

    assert body == {"RequestId": "E1", "HostId": "cas.aliyuncs.com", "Code": "InvalidParameter", "Message": "bad"}


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (NotFound.of(Thing.JOB, 5), 404, "NotFound"),
        (NotFound.of(Thing.CERTIFICATE, 5), 404, "InvalidCertId.NotFound"),
        (DomainError("no such resource", code="InvalidResourceId.NotFound"), 404, "InvalidResourceId.NotFound"),
        (InvalidParameter("JobType", "must be user or cloud"), 400, "InvalidParameter.JobType"),
        (InvalidStatus("job is processing"), 400, "InvalidStatus"),
        (QuotaExceeded("needs 3, has 1"), 400, "QuotaExceeded"),
        (KeyMismatch("key does not belong to the certificate"), 400, "KeyNotMatchCert"),
    ],
)
def test_domain_errors_are_caller_errors_and_not_found_is_404(error: DomainError, status: int, code: str) -> None:
    api_error = api_error_from_domain(error)

    assert (api_error.status, api_error.code, api_error.message) == (status, code, error.message)


def test_internal_error_is_a_500_that_says_nothing_specific() -> None:
    error = internal_error()

    assert (error.status, error.code) == (500, "InternalError")


def test_request_ids_are_unique_upper_case_uuids() -> None:
    first, second = new_request_id(), new_request_id()

    assert first != second
    assert re.fullmatch(r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}", first)
