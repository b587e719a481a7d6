"""The web console's static files (docs/console.md), answered by the `api` function beside the CAS API.

The console is served by the same function and on the same origin as the API it calls, locally (`certdeploy serve`)
and in the cloud alike: no CORS to open, one deployment, and a Content-Security-Policy of `'self'` covers both the
files and the API calls.

Routes: `GET /` without a query, an `x-acs-action` header or an `Authorization` header (so never a CAS call) is
redirected to `/console/`; `GET /console` to `/console/`; `GET /console/` is `index.html`; `GET /console/<file>`
is that file of `shared/certdeploy/console/` when its name has an allowed extension. Anything else under `/console`
is a CAS `NotFound` (404), another method a `MethodNotAllowed` (405). A path is looked up segment by segment: a
segment that is empty, `.` or `..`, starts with a dot, or holds a backslash or NUL never reaches the file system, and
the resolved file must still lie inside the console directory (a symbolic link pointing out is refused too).

Every file is revalidated (`Cache-Control: no-cache` with a strong `ETag`; `If-None-Match` answers 304): there is no
build step that would put content hashes in file names, so a changed file must never be taken from a cache.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from certdeploy.api.errors import ApiError, error_body, new_request_id

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"
CONSOLE_PREFIX = "/console"
CONTENT_TYPES: Mapping[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json; charset=utf-8",
}
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_REFUSED_CHARACTERS = ("\\", "\x00")


def is_console_request(method: str, path: str, query: object, headers: Mapping[str, Any]) -> bool:
    """A request for the console (or the bare `/` a browser opens) rather than a CAS call."""
    if path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/"):
        return True
    is_api_call = bool(query) or "x-acs-action" in headers or "authorization" in headers
    return path == "/" and method == "GET" and not is_api_call


def console_reply(method: str, path: str, headers: Mapping[str, Any]) -> dict[str, Any]:
    """The HTTP-trigger reply `{isBase64Encoded, statusCode, headers, body}` to a console request."""
    if method != "GET":
        error = ApiError(405, "MethodNotAllowed", f"{method} is not allowed on the console; use GET.")
        return _error(error, {"Allow": "GET"})
    if path in ("/", CONSOLE_PREFIX):
        return _reply(302 if path == "/" else 301, {"Location": CONSOLE_PREFIX + "/"}, b"")
    relative = path[len(CONSOLE_PREFIX) + 1 :] or "index.html"
    found = console_file(relative)
    if found is None:
        return _error(ApiError(404, "NotFound", "The console has no such file."))
    content, content_type = found
    etag = '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
    file_headers = {"Content-Type": content_type, "Cache-Control": "no-cache", "ETag": etag}
    if _header(headers, "if-none-match") == etag:
        return _reply(304, file_headers, b"")
    return _reply(200, file_headers, content)


def console_file(relative: str, directory: Path = CONSOLE_DIR) -> tuple[bytes, str] | None:
    """The bytes and content type of the file at `relative` (a `/`-separated path) in `directory`, or None. Read on
    each request (the files are small), so an edited console file is served at once."""
    segments = relative.split("/")
    for segment in segments:
        if not segment or segment.startswith(".") or any(c in segment for c in _REFUSED_CHARACTERS):
            return None
    root = directory.resolve()
    try:  # a name the file system refuses (too long, say) is a file the console does not have
        candidate = root.joinpath(*segments).resolve()
        content_type = CONTENT_TYPES.get(candidate.suffix)
        if content_type is None or not candidate.is_relative_to(root) or not candidate.is_file():
            return None
        return candidate.read_bytes(), content_type
    except OSError:
        return None


def _header(headers: Mapping[str, Any], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value if isinstance(value, str) else ",".join(value)
    return ""


def _reply(status: int, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    return {
        "isBase64Encoded": True,
        "statusCode": status,
        "headers": {**headers, **SECURITY_HEADERS},
        "body": base64.b64encode(body).decode("ascii"),
    }


def _error(error: ApiError, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    body = error_body(error, request_id=new_request_id(), host_id="cas.aliyuncs.com")
    error_headers = {"Content-Type": "application/json;charset=utf-8", **(headers or {})}
    return _reply(error.status, error_headers, json.dumps(body).encode())
