"""The bot webhook sender against a real local HTTP(S) server: each bot's format, DingTalk signing, reply checks,
and the SSRF guard (refusals happen before any connection is made)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import pytest_socket

from certdeploy.adapters.notify import RenderedNotification
from certdeploy.adapters.notify.webhook import (
    AllowedHost,
    BotKind,
    WebhookSender,
    WebhookSettings,
    is_public_address,
    parse_webhook_url,
)
from certdeploy.domain.failures import NotificationFailed, Permanent, Transient
from tests.certgen import GeneratedCert, make_ca, make_cert
from tests.contract.notifier_support import failed_job_notification, server_tls_context

DINGTALK_SECRET = "SEC0123456789abcdef"
NOW_SECONDS = 1_706_613_560.008


@dataclass(frozen=True)
class Call:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class BotServer:
    """A local HTTP(S) server that records every connection and request and answers from `replies`."""

    tls: ssl.SSLContext | None = None
    replies: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    connections: int = 0
    port: int = 0

    def reply(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.replies.append((status, headers or {}, raw))


class _Handler(BaseHTTPRequestHandler):
    server: _RecordingServer

    def do_POST(self) -> None:
        bot = self.server.bot
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        url = urlsplit(self.path)
        bot.calls.append(Call(url.path, parse_qs(url.query), dict(self.headers.items()), json.loads(raw)))
        status, headers, body = bot.replies.pop(0) if bot.replies else (200, {}, b'{"errcode": 0, "errmsg": "ok"}')
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the calls are recorded instead."""


class _RecordingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, bot: BotServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.bot = bot

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        self.bot.connections += 1
        if self.bot.tls is not None:
            connection = self.bot.tls.wrap_socket(connection, server_side=True)
        return connection, address


StartServer = Callable[..., BotServer]


@pytest.fixture
def bot_server() -> Iterator[StartServer]:
    servers: list[_RecordingServer] = []

    def start(tls: ssl.SSLContext | None = None) -> BotServer:
        bot = BotServer(tls=tls)
        server = _RecordingServer(bot)
        bot.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return bot

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def no_sockets() -> Iterator[None]:
    """Any attempt to open a socket fails the test: proves a refusal happened before connecting."""
    pytest_socket.disable_socket()
    yield
    pytest_socket.enable_socket()


@pytest.fixture(scope="module")
def rendered() -> RenderedNotification:
    return failed_job_notification("www rotation")


def sender(*allowed: str, **options: Any) -> WebhookSender:
    options.setdefault("now", lambda: NOW_SECONDS)
    return WebhookSender(WebhookSettings(allowed_hosts=allowed, timeout_seconds=5), **options)


def resolver_for(table: dict[str, list[str]], lookups: list[str] | None = None) -> Callable[[str, int], list[str]]:
    def resolve(host: str, port: int) -> list[str]:
        if lookups is not None:
            lookups.append(host)
        return table[host]

    return resolve


# -------------------------------------------------------------------------------------- bot formats


def test_dingtalk_gets_a_markdown_message(bot_server: StartServer, rendered: RenderedNotification) -> None:
    bot = bot_server()
    sender(f"127.0.0.1:{bot.port}").send(f"http://127.0.0.1:{bot.port}/robot/send?access_token=tok", rendered)
    [call] = bot.calls
    assert call.path == "/robot/send"
    assert call.query == {"access_token": ["tok"]}
    assert call.headers["Content-Type"] == "application/json; charset=utf-8"
    assert call.body == {
        "msgtype": "markdown",
        "markdown": {"title": rendered.bot_title, "text": rendered.bot_markdown},
    }


def test_dingtalk_signature_verifies_and_the_secret_stays_home(
    bot_server: StartServer, rendered: RenderedNotification
) -> None:
    # GIVEN a DingTalk bot with signing enabled, its secret given in the contact's URL
    bot = bot_server()
    url = f"http://127.0.0.1:{bot.port}/robot/send?access_token=tok&secret={DINGTALK_SECRET}"
    # WHEN a message is sent
    sender(f"127.0.0.1:{bot.port}").send(url, rendered)
    # THEN the server can verify the signature the way DingTalk does, and never sees the secret
    [call] = bot.calls
    assert "secret" not in call.query
    [timestamp], [sign] = call.query["timestamp"], call.query["sign"]
    assert timestamp == "1706613560008"
    expected = hmac.new(DINGTALK_SECRET.encode(), f"{timestamp}\n{DINGTALK_SECRET}".encode(), hashlib.sha256).digest()
    assert hmac.compare_digest(base64.b64decode(sign), expected)


