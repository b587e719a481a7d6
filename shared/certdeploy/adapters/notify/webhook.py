"""DingTalk, WeCom and Lark/Feishu group-bot webhooks, behind an SSRF guard.

Contacts give us URLs, so a URL is never trusted:
- only the bots' own hosts, over https on port 443, and hosts the operator listed in `allowed_hosts` are called
  (`host` = that host on the scheme's default port, `host:port` = that port; `[v6]:port` for IPv6 literals);
- the bot kind comes from the URL path and must match the host (a DingTalk path on the WeCom host is refused);
- the path is sent as written, so one that a server could read as another is refused: dot segments, percent-escapes
  (an encoded slash, backslash or dot), backslashes, spaces and control characters; a Lark token is one segment;
- the host is resolved once; unless it is listed in `allowed_hosts`, every address must be public (not private,
  loopback, link-local, multicast, reserved, shared or unspecified) or nothing is sent;
- the socket is connected to one of exactly those checked addresses — the name is not resolved again, so DNS
  rebinding between check and connect cannot happen — while the Host header, TLS SNI and certificate check still
  use the host name;
- redirects are never followed (a 3xx is a failure) and no proxy from the environment is used.

A DingTalk bot with "加签" (signing) enabled needs its secret: append `&secret=SEC…` to the contact's webhook URL.
The secret is stripped from the URL and only the timestamp and signature are sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import re
import socket
import ssl
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from pydantic import BaseModel, ConfigDict, Field

from certdeploy.adapters.notify import RenderedNotification
from certdeploy.domain.failures import NotificationFailed, PermanentNotificationFailure, TransientNotificationFailure
from certdeploy.domain.text_enum import TextEnum

MAX_REPLY_BYTES = 64 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}
_LARK_HOOK_PREFIX = "/open-apis/bot/v2/hook/"
# The bots' paths are fixed words and a token, so a path may hold only unreserved characters and '/': no
# percent-escape (an encoded '/', '\\' or '.' that the far end may decode), no space, tab or backslash.
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9._~/-]*")
_DOT_SEGMENTS = frozenset({".", ".."})
# WeCom group bot: markdown.content "最长不超过4096个字节" (https://developer.work.weixin.qq.com/document/path/91770).
_WECOM_MARKDOWN_MAX_BYTES = 4096


class BotKind(TextEnum):
    DINGTALK = "dingtalk"
    WECOM = "wecom"
    LARK = "lark"


BOT_HOSTS: dict[BotKind, frozenset[str]] = {
    BotKind.DINGTALK: frozenset({"oapi.dingtalk.com"}),
    BotKind.WECOM: frozenset({"qyapi.weixin.qq.com"}),
    BotKind.LARK: frozenset({"open.feishu.cn", "open.larksuite.com"}),
}

# Bot replies that mean "too many messages, try later": DingTalk 130101 (over 20 a minute) and 90030 (webhook
# over limit), WeCom 45009 (api freq out of limit), Lark 11232 (frequency limited). Any other code is permanent.
_RATE_LIMITED_CODES: dict[BotKind, frozenset[int]] = {
    BotKind.DINGTALK: frozenset({130101, 90030}),
    BotKind.WECOM: frozenset({45009}),
    BotKind.LARK: frozenset({11232}),
}


class WebhookSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    allowed_hosts: tuple[str, ...] = Field(
        (), description="extra hosts that may be called (e.g. a relay): 'host' or 'host:port'"
    )
    timeout_seconds: float = Field(10.0, gt=0, description="connect timeout and per-read timeout")


@dataclass(frozen=True)
class AllowedHost:
    host: str
    port: int | None

    @classmethod
    def parse(cls, entry: str) -> AllowedHost:
        """`host`, `host:port` or `[ipv6]:port`; raises ValueError for anything else."""
        parts = urlsplit("//" + entry.strip())
        if not parts.hostname or parts.path or parts.query or parts.username is not None:
            raise ValueError(f"not a host or host:port: {entry!r}")
        return cls(parts.hostname.rstrip("."), parts.port)

    def admits(self, host: str, scheme: str, port: int) -> bool:
        return self.host == host and port == (self.port if self.port is not None else _DEFAULT_PORTS[scheme])


@dataclass(frozen=True)
class WebhookTarget:
    """A webhook URL that passed the static checks: where to connect and what to request."""

    kind: BotKind
    scheme: str
    host: str
    port: int
    explicitly_allowed: bool
    request_path: str = field(repr=False)
    secret: str | None = field(default=None, repr=False)


def _refuse(reason: str) -> NotificationFailed:
    return PermanentNotificationFailure(f"webhook refused: {reason}")


def _check_path(url: str, path: str) -> None:
    """Refuse a path that could mean another one once normalised: dot segments, escapes, spaces, backslashes."""
    # urlsplit drops tabs and newlines, so they are looked for in the URL as given.
    if any(character.isspace() or not character.isprintable() for character in url):
        raise _refuse("a space or a control character in the URL's path or query")
    if _PLAIN_PATH.fullmatch(path) is None:
        raise _refuse("the path holds a character other than letters, digits, '-', '.', '_', '~' and '/'")
    if _DOT_SEGMENTS.intersection(path.split("/")):
        raise _refuse("the path has a '.' or '..' segment")


def _kind_from_path(path: str, query: dict[str, str]) -> BotKind | None:
    if path == "/robot/send" and query.get("access_token"):
        return BotKind.DINGTALK
    if path == "/cgi-bin/webhook/send" and query.get("key"):
        return BotKind.WECOM
    token = path.removeprefix(_LARK_HOOK_PREFIX)
    if path.startswith(_LARK_HOOK_PREFIX) and token and "/" not in token:
        return BotKind.LARK
    return None


def parse_webhook_url(url: str, allowed_hosts: Collection[AllowedHost] = ()) -> WebhookTarget:
    """Check a URL against the rules in the module doc without any I/O; raises a permanent NotificationFailed."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise _refuse(f"malformed URL ({error})") from error
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise _refuse(f"scheme {scheme!r} is not http or https")
    if not parts.hostname:
        raise _refuse("no host")
    if parts.username is not None:
        raise _refuse("credentials in the URL")
    host = parts.hostname.rstrip(".")
    port = port or _DEFAULT_PORTS[scheme]
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = dict(pairs)
    _check_path(url, parts.path)
    kind = _kind_from_path(parts.path, query)
    explicitly_allowed = any(allowed.admits(host, scheme, port) for allowed in allowed_hosts)
    host_kind = next((bot for bot, hosts in BOT_HOSTS.items() if host in hosts), None)

    if host_kind is not None:
        if scheme != "https":
            raise _refuse(f"{host} must be called over https")
        if port != 443 and not explicitly_allowed:
            raise _refuse(f"port {port} is not allowed for {host}")
    elif not explicitly_allowed:
        raise _refuse(f"host {host}:{port} is neither a known bot host nor explicitly allowed")
    if kind is None or (host_kind is not None and kind is not host_kind):
        raise _refuse(f"the path is not a {host_kind or 'DingTalk, WeCom or Lark'} bot webhook")

    secret = query.get("secret")
    if secret is not None and kind is not BotKind.DINGTALK:
        raise _refuse(f"message signing is only supported for DingTalk, not {kind}")
    kept = urlencode([(name, value) for name, value in pairs if name != "secret"])
    request_path = parts.path + (f"?{kept}" if kept else "")
    return WebhookTarget(kind, scheme, host, port, explicitly_allowed, request_path, secret or None)


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True only for globally routable unicast: private, loopback, link-local, multicast, reserved, shared (CGNAT),
    documentation and unspecified addresses are all refused, also when wrapped as IPv4-mapped IPv6."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def resolve_host(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, in resolver order, without duplicates."""
    found: list[str] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        if sockaddr[0] not in found:
            found.append(str(sockaddr[0]))
    return found


