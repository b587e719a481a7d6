"""The console's static files as plain HTTP (certdeploy.fc.console_files through the local front and the api
function): redirects, content types, the security headers, revalidation, and no way out of the console directory."""

from __future__ import annotations

import gzip
import http.client
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from certdeploy.bootstrap.container import build_container
from certdeploy.bootstrap.settings import Settings
from certdeploy.fc.console_files import CONSOLE_DIR, CONTENT_SECURITY_POLICY, console_file
from certdeploy.local.http_server import ApiHttpServer, serving

# The budget for the console's first load: JS and CSS together, compressed.
FIRST_LOAD_BUDGET_BYTES = 200 * 1024


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiHttpServer]:
    """One server for the module: the console's files do not depend on what the store holds."""
    container = build_container(Settings(data=tmp_path_factory.mktemp("console-files")))
    try:
        with serving(ApiHttpServer(container)) as server:
            yield server
    finally:
        container.close()


def _get(server: ApiHttpServer, target: str, method: str = "GET", **headers: str) -> http.client.HTTPResponse:
    host, port = server.server_address
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.request(method, target, headers=headers)
    response = connection.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    connection.close()
    return response


def test_the_root_and_the_bare_prefix_redirect_to_the_console(front: ApiHttpServer) -> None:
    root = _get(front, "/")
    assert (root.status, root.getheader("Location")) == (302, "/console/")
    bare = _get(front, "/console")
    assert (bare.status, bare.getheader("Location")) == (301, "/console/")


def test_a_cas_call_at_the_root_is_still_an_api_call(front: ApiHttpServer) -> None:
    reply = _get(front, "/?Action=ListContact&Version=2020-04-07")
    assert reply.status == 400
    assert json.loads(reply.body)["Code"] == "IncompleteSignature"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("target", "content_type"),
    [
        ("/console/", "text/html; charset=utf-8"),
        ("/console/index.html", "text/html; charset=utf-8"),
        ("/console/style.css", "text/css; charset=utf-8"),
        ("/console/js/app.js", "text/javascript; charset=utf-8"),
        ("/console/favicon.svg", "image/svg+xml"),
    ],
)
def test_files_have_their_content_type_and_the_security_headers(
    front: ApiHttpServer, target: str, content_type: str
) -> None:
    reply = _get(front, target)
    assert reply.status == 200
    assert reply.getheader("Content-Type") == content_type
    assert reply.getheader("Content-Security-Policy") == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in CONTENT_SECURITY_POLICY
    assert reply.getheader("X-Content-Type-Options") == "nosniff"
    assert reply.getheader("X-Frame-Options") == "DENY"
    assert reply.getheader("Cache-Control") == "no-cache"


def test_an_unchanged_file_is_answered_304(front: ApiHttpServer) -> None:
    first = _get(front, "/console/js/api.js")
    etag = first.getheader("ETag")
    assert etag
    again = _get(front, "/console/js/api.js", **{"If-None-Match": etag})
    assert again.status == 304
    assert again.body == b""  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "target",
    [
        "/console/../pyproject.toml",
        "/console/%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
        "/console/js/..%2f..%2fapi%2fauth.py",
        "/console/..%5c..%5capi%5cauth.py",
        "/console/%2fetc%2fpasswd",
        "/console//etc/passwd",
        "/console/.hidden",
        "/console/js/app.js%00.css",
        "/console/js/",
        "/console/../fc/console_files.py",
        "/console/missing.js",
        "/console/" + "a" * 300 + ".js",
        "/console/" + "a/" * 3000 + "app.js",
    ],
)
def test_nothing_outside_the_console_files_is_served(front: ApiHttpServer, target: str) -> None:
    reply = _get(front, target)
    assert reply.status == 404
    body = json.loads(reply.body)  # type: ignore[attr-defined]
    assert body["Code"] == "NotFound"
    assert reply.getheader("Content-Security-Policy") == CONTENT_SECURITY_POLICY


def test_only_get_is_allowed_on_the_console(front: ApiHttpServer) -> None:
    reply = _get(front, "/console/", method="POST")
    assert reply.status == 405
    assert reply.getheader("Allow") == "GET"
    assert json.loads(reply.body)["Code"] == "MethodNotAllowed"  # type: ignore[attr-defined]


def test_a_link_out_of_the_directory_and_other_file_types_are_refused(tmp_path: Path) -> None:
    directory = tmp_path / "console"
    directory.mkdir()
    (tmp_path / "secret.js").write_text("secret")
    (directory / "escape.js").symlink_to(tmp_path / "secret.js")
    (directory / "notes.txt").write_text("plain text")
    (directory / "page.html").write_text("<p>ok</p>")
    assert console_file("escape.js", directory) is None
    assert console_file("notes.txt", directory) is None
    assert console_file("page.html", directory) == (b"<p>ok</p>", "text/html; charset=utf-8")


def test_the_console_weighs_under_200_kb_compressed() -> None:
    assets = [*CONSOLE_DIR.glob("*.css"), *CONSOLE_DIR.glob("js/*.js")]
    compressed = sum(len(gzip.compress(path.read_bytes())) for path in assets)
    assert compressed < FIRST_LOAD_BUDGET_BYTES