def test_wecom_gets_a_markdown_message(bot_server: StartServer, rendered: RenderedNotification) -> None:
    bot = bot_server()
    sender(f"127.0.0.1:{bot.port}").send(f"http://127.0.0.1:{bot.port}/cgi-bin/webhook/send?key=k-1", rendered)
    [call] = bot.calls
    assert (call.path, call.query) == ("/cgi-bin/webhook/send", {"key": ["k-1"]})
    assert call.body == {"msgtype": "markdown", "markdown": {"content": rendered.bot_markdown}}


def test_lark_gets_a_rich_text_post(bot_server: StartServer, rendered: RenderedNotification) -> None:
    bot = bot_server()
    bot.reply(200, {"code": 0, "msg": "success", "data": {}})
    sender(f"127.0.0.1:{bot.port}").send(f"http://127.0.0.1:{bot.port}/open-apis/bot/v2/hook/abc-123", rendered)
    [call] = bot.calls
    assert call.path == "/open-apis/bot/v2/hook/abc-123"
    assert call.body["msg_type"] == "post"
    post = call.body["content"]["post"]["zh_cn"]
    assert post["title"] == rendered.bot_title
    assert post["content"] == [[{"tag": "text", "text": line}] for line in rendered.bot_lines[1:]]
    assert call.body["content"]["post"]["en_us"] == post


# ----------------------------------------------------------------------------------------- the guard


def test_a_host_that_is_not_allowed_is_refused_before_any_connection(
    bot_server: StartServer, rendered: RenderedNotification
) -> None:
    # GIVEN a listening server on 127.0.0.1 that nobody allowed (or allowed on another port)
    bot = bot_server()
    url = f"http://127.0.0.1:{bot.port}/robot/send?access_token=tok"
    for allowed in ((), ("127.0.0.1",), (f"127.0.0.1:{bot.port + 1}",)):
        # WHEN a contact's webhook points at it
        with pytest.raises(NotificationFailed, match="neither a known bot host nor explicitly allowed") as failure:
            sender(*allowed).send(url, rendered)
        # THEN it is refused for good, and the server never even saw a connection
        assert isinstance(failure.value, Permanent)
    assert bot.connections == 0


def test_redirects_are_not_followed(bot_server: StartServer, rendered: RenderedNotification) -> None:
    # GIVEN an allowed server that redirects to another allowed server
    first, second = bot_server(), bot_server()
    first.reply(302, b"", {"Location": f"http://127.0.0.1:{second.port}/robot/send?access_token=tok"})
    notifier = sender(f"127.0.0.1:{first.port}", f"127.0.0.1:{second.port}")
    # WHEN a message is sent to the first
    with pytest.raises(NotificationFailed, match="redirect") as failure:
        notifier.send(f"http://127.0.0.1:{first.port}/robot/send?access_token=tok", rendered)
    # THEN the redirect is a failure and the second server was never contacted
    assert isinstance(failure.value, Permanent)
    assert len(first.calls) == 1
    assert second.connections == 0


@pytest.mark.parametrize(
    "addresses",
    [
        ["10.1.2.3"],
        ["172.16.0.1"],
        ["192.168.1.1"],
        ["127.0.0.1"],
        ["169.254.169.254"],
        ["100.64.0.1"],
        ["0.0.0.0"],
        ["224.0.0.1"],
        ["240.0.0.1"],
        ["::1"],
        ["fe80::1"],
        ["fc00::1"],
        ["::ffff:10.0.0.1"],
        ["8.8.8.8", "10.0.0.1"],
    ],
)
@pytest.mark.usefixtures("no_sockets")
def test_a_bot_host_resolving_to_a_non_public_address_is_refused(
    addresses: list[str], rendered: RenderedNotification
) -> None:
    # GIVEN DNS that points DingTalk's host at an internal address (among others)
    notifier = sender(resolver=resolver_for({"oapi.dingtalk.com": addresses}))
    # WHEN a message is sent (sockets are disabled: any connection attempt would fail the test differently)
    with pytest.raises(NotificationFailed, match="non-public address") as failure:
        notifier.send("https://oapi.dingtalk.com/robot/send?access_token=tok", rendered)
    # THEN it is refused for good
    assert isinstance(failure.value, Permanent)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://oapi.dingtalk.com/robot/send?access_token=t", "must be called over https"),
        ("https://oapi.dingtalk.com:8443/robot/send?access_token=t", "port 8443 is not allowed"),
        ("https://oapi.dingtalk.com/cgi-bin/webhook/send?key=k", "not a dingtalk bot webhook"),
        ("https://qyapi.weixin.qq.com/robot/send?access_token=t", "not a wecom bot webhook"),
        ("https://open.feishu.cn/open-apis/bot/v2/hook/", "not a lark bot webhook"),
        ("https://oapi.dingtalk.com/robot/send", "not a dingtalk bot webhook"),
        ("https://hooks.evil.example/robot/send?access_token=t", "neither a known bot host"),
        ("https://2130706433/robot/send?access_token=t", "neither a known bot host"),
        ("https://me@oapi.dingtalk.com/robot/send?access_token=t", "credentials in the URL"),
        ("ftp://oapi.dingtalk.com/robot/send?access_token=t", "not http or https"),
        ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k&secret=s", "signing is only supported for DingTalk"),
        ("https://oapi.dingtalk.com:99999/robot/send?access_token=t", "malformed URL"),
    ],
)
@pytest.mark.usefixtures("no_sockets")
def test_urls_outside_the_rules_are_refused_without_network(
    url: str, reason: str, rendered: RenderedNotification
) -> None:
    with pytest.raises(NotificationFailed, match=reason) as failure:
        sender(resolver=resolver_for({})).send(url, rendered)
    assert isinstance(failure.value, Permanent)