def dingtalk_signature(secret: str, timestamp_ms: int) -> dict[str, str]:
    """DingTalk "加签": Base64(HmacSHA256(key=secret, timestamp + "\\n" + secret)), timestamp in milliseconds
    (within an hour of DingTalk's clock), both sent as query parameters `timestamp` and `sign` (URL-encoded).
    https://developers.dingtalk.com/document/robots/custom-robot-access (安全设置), as quoted in
    https://gitbook.curiouser.top/origin/dingding-customrobot.html."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return {"timestamp": str(timestamp_ms), "sign": base64.b64encode(digest).decode()}


def _fit_lines(text: str, max_bytes: int) -> str:
    """Drop whole lines from the end until the text fits, marking the cut."""
    if len(text.encode()) <= max_bytes:
        return text
    lines = text.split("\n")
    while lines and len(("\n".join(lines) + "\n…").encode()) > max_bytes:
        lines.pop()
    return "\n".join(lines) + "\n…"


def bot_payload(kind: BotKind, message: RenderedNotification) -> dict[str, Any]:
    """The JSON body each bot documents for a formatted message."""
    if kind is BotKind.DINGTALK:
        # msgtype markdown: {"msgtype": "markdown", "markdown": {"title", "text"}}
        # (https://open.dingtalk.com/document/development/robot-message-type).
        return {"msgtype": "markdown", "markdown": {"title": message.bot_title, "text": message.bot_markdown}}
    if kind is BotKind.WECOM:
        # msgtype markdown: {"msgtype": "markdown", "markdown": {"content"}}
        # (https://developer.work.weixin.qq.com/document/path/91770, copy at https://cnblogs.com/tiandi/p/17768525.html).
        content = _fit_lines(message.bot_markdown, _WECOM_MARKDOWN_MAX_BYTES)
        return {"msgtype": "markdown", "markdown": {"content": content}}
    # Lark/Feishu custom bot, msg_type post (rich text): content.post.<locale> = {title, content: [[elements]]},
    # one line per paragraph; "text" elements are not parsed as markup, so nothing needs escaping
    # (https://open.feishu.cn/document/ukTMukTMukTM/ucTM5YjL3ETO24yNxkjN; element shapes:
    # https://feishu.apifox.cn/doc-1945306).
    post = {"title": message.bot_title, "content": [[{"tag": "text", "text": line}] for line in message.bot_lines[1:]]}
    return {"msg_type": "post", "content": {"post": {"zh_cn": post, "en_us": post}}}


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Talks to `host` (Host header) through a socket connected to the already-checked `address`."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """As above, with TLS: SNI and certificate verification use the host name, not the address."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._tls_context = context

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        try:
            self.sock = self._tls_context.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise


