"""The API's error type and the CAS error body.

The SDK (`alibabacloud_tea_openapi` 0.4.6, `do_request`) raises `ClientException` for any status 400–499 and
`ServerException` for 500–599, reading `Code`, `Message` and `RequestId` from the JSON body (docs/protocol.md#errors).
So: 400 for a caller's mistake, 404 for something that does not exist (the gateway answers `InvalidApi.NotFound` with
404, docs/protocol.md#error-codes), 500 only for our own faults. Never 4xx with an `x-acs-retry-after` header: the SDK
would turn that into a `ThrottlingException`.
"""

from __future__ import annotations

import uuid

from certdeploy.domain.errors import DomainError, NotFound

BAD_REQUEST = 400
NOT_FOUND = 404
INTERNAL_SERVER_ERROR = 500


class ApiError(Exception):
    """An error answered to the caller: HTTP status, CAS `Code` and `Message`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def new_request_id() -> str:
    """A `RequestId` in the gateway's shape: an upper-case UUID."""
    return str(uuid.uuid4()).upper()


def error_body(error: ApiError, *, request_id: str, host_id: str) -> dict[str, str]:
    """The JSON object of an Alibaba Cloud RPC error reply (docs/protocol.md#errors)."""
    return {"RequestId": request_id, "HostId": host_id, "Code": error.code, "Message": error.message}


def missing_parameter(name: str) -> ApiError:
    # Code and wording from the client error table of the POP gateway (help.aliyun.com/document_detail/51132.html).
    return ApiError(
        BAD_REQUEST,
        "MissingParameter",
        f"The input parameter {name} that is mandatory for processing this request is not supplied.",
    )


def invalid_parameter(name: str, reason: str) -> ApiError:
    """`InvalidParameter.<Name>`, the shape `certdeploy.domain.errors.InvalidParameter` uses too."""
    return ApiError(BAD_REQUEST, f"InvalidParameter.{name}", f"The parameter {name} is invalid: {reason}")


def invalid_api(action: str, version: str) -> ApiError:
    return ApiError(NOT_FOUND, "InvalidApi.NotFound", f"Specified api {action} of version {version} is not found.")


def internal_error() -> ApiError:
    """Our fault; the message says nothing about why, the log does."""
    return ApiError(
        INTERNAL_SERVER_ERROR,
        "InternalError",
        "The request processing has failed due to some unknown error, exception or failure.",
    )


def api_error_from_domain(error: DomainError) -> ApiError:
    """A domain rule broken by the caller: 404 when the thing does not exist for this account, else 400.

    `NotFound` covers other accounts' things as well (docs/decisions.md#tenancy); a CAS code of the `<Thing>.NotFound`
    family (e.g. `InvalidCertId.NotFound`, docs/protocol.md#error-codes) raised through the base class is treated alike.
    """
    not_found = isinstance(error, NotFound) or error.code == "NotFound" or error.code.endswith(".NotFound")
    return ApiError(NOT_FOUND if not_found else BAD_REQUEST, error.code, error.message)
