"""A small Function Compute server speaking the FC 2016-08-15 REST protocol of `aliyun-fc2` 2.5.2, for tests.

Only custom domains are served (GetCustomDomain, UpdateCustomDomain; docs/runtime.md#fc-custom-domains), with what the
real service does that a deployer relies on:
- Every request is authenticated as FC does it (docs/runtime.md#fc-custom-domains, `fc2/auth.py`): `authorization: FC
  <AccessKeyID>:
  Base64(HMAC-SHA256(secret, METHOD\\nContent-MD5\\nContent-Type\\nDate\\n<sorted x-fc-* headers><path>))`, the `date`
  within 15 minutes, and the `x-fc-security-token` header when the server was given an STS token.
- A PUT changes only the fields its body carries (the SDK sends only the non-empty ones); a `certConfig` needs a name,
  a PEM certificate and the private key of that certificate; `HTTPS` in `protocol` needs a certificate. The protocol
  is `HTTP` or `HTTP,HTTPS`, the only values of the 2016-08-15 UpdateCustomDomain reference
  (https://www.alibabacloud.com/help/doc-detail/191168.htm): `HTTPS` alone, which an FC 3.0 domain may have, is
  refused with `InvalidArgument`.
- The domains are those of the account's region, which the FC 3.0 API of `tests.servers.fc3_server` serves as well
  (`state()`); a domain records the API version it was created with (`apiVersion`).
- Reads never return the private key (docs/runtime.md#fc-custom-domains; the official test sees `certConfig.privateKey`
  None).
- Errors answer FC's body `{"ErrorCode", "ErrorMessage"}` with the `X-Fc-Request-Id` header.

`fail_next(operation, ...)` makes the next N calls of `GetCustomDomain` or `UpdateCustomDomain` fail without effect;
`calls` records every authenticated call (the private key in a recorded body is replaced by `REDACTED`).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.servers.loopback import CloudApiTestServer, LoopbackRequestHandler, ServiceError

API_VERSION = "2016-08-15"
GET_CUSTOM_DOMAIN = "GetCustomDomain"
UPDATE_CUSTOM_DOMAIN = "UpdateCustomDomain"
MAX_CLOCK_SKEW_SECONDS = 15 * 60
REDACTED = "REDACTED"
_DOMAIN_PATH = re.compile(rf"/{API_VERSION}/custom-domains/(?P<domain>[^/]+)")


class FcApiError(ServiceError):
    """An FC error answer."""


@dataclass(frozen=True)
class FcCall:
    operation: str
    method: str
    path: str
    body: dict[str, Any] | None
    headers: dict[str, str]  # names lower-cased
    status: int


def fc_signature(access_key_secret: str, method: str, headers: Mapping[str, str], path: str) -> str:
    """`fc2/auth.py` `Auth.sign_request` for a request without signed queries (every custom-domain call)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    fc_headers = "".join(f"{name}:{lowered[name]}\n" for name in sorted(lowered) if name.startswith("x-fc-"))
    string_to_sign = "\n".join(
        [method.upper(), lowered.get("content-md5", ""), lowered.get("content-type", ""), lowered.get("date", "")]
    )
    string_to_sign += "\n" + fc_headers + path
    digest = hmac.new(access_key_secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def cert_config_problem(cert_config: Mapping[str, Any]) -> str | None:
    """Why a `certConfig` (certName, certificate, privateKey) cannot be served, or None when it can."""
    name, cert_pem, key_pem = (cert_config.get(part) for part in ("certName", "certificate", "privateKey"))
    if not (name and cert_pem and key_pem):
        return "certConfig needs certName, certificate and privateKey"
    problem = key_pair_problem(cert_pem, key_pem)
    return None if problem is None else f"certConfig is invalid: {problem}"


def key_pair_problem(cert_pem: str, key_pem: str) -> str | None:
    """Why a PEM certificate and private key cannot be served together, or None when they can."""
    try:
        certificate = x509.load_pem_x509_certificate(cert_pem.encode("ascii"))
    except ValueError:
        return "the certificate is not a PEM X.509 certificate"
    try:
        private_key = serialization.load_pem_private_key(key_pem.encode("ascii"), password=None)
    except (ValueError, TypeError):
        return "the private key is not an unencrypted PEM private key"
    public = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if private_key.public_key().public_bytes(*public) != certificate.public_key().public_bytes(*public):
        return "the private key does not match the certificate"
    return None


def reply(handler: LoopbackRequestHandler, fc: Fc2TestServer) -> None:
    """Answer the request `handler` holds as `fc` does."""
    status, answer = fc.answer(handler.command, handler.path, handler.lowered_headers(), handler.read_body())
    headers = {"Content-Type": "application/json", "X-Fc-Request-Id": str(uuid.uuid4())}
    handler.send_reply(status, json.dumps(answer).encode("utf-8"), headers)


class _Handler(LoopbackRequestHandler):
    def serve(self) -> None:
        reply(self, self.server.test_server)


class Fc2TestServer(CloudApiTestServer[FcCall, FcApiError]):
    """FC custom domains on 127.0.0.1 (ephemeral port) once started; `endpoint` is what `fc2.Client` takes."""

    handler_class = _Handler
    thread_name = "fc2-test-server"

    def __init__(
        self,
        *,
        access_key_id: str = "LTAI-fc-test",
        access_key_secret: str = "fc-test-secret",
        security_token: str | None = None,
    ) -> None:
        super().__init__(
            access_key_id=access_key_id,
            access_key_secret=access_key_secret,
            security_token=security_token,
            operation_of=lambda call: call.operation,
        )
        self._domains: dict[str, dict[str, Any]] = {}
        self._private_keys: dict[str, str] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ state

    def add_domain(
        self,
        domain_name: str,
        *,
        protocol: str = "HTTP,HTTPS",
        routes: list[dict[str, str]] | None = None,
        certificate: tuple[str, str, str] | None = None,
        api_version: str = API_VERSION,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        """A custom domain; `certificate` is (certName, certificate PEM, private key PEM), `api_version` the API it
        was created with, `settings` more blocks of an FC 3.0 domain (`tlsConfig`, `wafConfig`, `authConfig`)."""
        now = _fc_time()
        domain: dict[str, Any] = {
            "domainName": domain_name,
            "accountId": "1234567890123456",
            "apiVersion": api_version,
            "protocol": protocol,
            "routeConfig": {"routes": routes or [{"path": "/*", "serviceName": "svc", "functionName": "fn"}]},
            "createdTime": now,
            "lastModifiedTime": now,
            **copy.deepcopy(dict(settings or {})),
        }
        with self._lock:
            self._domains[domain_name] = domain
            if certificate is not None:
                name, cert_pem, key_pem = certificate
                domain["certConfig"] = {"certName": name, "certificate": cert_pem}
                self._private_keys[domain_name] = key_pem

    def domain(self, domain_name: str) -> dict[str, Any]:
        """What GetCustomDomain answers for the domain."""
        with self._lock:
            return copy.deepcopy(self._domains[domain_name])

    def private_key(self, domain_name: str) -> str | None:
        """The key the domain serves with: only the test can see it, as only FC's own proxies can."""
        with self._lock:
            return self._private_keys.get(domain_name)

    @contextmanager
    def state(self) -> Iterator[tuple[dict[str, dict[str, Any]], dict[str, str]]]:
        """The domains and their private keys, locked: what the FC 3.0 API reads and changes as well."""
        with self._lock:
            yield self._domains, self._private_keys

    def fail_next(self, operation: str, *, times: int = 1, status: int = 429, code: str, message: str) -> None:
        self._faults.add(operation, FcApiError(status, code, message), times=times)

    # ------------------------------------------------------------------ requests

    def answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        """(status, JSON body) for one request."""
        path = unquote(urlsplit(target).path)
        try:
            self._authenticate(method, path, headers)
            operation, domain_name = _route(method, path)
            payload = _json(body) if method == "PUT" else None
        except FcApiError as error:
            return error.status, _error_body(error)
        with self._lock:
            fault = self._faults.take(operation)
            try:
                if fault is not None:
                    raise fault
                reply = self._get(domain_name) if operation == GET_CUSTOM_DOMAIN else self._update(domain_name, payload)
                status, answer = 200, reply
            except FcApiError as error:
                status, answer = error.status, _error_body(error)
            self._call_log.append(FcCall(operation, method, path, _redacted(payload), headers, status))
        return status, answer

    def _authenticate(self, method: str, path: str, headers: dict[str, str]) -> None:
        match = re.fullmatch(r"FC (?P<key>[^:]+):(?P<signature>\S+)", headers.get("authorization", ""))
        if match is None:
            raise FcApiError(403, "SignatureNotMatch", "the Authorization header is not 'FC <AccessKeyID>:<Signature>'")
        if match["key"] != self.access_key_id:
            raise FcApiError(403, "InvalidAccessKeyID", f"invalid access key ID '{match['key']}'")
        try:
            sent = parsedate_to_datetime(headers.get("date", ""))
        except (TypeError, ValueError):
            raise FcApiError(400, "MissingRequiredHeader", "required HTTP header Date was not specified") from None
        if abs((datetime.now(timezone.utc) - sent).total_seconds()) > MAX_CLOCK_SKEW_SECONDS:
            raise FcApiError(
                403, "RequestTimeTooSkewed", "the difference between the request time and now is too large"
            )
        if headers.get("x-fc-security-token") != self.security_token:
            raise FcApiError(403, "InvalidSecurityToken", "the security token is missing or invalid")
        expected = fc_signature(self.access_key_secret, method, headers, path)
        if not hmac.compare_digest(expected, match["signature"]):
            raise FcApiError(
                403,
                "SignatureNotMatch",
                "The request signature we calculated does not match the signature you provided. "
                "Check your access key and signing method",
            )

    def _get(self, domain_name: str) -> dict[str, Any]:
        return copy.deepcopy(self._existing(domain_name))

    def _update(self, domain_name: str, payload: dict[str, Any] | None) -> dict[str, Any]:
        domain = self._existing(domain_name)
        changes = payload or {}
        unknown = set(changes) - {"protocol", "routeConfig", "certConfig"}
        if unknown:
            raise FcApiError(400, "InvalidArgument", f"unknown fields {sorted(unknown)}")
        protocol = changes.get("protocol", domain["protocol"])
        if protocol not in ("HTTP", "HTTP,HTTPS"):
            raise FcApiError(400, "InvalidArgument", f"protocol '{protocol}' is not HTTP or HTTP,HTTPS")
        cert_config = changes.get("certConfig")
        problem = None if cert_config is None else cert_config_problem(cert_config)
        if problem is not None:
            raise FcApiError(400, "InvalidArgument", problem)
        if "HTTPS" in protocol and cert_config is None and "certConfig" not in domain:
            raise FcApiError(400, "InvalidArgument", "an HTTPS custom domain needs a certConfig")
        domain["protocol"] = protocol
        if "routeConfig" in changes:
            domain["routeConfig"] = changes["routeConfig"]
        if cert_config is not None:
            domain["certConfig"] = {"certName": cert_config["certName"], "certificate": cert_config["certificate"]}
            self._private_keys[domain_name] = cert_config["privateKey"]
        domain["lastModifiedTime"] = _fc_time()
        return copy.deepcopy(domain)

    def _existing(self, domain_name: str) -> dict[str, Any]:
        domain = self._domains.get(domain_name)
        if domain is None:
            raise FcApiError(404, "DomainNameNotFound", f"domain name '{domain_name}' does not exist")
        return domain


def _route(method: str, path: str) -> tuple[str, str]:
    match = _DOMAIN_PATH.fullmatch(path)
    if match is not None and method == "GET":
        return GET_CUSTOM_DOMAIN, match["domain"]
    if match is not None and method == "PUT":
        return UPDATE_CUSTOM_DOMAIN, match["domain"]
    raise FcApiError(400, "PathNotSupported", f"'{method}' against '{path}' is not supported")


def _json(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        raise FcApiError(400, "InvalidArgument", "the body is not JSON") from None
    if not isinstance(payload, dict):
        raise FcApiError(400, "InvalidArgument", "the body is not a JSON object")
    return payload


def _redacted(payload: dict[str, Any] | None) -> dict[str, Any] | None:
    if payload is None or "certConfig" not in payload:
        return payload
    redacted = copy.deepcopy(payload)
    if redacted["certConfig"].get("privateKey"):
        redacted["certConfig"]["privateKey"] = REDACTED
    return redacted


def _error_body(error: FcApiError) -> dict[str, str]:
    return {"ErrorCode": error.code, "ErrorMessage": error.message}


def _fc_time() -> str:
    return format_datetime(datetime.now(timezone.utc), usegmt=True)