Resolver = Callable[[str, int], list[str]]


class WebhookSender:
    def __init__(
        self,
        settings: WebhookSettings,
        *,
        resolver: Resolver = resolve_host,
        ssl_context: ssl.SSLContext | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._allowed = tuple(AllowedHost.parse(entry) for entry in settings.allowed_hosts)
        self._timeout = settings.timeout_seconds
        self._resolve = resolver
        self._tls = ssl_context or ssl.create_default_context()
        self._now = now

    def send(self, address: str, message: RenderedNotification) -> None:
        target = parse_webhook_url(address, self._allowed)
        path = target.request_path
        if target.secret:
            signature = urlencode(dingtalk_signature(target.secret, int(self._now() * 1000)))
            path += ("&" if "?" in path else "?") + signature
        body = json.dumps(bot_payload(target.kind, message), ensure_ascii=False).encode()
        status, reply = self._post(target, self._checked_addresses(target), path, body)
        _check_reply(target.kind, status, reply)

    def _checked_addresses(self, target: WebhookTarget) -> list[str]:
        try:
            addresses = self._resolve(target.host, target.port)
        except OSError as error:
            raise TransientNotificationFailure(f"cannot resolve {target.host}: {error}") from error
        if not addresses:
            raise TransientNotificationFailure(f"{target.host} resolves to no address")
        if not target.explicitly_allowed:
            for found in addresses:
                if not is_public_address(ipaddress.ip_address(found)):
                    raise _refuse(f"{target.host} resolves to non-public address {found}")
        return addresses

    def _connection(self, target: WebhookTarget, address: str) -> http.client.HTTPConnection:
        if target.scheme == "https":
            return _PinnedHTTPSConnection(
                target.host, target.port, address=address, timeout=self._timeout, context=self._tls
            )
        return _PinnedHTTPConnection(target.host, target.port, address=address, timeout=self._timeout)

    def _post(self, target: WebhookTarget, addresses: list[str], path: str, body: bytes) -> tuple[int, bytes]:
        last_error: OSError | None = None
        for address in addresses:
            connection = self._connection(target, address)
            try:
                try:
                    connection.connect()
                except ssl.SSLCertVerificationError as error:
                    untrusted = f"{target.host} certificate not trusted: {error}"
                    raise PermanentNotificationFailure(untrusted) from error
                except OSError as error:
                    last_error = error
                    continue
                headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                return response.status, response.read(MAX_REPLY_BYTES)
            except (OSError, http.client.HTTPException) as error:
                raise TransientNotificationFailure(f"{target.kind} webhook call failed: {error!r}") from error
            finally:
                connection.close()
        raise TransientNotificationFailure(f"cannot connect to {target.host}: {last_error!r}")


def _check_reply(kind: BotKind, status: int, reply: bytes) -> None:
    if 300 <= status < 400:
        raise PermanentNotificationFailure(f"{kind} webhook answered a redirect ({status}), not followed")
    if status == 429 or status >= 500:
        raise TransientNotificationFailure(f"{kind} webhook answered HTTP {status}")
    if not 200 <= status < 300:
        raise PermanentNotificationFailure(f"{kind} webhook answered HTTP {status}")
    try:
        answer = json.loads(reply)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise PermanentNotificationFailure(f"{kind} webhook reply is not a JSON object")
    # DingTalk and WeCom: {"errcode": 0, "errmsg": "ok"}. Lark: {"code": 0, "msg": "success"}, older bots
    # {"StatusCode": 0, "StatusMessage": "success"} (https://aitechtogether.com/it/354984.html).
    if kind is BotKind.LARK:
        code, text = answer.get("code", answer.get("StatusCode")), answer.get("msg", answer.get("StatusMessage"))
    else:
        code, text = answer.get("errcode"), answer.get("errmsg")
    try:
        code_number = int(code)
    except (TypeError, ValueError):
        raise PermanentNotificationFailure(f"{kind} webhook reply has no status code") from None
    if code_number != 0:
        limited = code_number in _RATE_LIMITED_CODES[kind]
        failed = TransientNotificationFailure if limited else PermanentNotificationFailure
        raise failed(f"{kind} bot refused the message: {code_number} {text}")


def webhook_refusal(settings: WebhookSettings) -> Callable[[str], str | None]:
    """Why a contact's webhook URL would be refused by this notifier (None: it would be called), for the API to check
    URLs when contacts are saved rather than when a report is sent."""
    allowed = [AllowedHost.parse(entry) for entry in settings.allowed_hosts]

    def refusal(url: str) -> str | None:
        try:
            parse_webhook_url(url, allowed)
        except NotificationFailed as refused:
            return refused.message
        return None

    return refusal
