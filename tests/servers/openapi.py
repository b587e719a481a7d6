"""A generic Alibaba Cloud OpenAPI test server: product test servers register handlers on it, the real Tea SDK talks
to it over HTTP on 127.0.0.1.

What it does for every request, in order:
1. Authenticates it: ACS3-HMAC-SHA256 (the SDK default, RPC and ROA alike) or the RPC V1 HMAC-SHA1 signature
   (`signature_algorithm="v2"`), verified with `certdeploy.api.signature` against the one AccessKey the server was
   given. An STS token (`x-acs-security-token` header, `SecurityToken` in V1) is accepted; when the server was given a
   `security_token`, the request must carry that very token. Failures answer the gateway's codes
   (`IncompleteSignature`, `SignatureDoesNotMatch`, `InvalidAccessKeyId.NotFound`, `InvalidSecurityToken`).
2. Routes it: a ROA route registered with `roa(method, "/path/{Name}", handler)` whose method and path match, else an
   RPC action registered with `rpc(action, handler)` (action from the `Action` query parameter or the `x-acs-action`
   header). Nothing registered: 404 `InvalidAction.NotFound`.
3. Applies fault injection: `fail_next(action, times=N, code=C, status=S)` makes the next N calls of that action
   answer the error without running the handler (`retry_after_seconds` adds the `x-acs-retry-after` header, which
   makes the SDK raise `ThrottlingException`).
4. Runs the handler with an `OpenApiCall` and answers its dict as JSON (a `RequestId` is added when missing). A
   handler raises `OpenApiError(code, message, status)` to answer an error in the Alibaba shape
   `{"RequestId", "HostId", "Code", "Message"}`. Any other exception answers 500 `InternalError` and is kept in
   `server.crashes` (`assert_healthy()` fails the test with the traceback).

Every authenticated call is recorded in `server.calls` (with the status it got), so a test can assert that a deployer
made no write call: `assert server.calls_of("SetCdnDomainSSLCertificate") == []`. Handlers run one at a time (a
lock), so product state kept in plain dicts is safe.

Usage, as a pytest fixture (composition through `ProductCloud`; subclassing `OpenApiServer` works as well):

    class CdnCloud(ProductCloud):                      # the product's in-memory state and its actions
        def __init__(self) -> None:
            super().__init__(OpenApiServer(host_id="cdn.aliyuncs.com", version="2018-05-10"))
            self.api.rpc("DescribeDomainCertificateInfo", self._describe)

        def _describe(self, call: OpenApiCall) -> dict[str, Any]:
            domain = call.require("DomainName")
            ...

    @pytest.fixture
    def cdn() -> Iterator[CdnCloud]:
        cloud = CdnCloud()
        yield from cloud.serving()                     # on an ephemeral port; stopped, then checked for crashes

    deployer = CdnDeployer(cloud.api.credentials(), cloud.api.target())   # CloudCredentials, ApiTarget

Interface (stable): `OpenApiServer(access_key_id=…, access_key_secret=…, security_token=None, host_id=…,
version=None)`, `.rpc(action, handler)`, `.roa(method, path_pattern, handler)`, `.fail_next(action, times=1,
code="Throttling.User", message=…, status=400, retry_after_seconds=None)`, `.calls`, `.calls_of(action)`,
`.clear_calls()`, `.endpoint`, `.credentials()`, `.target()`, `.start()`, `.stop()`, context manager,
`.assert_healthy()`, `.crashes`; `OpenApiCall` (fields below; `.get(name)`, `.require(name)`); `OpenApiError`;
`THROTTLED` (the usual throttling fault's code); `ProductCloud` (`.api`, `.serving()`); for handlers, `flat_list`
and `next_token_page`.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote

from certdeploy.api import signature
from tests.servers.loopback import CloudApiTestServer, LoopbackRequestHandler

THROTTLED = "Throttling.User"
THROTTLED_MESSAGE = "Request was denied due to user flow control."
_FORM = "application/x-www-form-urlencoded"
# RPC common parameters of the V1 signature and of STS credentials: not business parameters.
_PROTOCOL_PARAMETERS = frozenset(
    {
        "AccessKeyId",
        "Action",
        "Format",
        "SecurityToken",
        "Signature",
        "SignatureMethod",
        "SignatureNonce",
        "SignatureType",
        "SignatureVersion",
        "Timestamp",
        "Version",
    }
)
_PATH_PARAMETER = re.compile(r"\{(\w+)\}")
_CloudT = TypeVar("_CloudT", bound="ProductCloud")
_RowT = TypeVar("_RowT")


class OpenApiError(Exception):
    """An error answer in the Alibaba shape; raise it from a handler."""

    def __init__(self, code: str, message: str, status: int = 400, *, retry_after_seconds: int | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True)
class OpenApiCall:
    """One authenticated request as a handler sees it.

    `parameters`: RPC business parameters (query and form body, protocol parameters left out) or a ROA request's query
    parameters. `path_parameters`: the `{Name}` parts of a ROA route. `body`: a ROA request's JSON body (None without
    one). `status`: what the server answered (set once answered; 0 while the handler runs).
    """

    style: str  # "RPC" or "ROA"
    action: str
    version: str
    method: str
    path: str
    parameters: dict[str, str]
    path_parameters: dict[str, str]
    body: Any
    headers: dict[str, str]
    access_key_id: str
    security_token: str | None
    signature_method: str
    status: int = 0

    def get(self, name: str) -> str | None:
        """A parameter's value (query/form, then path), None when absent or empty."""
        value = self.parameters.get(name) or self.path_parameters.get(name)
        return value or None

    def require(self, name: str) -> str:
        """A parameter's value, or the gateway's `MissingParameter` error."""
        value = self.get(name)
        if value is None:
            raise OpenApiError("MissingParameter", f"The input parameter {name} that is mandatory is not supplied.")
        return value