def test_bot_hosts_are_recognised() -> None:
    urls = {
        "https://oapi.dingtalk.com/robot/send?access_token=t": BotKind.DINGTALK,
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k": BotKind.WECOM,
        "https://open.feishu.cn/open-apis/bot/v2/hook/x": BotKind.LARK,
        "https://OPEN.LARKSUITE.COM./open-apis/bot/v2/hook/x": BotKind.LARK,
    }
    for url, kind in urls.items():
        target = parse_webhook_url(url)
        assert (target.kind, target.port, target.explicitly_allowed) == (kind, 443, False)


def test_only_globally_routable_unicast_counts_as_public() -> None:
    assert is_public_address(ipaddress.ip_address("8.8.8.8"))
    assert is_public_address(ipaddress.ip_address("2001:4860:4860::8888"))
    assert not is_public_address(ipaddress.ip_address("::ffff:127.0.0.1"))
    assert not is_public_address(ipaddress.ip_address("192.0.2.1"))


def test_allowed_host_entries_are_checked() -> None:
    assert AllowedHost.parse("relay.example:8080") == AllowedHost("relay.example", 8080)
    assert AllowedHost.parse("[::1]:9000") == AllowedHost("::1", 9000)
    with pytest.raises(ValueError):
        AllowedHost.parse("http://relay.example/x")


# ----------------------------------------------------------------- connecting to the checked address


@pytest.fixture(scope="module")
def hooks_ca() -> GeneratedCert:
    return make_ca("certdeploy webhook test CA")


