"""FC 2.0 custom domains (FC API 2016-08-15) through `aliyun-fc2`, for `FcDeployer`.

The endpoint is `https://<account id>.<region>.fc.aliyuncs.com` (the account id from `FcDeployer`).

- `GetCustomDomain` (`GET /2016-08-15/custom-domains/<domain>`) answers the domain.
- `UpdateCustomDomain` (`PUT /2016-08-15/custom-domains/<domain>`) with `protocol`, `certConfig` and the online
  `routeConfig` sent back unchanged, as the fc3 tooling does (get → merge → put), because FC does not document that a
  PUT without it keeps the routes. The 2.0 API takes the protocols `HTTP` and `HTTP,HTTPS` only (UpdateCustomDomain
  reference, https://www.alibabacloud.com/help/doc-detail/191168.htm); it has no `tlsConfig` nor `wafConfig`.

Errors: FC answers `{"ErrorCode", "ErrorMessage"}` with an HTTP status (FC error codes page). 5xx, 429
`ResourceExhausted`, 499 `ClientClosedRequest`, `ConcurrentUpdateError`, throttling codes and network failures are
transient; every other FC error is permanent with FC's code and message. fc2 logs a failed request with its headers
(STS token, signature): a filter on the root logger withholds them.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from certdeploy.adapters.cloud.common import ApiTarget, CloudCredentials, is_transient_code
from certdeploy.adapters.cloud.fc3_domains import TRANSIENT_FC_CODES
from certdeploy.domain.deployment import DeployFailed, PermanentDeployFailure, TransientDeployFailure
from certdeploy.domain.models import Resource

if TYPE_CHECKING:
    import fc2

FC2_API_VERSION = "2016-08-15"
ACCOUNT_ID_VARIABLE = "FC_ACCOUNT_ID"
_TRANSIENT_STATUSES = frozenset({429, 499})

_Result = TypeVar("_Result")
# fc2 logs every failed request with its headers (`logging.error(... Request headers: {...})` on the root logger in
# `Client._do_request`), and those carry the STS token and the signature; its debug records (string to sign, headers)
# carry the same.
_LOGGED_HEADERS = re.compile(r"([Hh]eaders: )\{[^}]*\}")


class _WithholdFc2Headers(logging.Filter):
    """Drops fc2's debug records and rewrites its others without headers; every other record passes untouched."""

    def __init__(self, fc2_directory: str) -> None:
        super().__init__()
        self._fc2_directory = fc2_directory

    def filter(self, record: logging.LogRecord) -> bool:
        if record.pathname.startswith(self._fc2_directory):
            if record.levelno < logging.WARNING:
                return False
            record.msg = _LOGGED_HEADERS.sub(r"\1{withheld}", record.getMessage())
            record.args = ()
        return True


def _withhold_fc2_headers_from_logs() -> None:
    import fc2

    root = logging.getLogger()
    if not any(isinstance(existing, _WithholdFc2Headers) for existing in root.filters):
        root.addFilter(_WithholdFc2Headers(os.path.dirname(fc2.__file__)))


class Fc2CustomDomains:
    """Reads and updates custom domains through the FC 2.0 API."""

    def __init__(self, credentials: CloudCredentials, target: ApiTarget, account_id: str | None) -> None:
        self._credentials = credentials
        self._target = target
        self._account_id = account_id

    def get_domain(self, resource: Resource) -> dict[str, Any]:
        client = self._client(resource)
        response = _call(lambda: client.get_custom_domain(resource.domain))
        if not isinstance(response.data, dict):
            raise TransientDeployFailure("BadResponse", "FC answered a custom domain that is not a JSON object.")
        return response.data

    def update_domain(
        self, resource: Resource, read: Mapping[str, Any], *, protocol: str, cert_config: dict[str, str] | None
    ) -> None:
        """UpdateCustomDomain with `protocol`, `cert_config` (None: not sent) and the `routeConfig` of `read`."""
        client = self._client(resource)
        route_config = read.get("routeConfig") or None
        _call(
            lambda: client.update_custom_domain(
                resource.domain, protocol=protocol, routeConfig=route_config, certConfig=cert_config
            )
        )

    def _client(self, resource: Resource) -> fc2.Client:
        import fc2

        _withhold_fc2_headers_from_logs()
        token = self._credentials.security_token
        return fc2.Client(
            endpoint=self._endpoint(resource.region),
            accessKeyID=self._credentials.access_key_id,
            accessKeySecret=self._credentials.access_key_secret.get_secret_value(),
            securityToken=token.get_secret_value() if token is not None else "",
            # requests applies one timeout to the connect and to each read.
            Timeout=max(self._target.connect_timeout_ms, self._target.read_timeout_ms) / 1000,
        )

    def _endpoint(self, region: str) -> str:
        if self._target.endpoint:
            return f"{self._target.protocol}://{self._target.endpoint}"
        if not self._account_id:
            raise PermanentDeployFailure(
                "MissingAccountId",
                f"The FC 2.0 endpoint needs the account id: set {ACCOUNT_ID_VARIABLE} (FC sets it in every function).",
            )
        return f"{self._target.protocol}://{self._account_id}.{region}.fc.aliyuncs.com"


def _call(operation: Callable[[], _Result]) -> _Result:
    """Run one fc2 call, turning its errors into deploy failures (never chained: the request may hold the key)."""
    import fc2
    import requests

    try:
        return operation()
    except DeployFailed:
        raise
    except fc2.FcError as error:
        raise _fc_failure(error) from None
    except requests.exceptions.JSONDecodeError:
        raise TransientDeployFailure("BadResponse", "FC answered with something that is not JSON.") from None
    except requests.exceptions.Timeout as error:
        raise TransientDeployFailure("Timeout", f"FC did not answer in time ({type(error).__name__}).") from None
    except requests.exceptions.RequestException as error:
        # fc2 retries connection errors and 500/502/504 itself (5 times with backoff) before raising these.
        raise TransientDeployFailure("ConnectionError", f"FC could not be reached ({type(error).__name__}).") from None


def _fc_failure(error: fc2.FcError) -> DeployFailed:
    try:
        body = json.loads(error.message)
    except (TypeError, ValueError):
        body = {}
    body = body if isinstance(body, dict) else {}
    code = str(error.err_code or body.get("ErrorCode") or body.get("errorCode") or "UnknownError")
    message = str(body.get("ErrorMessage") or body.get("errorMessage") or f"FC answered HTTP {error.status_code}")
    request_id = error.request_id or body.get("RequestId")
    if request_id and request_id != "unknown":
        message = f"{message} (RequestId {request_id})"
    status = error.status_code if isinstance(error.status_code, int) else 0
    transient = status >= 500 or status in _TRANSIENT_STATUSES or code in TRANSIENT_FC_CODES or is_transient_code(code)
    return TransientDeployFailure(code, message) if transient else PermanentDeployFailure(code, message)