Handler = Callable[[OpenApiCall], Any]


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    action: str
    handler: Handler


@dataclass
class _Received:
    """A request as read off the wire, before anything is checked."""

    method: str
    raw_path: str
    query: tuple[tuple[str, str], ...]
    headers: dict[str, tuple[str, ...]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return ",".join(values) if values else None

    def query_value(self, name: str) -> str | None:
        return next((value for key, value in self.query if key == name), None)

    def form(self) -> tuple[tuple[str, str], ...]:
        media_type = (self.header("content-type") or "").split(";")[0].strip().lower()
        if media_type != _FORM or not self.body:
            return ()
        return tuple(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))


@dataclass(frozen=True)
class _Signer:
    access_key_id: str
    security_token: str | None
    method: str


@dataclass
class _State:
    crashes: list[str] = field(default_factory=list)
    nonces: set[str] = field(default_factory=set)


class OpenApiRequestHandler(LoopbackRequestHandler):
    def serve(self) -> None:
        raw_path, _, raw_query = self.path.partition("?")
        grouped: dict[str, tuple[str, ...]] = {}
        for name, value in self.headers.items():
            grouped[name.lower()] = (*grouped.get(name.lower(), ()), value)
        received = _Received(
            method=self.command,
            raw_path=raw_path or "/",
            query=tuple(parse_qsl(raw_query, keep_blank_values=True)),
            headers=grouped,
            body=self.read_body(),
        )
        api: OpenApiServer = self.server.test_server
        status, extra_headers, reply = api._answer(received)
        content_type = {"Content-Type": "application/json;charset=utf-8"}
        self.send_reply(status, json.dumps(reply).encode("utf-8"), content_type | extra_headers)


