"""Function Compute deployer: the certificate of an FC custom domain, through `aliyun-fc2` (FC API 2016-08-15).

A resource is one custom domain: its name is `resource.domain` (FC names a custom domain by the domain itself, and
CAS lists FC resources without an instance id). The endpoint is `https://<account id>.<region>.fc.aliyuncs.com`;
the account id comes from the constructor or the `FC_ACCOUNT_ID` variable FC sets in every function.

How each call maps to FC (docs/runtime.md#fc-custom-domains):
- read: `GetCustomDomain`. The domain serves a certificate when its protocol includes HTTPS and it has a `certConfig`;
  the binding records the certificate's name, its SHA-256 fingerprint and the protocol.
- bind: `UpdateCustomDomain` with `certConfig` (name, PEM certificate, PEM key: FC takes no CAS certificate id). The
  online `routeConfig` is sent back unchanged, as the fc3 tooling does (get → merge → put), because FC does not
  document that a PUT without it keeps the routes. The protocol is kept when it already includes HTTPS; an HTTP-only
  domain becomes `HTTP,HTTPS` (a certificate on a domain that serves no HTTPS would change nothing, and plain HTTP
  keeps working). Binding the certificate the domain already serves (same fingerprint) makes no write.
- restore: FC never returns a private key, so a previous certificate cannot be put back from what FC tells us.
  What can be restored: "no certificate" (the domain served HTTP only before: its protocol is set back), and a
  binding the domain still serves (nothing to do). Anything else fails with `PreviousCertificateUnavailable`; when
  the previous certificate is one of certdeploy's own (`binding.cert_id`), the caller binds it again with `bind`.

Errors: FC answers `{"ErrorCode", "ErrorMessage"}` with an HTTP status (FC error codes page). 5xx, 429
`ResourceExhausted`, 499 `ClientClosedRequest`, `ConcurrentUpdateError` ("update one after another"), throttling
codes and network failures are transient; every other FC error is permanent with FC's code and message. fc2 logs a
failed request with its headers (STS token, signature): a filter on the root logger withholds them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from certdeploy.adapters.cloud.common import ApiTarget, CloudCredentials, is_transient_code
from certdeploy.domain.deployment import (
    Binding,
    DeployableCertificate,
    DeployFailed,
    PermanentDeployFailure,
    TransientDeployFailure,
)
from certdeploy.domain.models import Resource

if TYPE_CHECKING:
    import fc2

ACCOUNT_ID_VARIABLE = "FC_ACCOUNT_ID"
HTTP_ONLY = "HTTP"
HTTP_AND_HTTPS = "HTTP,HTTPS"
# Binding details (name, value) pairs.
PROTOCOL = "protocol"
CERTIFICATE_SHA256 = "certificate_sha256"
# FC codes that mean "try again later" besides 5xx (FC error codes page: 409 ConcurrentUpdateError "update them one
# after another", 429 ResourceExhausted, 499 ClientClosedRequest, 503 ResourceThrottled).
_TRANSIENT_FC_CODES = frozenset(
    {"ConcurrentUpdateError", "ResourceExhausted", "ClientClosedRequest", "ResourceThrottled"}
)
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


class FcDeployer:
    """The `Deployer` of FC custom domains."""

    def __init__(
        self,
        credentials: CloudCredentials,
        target: ApiTarget | None = None,
        *,
        account_id: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._credentials = credentials
        self._target = target or ApiTarget()
        values = os.environ if environ is None else environ
        self._account_id = account_id or values.get(ACCOUNT_ID_VARIABLE) or None

    def current_binding(self, resource: Resource) -> Binding:
        return _binding(resource.domain, self._get_domain(resource))

    def bind(self, resource: Resource, certificate: DeployableCertificate) -> None:
        domain = self._get_domain(resource)
        if _serves_https(domain) and _fingerprint(_cert_config(domain).get("certificate")) == _fingerprint(
            certificate.cert_pem
        ):
            return
        protocol = str(domain.get("protocol") or HTTP_ONLY)
        cert_config = {
            "certName": certificate.name,
            "certificate": certificate.cert_pem,
            "privateKey": certificate.key_pem.get_secret_value(),
        }
        self._update_domain(
            resource,
            protocol=protocol if "HTTPS" in protocol else HTTP_AND_HTTPS,
            route_config=domain.get("routeConfig"),
            cert_config=cert_config,
        )

    def restore(self, resource: Resource, binding: Binding) -> None:
        domain = self._get_domain(resource)
        current = _binding(resource.domain, domain)
        if binding.is_empty:
            if current.is_empty:
                return
            # FC cannot unset a certConfig (the SDK sends only non-empty fields): serving HTTP only is what "no
            # certificate" means for a custom domain (HTTPS needs one), and such a domain reads back as unbound.
            self._update_domain(resource, protocol=HTTP_ONLY, route_config=domain.get("routeConfig"), cert_config=None)
            return
        previous_fingerprint = binding.detail(CERTIFICATE_SHA256)
        if previous_fingerprint is not None and previous_fingerprint == current.detail(CERTIFICATE_SHA256):
            return
        ours = f" (certdeploy certificate {binding.cert_id}: bind it again)" if binding.cert_id is not None else ""
        raise PermanentDeployFailure(
            "PreviousCertificateUnavailable",
            f"FC does not return the private key of a custom domain's certificate, so the certificate "
            f"'{binding.cert_name}' that {resource.domain} served before cannot be put back{ours}.",
        )

    # ------------------------------------------------------------------ FC calls

    def _get_domain(self, resource: Resource) -> dict[str, Any]:
        client = self._client(resource)
        response = _call(lambda: client.get_custom_domain(resource.domain))
        return _as_domain(response.data)

    def _update_domain(
        self,
        resource: Resource,
        *,
        protocol: str,
        route_config: Any,
        cert_config: dict[str, str] | None,
    ) -> None:
        client = self._client(resource)
        _call(
            lambda: client.update_custom_domain(
                resource.domain, protocol=protocol, routeConfig=route_config or None, certConfig=cert_config
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
                f"The FC endpoint needs the account id: set {ACCOUNT_ID_VARIABLE} (FC sets it in every function).",
            )
        return f"{self._target.protocol}://{self._account_id}.{region}.fc.aliyuncs.com"


def _binding(domain_name: str, domain: Mapping[str, Any]) -> Binding:
    protocol = str(domain.get("protocol") or HTTP_ONLY)
    if not _serves_https(domain):
        return Binding(domain=domain_name, details=((PROTOCOL, protocol),))
    cert_config = _cert_config(domain)
    fingerprint = _fingerprint(cert_config.get("certificate"))
    details = ((CERTIFICATE_SHA256, fingerprint),) if fingerprint else ()
    return Binding(
        cert_name=str(cert_config.get("certName") or "") or None,
        domain=domain_name,
        details=(*details, (PROTOCOL, protocol)),
    )


def _serves_https(domain: Mapping[str, Any]) -> bool:
    cert_config = _cert_config(domain)
    return "HTTPS" in str(domain.get("protocol") or "") and bool(
        cert_config.get("certName") or cert_config.get("certificate")
    )


def _cert_config(domain: Mapping[str, Any]) -> Mapping[str, Any]:
    cert_config = domain.get("certConfig")
    return cert_config if isinstance(cert_config, dict) else {}


def _fingerprint(cert_pem: Any) -> str | None:
    """SHA-256 of the leaf certificate (DER), or of the text when it is not a PEM certificate."""
    if not isinstance(cert_pem, str) or not cert_pem.strip():
        return None
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    try:
        leaf = x509.load_pem_x509_certificate(cert_pem.strip().encode("ascii"))
    except ValueError:
        return hashlib.sha256("".join(cert_pem.split()).encode("utf-8")).hexdigest()
    return leaf.fingerprint(hashes.SHA256()).hex()


def _as_domain(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise TransientDeployFailure("BadResponse", "FC answered a custom domain that is not a JSON object.")
    return data


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
    transient = status >= 500 or status in _TRANSIENT_STATUSES or code in _TRANSIENT_FC_CODES or is_transient_code(code)
    return TransientDeployFailure(code, message) if transient else PermanentDeployFailure(code, message)