@pytest.fixture(scope="module")
def hooks_tls(hooks_ca: GeneratedCert, tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    site = make_cert(["hooks.test"], common_name="hooks.test", issuer=hooks_ca)
    return server_tls_context(site, tmp_path_factory.mktemp("hooks-tls"))


def test_https_connects_to_the_resolved_address_and_verifies_the_host_name(
    bot_server: StartServer, hooks_tls: ssl.SSLContext, hooks_ca: GeneratedCert, rendered: RenderedNotification
) -> None:
    # GIVEN an allowed name that only our resolver knows, served over TLS with a certificate for that name
    bot = bot_server(tls=hooks_tls)
    lookups: list[str] = []
    notifier = sender(
        f"hooks.test:{bot.port}",
        resolver=resolver_for({"hooks.test": ["127.0.0.1"]}, lookups),
        ssl_context=ssl.create_default_context(cadata=hooks_ca.cert_pem),
    )
    # WHEN a message is sent
    notifier.send(f"https://hooks.test:{bot.port}/cgi-bin/webhook/send?key=k", rendered)
    # THEN the name was resolved once, the socket went to that address, and the request still named the host
    assert lookups == ["hooks.test"]
    [call] = bot.calls
    assert call.headers["Host"] == f"hooks.test:{bot.port}"


def test_a_certificate_for_another_name_is_refused(
    bot_server: StartServer, hooks_tls: ssl.SSLContext, hooks_ca: GeneratedCert, rendered: RenderedNotification
) -> None:
    bot = bot_server(tls=hooks_tls)
    notifier = sender(
        f"other.test:{bot.port}",
        resolver=resolver_for({"other.test": ["127.0.0.1"]}),
        ssl_context=ssl.create_default_context(cadata=hooks_ca.cert_pem),
    )
    with pytest.raises(NotificationFailed, match="certificate not trusted") as failure:
        notifier.send(f"https://other.test:{bot.port}/cgi-bin/webhook/send?key=k", rendered)
    assert isinstance(failure.value, Permanent)
    assert bot.calls == []


# ------------------------------------------------------------------------------------------- replies


@pytest.mark.parametrize(
    ("path", "status", "reply", "message", "transient"),
    [
        ("/robot/send?access_token=t", 200, {"errcode": 310000, "errmsg": "sign not match"}, "310000 sign", False),
        ("/robot/send?access_token=t", 200, {"errcode": 130101, "errmsg": "send too fast"}, "130101", True),
        ("/cgi-bin/webhook/send?key=k", 200, {"errcode": 93000, "errmsg": "invalid webhook url"}, "93000", False),
        ("/cgi-bin/webhook/send?key=k", 200, {"errcode": 45009, "errmsg": "api freq out of limit"}, "45009", True),
        ("/open-apis/bot/v2/hook/x", 200, {"code": 19021, "msg": "sign match fail"}, "19021 sign match fail", False),
        ("/open-apis/bot/v2/hook/x", 200, {"StatusCode": 9499, "StatusMessage": "Bad Request"}, "9499", False),
        ("/open-apis/bot/v2/hook/x", 200, {"data": {}}, "no status code", False),
        ("/robot/send?access_token=t", 200, b"<html>ok</html>", "not a JSON object", False),
        ("/robot/send?access_token=t", 500, {"errcode": -1}, "HTTP 500", True),
        ("/robot/send?access_token=t", 429, {"errcode": -1}, "HTTP 429", True),
        ("/robot/send?access_token=t", 404, b"", "HTTP 404", False),
    ],
)
def test_bot_error_replies_are_reported(
    bot_server: StartServer,
    rendered: RenderedNotification,
    path: str,
    status: int,
    reply: object,
    message: str,
    transient: bool,
) -> None:
    bot = bot_server()
    bot.reply(status, reply)
    with pytest.raises(NotificationFailed, match=message) as failure:
        sender(f"127.0.0.1:{bot.port}").send(f"http://127.0.0.1:{bot.port}{path}", rendered)
    assert isinstance(failure.value, Transient) is transient


def test_an_unreachable_allowed_host_is_transient(rendered: RenderedNotification) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(NotificationFailed, match="cannot connect") as failure:
        sender(f"127.0.0.1:{port}").send(f"http://127.0.0.1:{port}/robot/send?access_token=t", rendered)
    assert isinstance(failure.value, Transient)


@pytest.mark.usefixtures("no_sockets")
def test_a_name_that_does_not_resolve_is_transient(rendered: RenderedNotification) -> None:
    def failing(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    with pytest.raises(NotificationFailed, match="cannot resolve") as failure:
        sender(resolver=failing).send("https://oapi.dingtalk.com/robot/send?access_token=t", rendered)
    assert isinstance(failure.value, Transient)


_LARK_HOOK = "/open-apis/bot/v2/hook/"


@pytest.mark.parametrize(
    "path",
    [
        f"{_LARK_HOOK}../../../admin/x",
        f"{_LARK_HOOK}./x",
        f"{_LARK_HOOK}x/..",
        f"{_LARK_HOOK}%2e%2e/%2E%2E/admin",
        f"{_LARK_HOOK}x%2F..%2Fadmin",
        f"{_LARK_HOOK}x%5c..%5cadmin",
        f"{_LARK_HOOK}x\\..\\admin",
        f"{_LARK_HOOK}x%20y",
        f"{_LARK_HOOK}x y",
        f"{_LARK_HOOK}x\ty",
        f"{_LARK_HOOK}x/y",
        "/robot/./send?access_token=t",
        "/cgi-bin/webhook/../webhook/send?key=k",
    ],
)
def test_webhook_paths_with_dot_segments_escapes_or_spaces_are_refused(path: str) -> None:
    # On an allowed relay the path is all that decides where the request goes, and on a bot host it must name the bot.
    for base in ("https://relay.example:8443", "https://open.feishu.cn"):
        with pytest.raises(NotificationFailed, match="path") as failure:
            parse_webhook_url(base + path, [AllowedHost("relay.example", 8443)])
        assert isinstance(failure.value, Permanent)