class OpenApiServer(CloudApiTestServer[OpenApiCall, OpenApiError]):
    """Threaded HTTP server on 127.0.0.1 (ephemeral port) speaking the Alibaba OpenAPI gateway protocol."""

    handler_class = OpenApiRequestHandler
    thread_name = "openapi-test-server"

    def __init__(
        self,
        *,
        access_key_id: str = "LTAI-test-access-key",
        access_key_secret: str = "test-access-key-secret",
        security_token: str | None = None,
        host_id: str = "openapi.test.aliyuncs.com",
        version: str | None = None,
    ) -> None:
        super().__init__(
            access_key_id=access_key_id,
            access_key_secret=access_key_secret,
            security_token=security_token,
            operation_of=lambda call: call.action,
        )
        self.host_id = host_id
        self.version = version
        self._rpc: dict[str, Handler] = {}
        self._roa: list[_Route] = []
        self._state = _State()
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ registration

    def rpc(self, action: str, handler: Handler) -> None:
        """Serve the RPC action `action` with `handler`."""
        self._rpc[action] = handler

    def roa(self, method: str, path_pattern: str, handler: Handler, *, action: str | None = None) -> None:
        """Serve `method path_pattern` (e.g. `GET /pop/v1/sam/app/{AppId}`) with `handler`.

        `action` names the route in `calls` and in `fail_next`; by default the `x-acs-action` header the SDK sends.
        """
        regex = "".join(
            f"(?P<{part}>[^/]+)" if index % 2 else re.escape(part)
            for index, part in enumerate(_PATH_PARAMETER.split(path_pattern))
        )
        self._roa.append(_Route(method.upper(), re.compile(regex), action or "", handler))

    # ------------------------------------------------------------------ fault injection and call records

    def fail_next(
        self,
        action: str,
        *,
        times: int = 1,
        code: str = THROTTLED,
        message: str = THROTTLED_MESSAGE,
        status: int = 400,
        retry_after_seconds: int | None = None,
    ) -> None:
        """The next `times` calls of `action` answer this error instead of running the handler."""
        self._faults.add(
            action, OpenApiError(code, message, status, retry_after_seconds=retry_after_seconds), times=times
        )

    def actions(self) -> list[str]:
        """The actions called, in order: handy in assertion messages."""
        return [call.action for call in self.calls]

    def clear_calls(self) -> None:
        self._call_log.clear()

    @property
    def crashes(self) -> list[str]:
        """Tracebacks of handlers that raised something other than `OpenApiError`."""
        with self._lock:
            return list(self._state.crashes)

    def assert_healthy(self) -> None:
        crashes = self.crashes
        assert not crashes, "a test server handler crashed:\n" + "\n".join(crashes)

    # ------------------------------------------------------------------ request processing

    def _answer(self, received: _Received) -> tuple[int, dict[str, str], Any]:
        """(status, extra headers, JSON body) for one request."""
        try:
            signer = self._authenticate(received)
            call, handler = self._route(received, signer)
        except OpenApiError as error:
            return self._error(error)
        with self._lock:
            fault = self._faults.take(call.action)
            if fault is not None:
                status, headers, body = self._error(fault)
            else:
                status, headers, body = self._run(handler, call)
            self._call_log.append(_with_status(call, status))
        return status, headers, body

    def _run(self, handler: Handler, call: OpenApiCall) -> tuple[int, dict[str, str], Any]:
        try:
            reply = handler(call)
        except OpenApiError as error:
            return self._error(error)
        except Exception:
            self._state.crashes.append(traceback.format_exc())
            return self._error(OpenApiError("InternalError", "The request processing has failed.", 500))
        if isinstance(reply, dict) and "RequestId" not in reply:
            reply = {"RequestId": _request_id(), **reply}
        return 200, {}, reply

    def _error(self, error: OpenApiError) -> tuple[int, dict[str, str], Any]:
        headers = {} if error.retry_after_seconds is None else {"x-acs-retry-after": str(error.retry_after_seconds)}
        body = {"RequestId": _request_id(), "HostId": self.host_id, "Code": error.code, "Message": error.message}
        return error.status, headers, body

    def _authenticate(self, received: _Received) -> _Signer:
        authorization = (received.header("authorization") or "").strip()
        if authorization.startswith("ACS3-"):
            signer = self._verify_acs3(received, authorization)
        elif received.query_value("Signature") is not None:
            signer = self._verify_rpc_v1(received)
        else:
            raise _incomplete("the request has neither an ACS3 Authorization header nor a Signature parameter.")
        if self.security_token is not None and signer.security_token != self.security_token:
            raise OpenApiError("InvalidSecurityToken.Mismatch", "Specified SecurityToken is invalid.")
        return signer

    def _verify_acs3(self, received: _Received, authorization: str) -> _Signer:
        try:
            parsed = signature.parse_acs3_authorization(authorization)
        except signature.MalformedAuthorization as error:
            raise _incomplete(str(error)) from error
        if parsed.algorithm != signature.ACS3_HMAC_SHA256:
            raise _incomplete(f"signature algorithm {parsed.algorithm} is not supported.")
        self._check_access_key(parsed.access_key_id)
        signed = {name.lower() for name in parsed.signed_headers}
        required = {"host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce"}
        if received.header("x-acs-security-token") is not None:
            required.add("x-acs-security-token")
        if not required <= signed:
            raise _incomplete(f"header {', '.join(sorted(required - signed))} must be signed.")
        payload_sha256 = hashlib.sha256(received.body).hexdigest()
        if received.header("x-acs-content-sha256") != payload_sha256:
            raise OpenApiError("SignatureDoesNotMatch", "x-acs-content-sha256 is not the SHA-256 of the body.")
        canonical = signature.acs3_canonical_request(
            method=received.method,
            path=received.raw_path,
            query=received.query,
            headers=received.headers,
            signed_headers=parsed.signed_headers,
            payload_sha256=payload_sha256,
        )
        expected = signature.acs3_signature(self.access_key_secret, signature.acs3_string_to_sign(canonical))
        if not signature.signatures_match(expected, parsed.signature):
            raise OpenApiError("SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
        self._check_nonce(received.header("x-acs-signature-nonce") or "")
        return _Signer(parsed.access_key_id, received.header("x-acs-security-token"), signature.ACS3_HMAC_SHA256)

    def _verify_rpc_v1(self, received: _Received) -> _Signer:
        if received.query_value("SignatureMethod") != "HMAC-SHA1":
            raise _incomplete("SignatureMethod must be HMAC-SHA1.")
        access_key_id = received.query_value("AccessKeyId") or ""
        self._check_access_key(access_key_id)
        parameters = received.query + received.form()
        expected = signature.rpc_v1_signature(
            self.access_key_secret, signature.rpc_v1_string_to_sign(received.method, parameters)
        )
        if not signature.signatures_match(expected, received.query_value("Signature") or ""):
            raise OpenApiError("SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
        self._check_nonce(received.query_value("SignatureNonce") or "")
        return _Signer(access_key_id, received.query_value("SecurityToken"), "HMAC-SHA1")

    def _check_access_key(self, access_key_id: str) -> None:
        if access_key_id != self.access_key_id:
            raise OpenApiError("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)

    def _check_nonce(self, nonce: str) -> None:
        with self._lock:
            if not nonce or nonce in self._state.nonces:
                raise OpenApiError("SignatureNonceUsed", "Specified signature nonce was used already.")
            self._state.nonces.add(nonce)

    def _route(self, received: _Received, signer: _Signer) -> tuple[OpenApiCall, Handler]:
        version = received.query_value("Version") or received.header("x-acs-version") or ""
        if self.version is not None and version != self.version:
            raise OpenApiError("InvalidVersion", f"Specified parameter Version {version} is not valid.")
        headers = {name: ",".join(values) for name, values in received.headers.items()}
        path = unquote(received.raw_path)
        for route in self._roa:
            match = route.pattern.fullmatch(path)
            if route.method == received.method and match is not None:
                call = OpenApiCall(
                    style="ROA",
                    action=route.action or received.header("x-acs-action") or f"{route.method} {route.pattern.pattern}",
                    version=version,
                    method=received.method,
                    path=path,
                    parameters=dict(received.query),
                    path_parameters=match.groupdict(),
                    body=_json_body(received),
                    headers=headers,
                    access_key_id=signer.access_key_id,
                    security_token=signer.security_token,
                    signature_method=signer.method,
                )
                return call, route.handler
        action = received.query_value("Action") or received.header("x-acs-action") or ""
        handler = self._rpc.get(action)
        if path != "/" or handler is None:
            raise OpenApiError(
                "InvalidAction.NotFound", f"Specified api is not found: {received.method} {path} {action}.", 404
            )
        parameters: dict[str, str] = {}
        for name, value in received.query + received.form():
            if name not in _PROTOCOL_PARAMETERS:
                parameters.setdefault(name, value)
        call = OpenApiCall(
            style="RPC",
            action=action,
            version=version,
            method=received.method,
            path=path,
            parameters=parameters,
            path_parameters={},
            body=None,
            headers=headers,
            access_key_id=signer.access_key_id,
            security_token=signer.security_token,
            signature_method=signer.method,
        )
        return call, handler


class ProductCloud:
    """A product's in-memory state and the actions that read and change it, served by `api`."""

    def __init__(self, api: OpenApiServer) -> None:
        self.api = api

    def serving(self: _CloudT) -> Iterator[_CloudT]:
        """For a pytest fixture (`yield from cloud.serving()`): serves the cloud to the test, stops the server after
        it, then fails the test if a handler crashed."""
        with self.api:
            yield self
        self.api.assert_healthy()


def _json_body(received: _Received) -> Any:
    if not received.body:
        return None
    media_type = (received.header("content-type") or "").split(";")[0].strip().lower()
    if media_type == _FORM:
        return dict(received.form())
    try:
        return json.loads(received.body)
    except ValueError as error:
        raise OpenApiError("InvalidParameter", "The request body is not valid JSON.") from error


def _with_status(call: OpenApiCall, status: int) -> OpenApiCall:
    return OpenApiCall(**{**call.__dict__, "status": status})


def _request_id() -> str:
    return str(uuid.uuid4()).upper()


def _incomplete(detail: str) -> OpenApiError:
    return OpenApiError("IncompleteSignature", f"The request signature does not conform to Aliyun standards: {detail}")


def next_token_page(
    call: OpenApiCall, rows: list[_RowT], *, default_size: int = 20
) -> tuple[list[_RowT], dict[str, Any]]:
    """The page of `rows` a `MaxResults`/`NextToken` call asks for (here the token is the index of the page's first
    row), and the answer's paging fields: `MaxResults`, `TotalCount`, and `NextToken` while rows remain."""
    start = int(call.get("NextToken") or 0)
    size = int(call.get("MaxResults") or default_size)
    paging: dict[str, Any] = {"MaxResults": size, "TotalCount": len(rows)}
    if start + size < len(rows):
        paging["NextToken"] = str(start + size)
    return rows[start : start + size], paging


def flat_list(parameters: Mapping[str, str], prefix: str) -> list[str]:
    """An RPC repeat list the SDK flattens as `Prefix.1`, `Prefix.2`, …, in order."""
    values = []
    index = 1
    while f"{prefix}.{index}" in parameters:
        values.append(parameters[f"{prefix}.{index}"])
        index += 1
    return values
