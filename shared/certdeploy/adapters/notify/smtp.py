"""Email over SMTP: one multipart/alternative message (text + HTML) per recipient.

Server URL (`SmtpSettings.url`):

| URL                                   | transport                                              | default port |
|---------------------------------------|--------------------------------------------------------|--------------|
| `smtp://host[:port]`                  | STARTTLS if the server offers it, plain otherwise      | 25           |
| `smtp://host?starttls=0`              | plain, never upgraded (local catch-all servers)        | 25           |
| `smtp://host?starttls=1`              | STARTTLS required: refused if the server lacks it      | 25           |
| `smtp+starttls://host[:port]`         | STARTTLS required                                      | 587          |
| `smtps://host[:port]`                 | implicit TLS                                           | 465          |

`user:password@` in the URL (percent-encoded) wins over `SmtpSettings.username/password`. Credentials are only
ever sent over TLS. Certificates are always verified (system CAs, or `ca_file`); a failed verification is never
"downgraded" to plain text.

Failures raise `NotificationFailed`: 4xx replies, connection errors and timeouts are transient; 5xx replies,
refused TLS or auth preconditions and bad addresses are permanent.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from certdeploy.adapters.notify import RenderedNotification
from certdeploy.domain.failures import NotificationFailed, PermanentNotificationFailure, TransientNotificationFailure
from certdeploy.domain.text_enum import TextEnum

_DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
_STARTTLS_FLAGS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


def _kind_of_reply(*codes: int) -> type[NotificationFailed]:
    """4xx replies ask to try again later; any other reply refuses for good."""
    if all(400 <= code < 500 for code in codes):
        return TransientNotificationFailure
    return PermanentNotificationFailure


class SmtpSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    url: str = Field(repr=False, description="smtp://, smtp+starttls:// or smtps:// URL (see the module doc)")
    from_address: str = Field(description="From header and envelope sender, e.g. 'certdeploy <noreply@example.com>'")
    username: str | None = None
    password: SecretStr | None = None
    timeout_seconds: float = Field(10.0, gt=0)
    ca_file: str | None = Field(None, description="PEM CA bundle to trust instead of the system store")


class TlsMode(TextEnum):
    OFF = "off"
    OPPORTUNISTIC = "opportunistic"
    STARTTLS = "starttls"
    IMPLICIT = "implicit"


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    tls: TlsMode
    username: str | None
    password: str | None

    def __repr__(self) -> str:
        return f"SmtpServer(host={self.host!r}, port={self.port}, tls={self.tls}, username={self.username!r})"


def parse_smtp_url(url: str, username: str | None = None, password: str | None = None) -> SmtpServer:
    """Read a server URL; raises ValueError (a configuration error) for anything we would not know how to use."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f"SMTP URL scheme must be one of {sorted(_DEFAULT_PORTS)}, not {scheme!r}")
    if not parts.hostname:
        raise ValueError("SMTP URL has no host")
    query = {name: values[-1].lower() for name, values in parse_qs(parts.query).items()}
    unknown = set(query) - {"starttls"}
    if unknown:
        raise ValueError(f"unknown SMTP URL parameters: {sorted(unknown)}")

    if scheme == "smtps":
        tls = TlsMode.IMPLICIT
    elif scheme == "smtp+starttls":
        tls = TlsMode.STARTTLS
    elif "starttls" in query:
        if query["starttls"] not in _STARTTLS_FLAGS:
            raise ValueError("starttls must be 1 or 0")
        tls = TlsMode.STARTTLS if _STARTTLS_FLAGS[query["starttls"]] else TlsMode.OFF
    else:
        tls = TlsMode.OPPORTUNISTIC
    if "starttls" in query and scheme != "smtp":
        raise ValueError("starttls= only applies to smtp:// URLs")

    if parts.username is not None:
        username = unquote(parts.username)
        password = unquote(parts.password) if parts.password is not None else None
    return SmtpServer(parts.hostname, parts.port or _DEFAULT_PORTS[scheme], tls, username, password)


def build_message(from_address: str, to_address: str, message: RenderedNotification) -> EmailMessage:
    """Text part, then HTML (readers show the last part they can render); the Message-ID is in the From domain."""
    email = EmailMessage()
    try:
        email["From"] = from_address
        email["To"] = to_address
        email["Subject"] = message.subject
    except ValueError as error:
        raise PermanentNotificationFailure(f"cannot address an email to {to_address!r}: {error}") from error
    email["Date"] = formatdate(usegmt=True)
    email["Message-ID"] = make_msgid(domain=parseaddr(from_address)[1].rpartition("@")[2])
    # RFC 3834: tells auto-responders not to answer.
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(message.text)
    email.add_alternative(message.html, subtype="html")
    return email


class SmtpSender:
    """Sends each notification over its own SMTP session (notifications are few; no pool to go stale)."""

    def __init__(self, settings: SmtpSettings, *, ssl_context: ssl.SSLContext | None = None) -> None:
        password = settings.password.get_secret_value() if settings.password else None
        self._server = parse_smtp_url(settings.url, settings.username, password)
        if "@" not in parseaddr(settings.from_address)[1]:
            raise ValueError(f"from_address has no email address: {settings.from_address!r}")
        self._from = settings.from_address
        self._timeout = settings.timeout_seconds
        self._tls = ssl_context or ssl.create_default_context(cafile=settings.ca_file)

    def send(self, address: str, message: RenderedNotification) -> None:
        email = build_message(self._from, address, message)
        try:
            self._send(email)
        except NotificationFailed:
            raise
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            replies = "; ".join(f"{code} {reply.decode(errors='replace')}" for code, reply in error.recipients.values())
            raise _kind_of_reply(*codes)(f"recipient refused: {replies}") from error
        except smtplib.SMTPResponseException as error:
            reply = error.smtp_error
            if isinstance(reply, bytes):
                reply = reply.decode(errors="replace")
            raise _kind_of_reply(error.smtp_code)(f"SMTP server replied {error.smtp_code} {reply}") from error
        except smtplib.SMTPNotSupportedError as error:
            raise PermanentNotificationFailure(f"SMTP server does not support what we need: {error}") from error
        except ssl.SSLCertVerificationError as error:
            raise PermanentNotificationFailure(f"SMTP server certificate not trusted: {error}") from error
        except (smtplib.SMTPException, OSError) as error:
            raise TransientNotificationFailure(f"SMTP connection failed: {error!r}") from error

    def _send(self, email: EmailMessage) -> None:
        server = self._server
        if server.tls is TlsMode.IMPLICIT:
            client: smtplib.SMTP = smtplib.SMTP_SSL(server.host, server.port, timeout=self._timeout, context=self._tls)
        else:
            client = smtplib.SMTP(server.host, server.port, timeout=self._timeout)
        with client:
            client.ehlo()
            encrypted = server.tls is TlsMode.IMPLICIT
            offers_starttls = client.has_extn("starttls")
            if server.tls is TlsMode.STARTTLS and not offers_starttls:
                raise PermanentNotificationFailure("SMTP server does not offer STARTTLS, which is required")
            if server.tls in (TlsMode.STARTTLS, TlsMode.OPPORTUNISTIC) and offers_starttls:
                client.starttls(context=self._tls)
                client.ehlo()
                encrypted = True
            if server.username is not None:
                if not encrypted:
                    raise PermanentNotificationFailure(
                        "refusing to send SMTP credentials over an unencrypted connection"
                    )
                client.login(server.username, server.password or "")
            client.send_message(email)
