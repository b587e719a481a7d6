"""What every cloud deployer shares: credentials, how to reach a product's API, and how SDK errors become
`TransientDeployFailure` / `PermanentDeployFailure`.

Stable interface (other deployers build on it):
- `CloudCredentials(access_key_id, access_key_secret: SecretStr, security_token: SecretStr | None)`,
  `.from_environment(environ=os.environ)`, `.from_fc_context(context, environ=os.environ)`.
- `ApiTarget(endpoint=None, protocol="https", connect_timeout_ms=5000, read_timeout_ms=10000,
  cas_region="cn-hangzhou")`: `endpoint=None` lets the product SDK pick its endpoint for the region; tests set
  `endpoint="127.0.0.1:PORT", protocol="http"`. `cas_region` is the CAS region of the account's site (cn-hangzhou:
  China site, ap-southeast-1: international site, as CDN SetCdnDomainSSLCertificate's `CertRegion` reference and SDK
  model give them): products take a CAS certificate as `<id>-<cas_region>` (`.cas_identifier(id)`) or with
  `CertRegion`.
- `tea_config(credentials, region, target) -> alibabacloud_tea_openapi.models.Config` (imports the Tea SDK lazily).
- `classify_sdk_error(error, transient_codes) -> DeployFailed | None` and the context manager
  `sdk_errors(what, transient_codes)`, which turns any SDK failure raised inside it into a
  Transient/PermanentDeployFailure carrying the product's code and message. `transient_codes` is the product's own
  table of codes worth retrying (a busy resource, an operation in progress), kept in the product's module beside the
  source that lists them.
- `RegionalClients(build)`: one SDK client per region, built on first use.
- `DeployerFactory = Callable[[CloudCredentials, ApiTarget], Deployer]`: what every product deployer class is.

Errors are re-raised `from None`: a Tea error's chain can hold the failed request (the SDK's `UnretryableException`
keeps it, and a requests error message repeats the URL with its query), and some product APIs carry the private key in
the query string. The code and message we build never include request parameters.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from threading import Lock
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from certdeploy.domain.deployment import DeployFailed, PermanentDeployFailure, TransientDeployFailure

if TYPE_CHECKING:
    from alibabacloud_tea_openapi.models import Config

    from certdeploy.ports.cloud import Deployer

ACCESS_KEY_ID_VARIABLE = "ALIBABA_CLOUD_ACCESS_KEY_ID"
ACCESS_KEY_SECRET_VARIABLE = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
SECURITY_TOKEN_VARIABLE = "ALIBABA_CLOUD_SECURITY_TOKEN"
CHINA_CAS_REGION = "cn-hangzhou"
INTERNATIONAL_CAS_REGION = "ap-southeast-1"

# Codes the OpenAPI gateway and products use for "try again later" (flow control, overload, a product's own busy
# state). Any code containing "Throttling" counts too (Throttling.User, Throttling.Api, Rejected.Throttling, …), as the
# Terraform provider's NeedRetry reads it (terraform-provider-alicloud alicloud/errors.go).
TRANSIENT_CODES = frozenset(
    {
        "ServiceUnavailable",
        "ServiceUnavailableTemporary",
        "InternalError",
        "InternalServerError",
        "SystemBusy",
        "System.Busy",
        "SystemError",
        "Busy",
        "LastOperationNotFinished",
        "OperationConflict",
        "ConcurrentOperation",
        "RequestTimeout",
        "Throttling",
    }
)


class CloudCredentials(BaseModel):
    """An AccessKey, optionally with an STS token (a function role's credentials are always STS)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    access_key_id: str = Field(min_length=1)
    access_key_secret: SecretStr
    security_token: SecretStr | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> CloudCredentials:
        """From `ALIBABA_CLOUD_ACCESS_KEY_ID`, `…_SECRET` and optional `…_SECURITY_TOKEN` (what FC sets for the
        function role on every runtime; python3.12 has no `context.credentials`, see docs/runtime.md#credentials)."""
        values = os.environ if environ is None else environ
        access_key_id = values.get(ACCESS_KEY_ID_VARIABLE, "")
        secret = values.get(ACCESS_KEY_SECRET_VARIABLE, "")
        if not access_key_id or not secret:
            raise ValueError(
                f"cloud credentials are missing: set {ACCESS_KEY_ID_VARIABLE} and {ACCESS_KEY_SECRET_VARIABLE} "
                f"(and {SECURITY_TOKEN_VARIABLE} for STS), or give the function a role"
            )
        token = values.get(SECURITY_TOKEN_VARIABLE) or None
        return cls(
            access_key_id=access_key_id,
            access_key_secret=SecretStr(secret),
            security_token=SecretStr(token) if token else None,
        )

    @classmethod
    def from_fc_context(cls, context: Any, environ: Mapping[str, str] | None = None) -> CloudCredentials:
        """From the FC context's `credentials` (python3.10: access_key_id, access_key_secret, security_token), else
        from the environment."""
        given = getattr(context, "credentials", None)
        access_key_id = getattr(given, "access_key_id", None)
        secret = getattr(given, "access_key_secret", None)
        if access_key_id and secret:
            token = getattr(given, "security_token", None)
            return cls(
                access_key_id=access_key_id,
                access_key_secret=SecretStr(secret),
                security_token=SecretStr(token) if token else None,
            )
        return cls.from_environment(environ)


class ApiTarget(BaseModel):
    """How to reach one product's API. No endpoint: the SDK's own endpoint for the resource's region."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    endpoint: str | None = None
    protocol: Literal["https", "http"] = "https"
    connect_timeout_ms: int = Field(5_000, ge=1)
    read_timeout_ms: int = Field(10_000, ge=1)
    cas_region: Literal["cn-hangzhou", "ap-southeast-1"] = CHINA_CAS_REGION

    def cas_identifier(self, cas_cert_id: int) -> str:
        """How products name a CAS certificate of this site: `<id>-<cas_region>`."""
        return f"{cas_cert_id}-{self.cas_region}"


def tea_config(credentials: CloudCredentials, region: str, target: ApiTarget) -> Config:
    """A Tea OpenAPI client configuration for one region (the product client derives its endpoint from it)."""
    from alibabacloud_tea_openapi.models import Config

    token = credentials.security_token
    return Config(
        access_key_id=credentials.access_key_id,
        access_key_secret=credentials.access_key_secret.get_secret_value(),
        security_token=token.get_secret_value() if token is not None else None,
        region_id=region,
        endpoint=target.endpoint,
        protocol=target.protocol,
        connect_timeout=target.connect_timeout_ms,
        read_timeout=target.read_timeout_ms,
    )


_Client = TypeVar("_Client")


class RegionalClients(Generic[_Client]):
    """One SDK client per region, built on first use (clients keep a connection pool, so they are reused)."""

    def __init__(self, build: Callable[[str], _Client]) -> None:
        self._build = build
        self._clients: dict[str, _Client] = {}
        self._lock = Lock()

    def for_region(self, region: str) -> _Client:
        with self._lock:
            client = self._clients.get(region)
            if client is None:
                client = self._clients[region] = self._build(region)
            return client


def is_transient_code(code: str, product_codes: frozenset[str] = frozenset()) -> bool:
    """Whether `code` means "try again later", generally or (`product_codes`) for one product."""
    return code in TRANSIENT_CODES or code in product_codes or "Throttling" in code


def classify_sdk_error(error: BaseException, transient_codes: frozenset[str] = frozenset()) -> DeployFailed | None:
    """The deploy failure an SDK or network error stands for (`transient_codes`: the product's own retryable codes);
    None for anything else (a bug: let it propagate)."""
    failure = _classify_network(error)
    if failure is not None:
        return failure
    from darabonba.exceptions import RetryError as DaraRetryError
    from darabonba.exceptions import ValidateException as DaraValidateException
    from Tea.exceptions import RetryError, TeaException, UnretryableException, ValidateException

    if isinstance(error, UnretryableException) and error.inner_exception is not None:
        inner = classify_sdk_error(error.inner_exception, transient_codes)
        if inner is not None:
            return inner
    if isinstance(error, (RetryError, DaraRetryError)):
        # The SDK turns any I/O error of the HTTP exchange into a RetryError raised while handling it: the cause is in
        # the context. Its text repeats the URL (query included), so it is never shown.
        cause = error.__cause__ or error.__context__
        found = _classify_network(cause) if cause is not None else None
        return found or TransientDeployFailure("ConnectionError", "The product API could not be reached.")
    if isinstance(error, TeaException):
        return _classify_tea(error, transient_codes)
    if isinstance(error, (ValidateException, DaraValidateException)):
        # The SDK refused our own request before sending it: retrying the same request cannot help.
        return PermanentDeployFailure("InvalidParameter", f"The request was refused by the SDK: {error}")
    return None


@contextmanager
def sdk_errors(what: str, transient_codes: frozenset[str] = frozenset()) -> Iterator[None]:
    """Turn SDK and network errors raised inside into deploy failures; `what` names the call for the message of
    errors that carry none (timeouts, refused connections), `transient_codes` are the product's retryable codes."""
    try:
        yield
    except DeployFailed:
        raise
    except Exception as error:
        failure = classify_sdk_error(error, transient_codes)
        if failure is None:
            raise
        if not failure.message:
            failure = type(failure)(failure.code, f"{what} failed")
        raise failure from None


def _classify_tea(error: Any, transient_codes: frozenset[str]) -> DeployFailed:
    from alibabacloud_tea_openapi.exceptions import ServerException, ThrottlingException

    data = error.data if isinstance(error.data, dict) else {}
    code = str(data.get("Code") or data.get("code") or error.code or "UnknownError")
    # The SDK rewrites `message` as "code: 400, <product message> request id: …"; the product's own words are in data.
    message = str(data.get("Message") or data.get("message") or error.message or "")
    request_id = data.get("RequestId") or data.get("requestId")
    if request_id:
        message = f"{message} (RequestId {request_id})"
    status = getattr(error, "status_code", None) or data.get("statusCode")
    transient = (
        isinstance(error, (ThrottlingException, ServerException))
        or is_transient_code(code, transient_codes)
        or (isinstance(status, int) and (status >= 500 or status == 429))
    )
    # Everything else (ClientException: not found, invalid certificate, forbidden, …) will fail the same way again.
    return TransientDeployFailure(code, message) if transient else PermanentDeployFailure(code, message)


def _classify_network(error: BaseException) -> DeployFailed | None:
    """Timeouts and connection failures from requests/urllib3 (what the Tea SDK uses) or the socket layer."""
    import requests
    import urllib3.exceptions

    timeouts = (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError, socket.timeout, TimeoutError)
    if isinstance(error, timeouts):
        return TransientDeployFailure("Timeout", f"The product API did not answer in time ({type(error).__name__}).")
    connection_errors = (
        requests.exceptions.ConnectionError,
        urllib3.exceptions.HTTPError,
        ConnectionError,
    )
    if isinstance(error, connection_errors):
        return TransientDeployFailure(
            "ConnectionError", f"The product API could not be reached ({type(error).__name__})."
        )
    return None


DeployerFactory = Callable[[CloudCredentials, ApiTarget], "Deployer"]
