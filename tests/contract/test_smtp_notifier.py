"""The SMTP sender against a real local SMTP server (aiosmtpd): what arrives, over which transport, and how
failures are classified."""

from __future__ import annotations

import email
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import SecretStr

from certdeploy.adapters.notify import RenderedNotification
from certdeploy.adapters.notify.smtp import SmtpSender, SmtpSettings, TlsMode, parse_smtp_url
from certdeploy.domain.failures import NotificationFailed, Permanent, Transient
from tests.certgen import GeneratedCert, make_ca, make_cert
from tests.contract.notifier_support import failed_job_notification, server_tls_context

FROM = "certdeploy <noreply@certdeploy.test>"
TO = "ops@example.com"
USER, PASSWORD = "mailer", "p@ss word"


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    over_tls: bool
    authenticated: bool


class Inbox:
    """aiosmtpd handler: keeps what it is given; answers RCPT with `rcpt_reply` when set."""

    def __init__(self, rcpt_reply: str | None = None) -> None:
        self.received: list[Received] = []
        self.rcpt_reply = rcpt_reply

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        self.received.append(
            Received(
                envelope.mail_from, list(envelope.rcpt_tos), message, session.ssl is not None, session.authenticated
            )
        )
        return "250 Message accepted"


def check_login(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    # handled=False: aiosmtpd itself answers a failure with 535.
    return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def ca() -> GeneratedCert:
    return make_ca("certdeploy SMTP test CA")


@pytest.fixture(scope="module")
def server_tls(ca: GeneratedCert, tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    site = make_cert(["localhost"], common_name="localhost", issuer=ca)
    return server_tls_context(site, tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture(scope="module")
def client_tls(ca: GeneratedCert) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=ca.cert_pem)


StartServer = Callable[..., tuple[Inbox, int]]


@pytest.fixture
def smtp_server() -> Iterator[StartServer]:
    """Starts aiosmtpd on 127.0.0.1 with the given SMTP options; returns its inbox and port."""
    controllers: list[Controller] = []

    def start(inbox: Inbox | None = None, **options: Any) -> tuple[Inbox, int]:
        inbox = inbox or Inbox()
        port = free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
        controller.start()
        controllers.append(controller)
        return inbox, port

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture(scope="module")
def rendered() -> RenderedNotification:
    return failed_job_notification("www <rotation>")


def sender(url: str, tls: ssl.SSLContext | None = None, **settings: Any) -> SmtpSender:
    return SmtpSender(SmtpSettings(url=url, from_address=FROM, timeout_seconds=5, **settings), ssl_context=tls)


def parts(message: EmailMessage) -> dict[str, str]:
    """Each part's text, with the wire's CRLF line ends read back as LF."""
    return {part.get_content_type(): part.get_content().replace("\r\n", "\n") for part in message.iter_parts()}


# ------------------------------------------------------------------------------------------ delivery


def test_plain_smtp_delivers_one_multipart_alternative_message(
    smtp_server: StartServer, rendered: RenderedNotification
) -> None:
    # GIVEN a server without TLS
    inbox, port = smtp_server()
    # WHEN a notification is sent with smtp:// (STARTTLS only if offered)
    sender(f"smtp://127.0.0.1:{port}").send(TO, rendered)
    # THEN exactly one message arrives, addressed as configured, with both parts
    [received] = inbox.received
    assert (received.mail_from, received.rcpt_tos, received.over_tls) == ("noreply@certdeploy.test", [TO], False)
    message = received.message
    assert message["From"] == FROM
    assert message["To"] == TO
    assert message["Subject"] == rendered.subject
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@certdeploy.test>")
    assert message["Date"]
    assert message.get_content_type() == "multipart/alternative"
    assert parts(message) == {"text/plain": rendered.text, "text/html": rendered.html}


def test_opportunistic_starttls_upgrades_when_offered(
    smtp_server: StartServer, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext, rendered: RenderedNotification
) -> None:
    # GIVEN a server that offers STARTTLS and refuses mail without it
    inbox, port = smtp_server(tls_context=server_tls, require_starttls=True)
    # WHEN sent with plain smtp://
    sender(f"smtp://localhost:{port}", client_tls).send(TO, rendered)
    # THEN the session was upgraded and the mail accepted
    [received] = inbox.received
    assert received.over_tls


def test_required_starttls_refuses_a_server_without_it(
    smtp_server: StartServer, client_tls: ssl.SSLContext, rendered: RenderedNotification
) -> None:
    inbox, port = smtp_server()
    for url in (f"smtp+starttls://localhost:{port}", f"smtp://localhost:{port}?starttls=1"):
        with pytest.raises(NotificationFailed, match="does not offer STARTTLS") as failure:
            sender(url, client_tls).send(TO, rendered)
        assert isinstance(failure.value, Permanent)
    assert inbox.received == []


def test_untrusted_server_certificate_is_a_permanent_failure_not_a_downgrade(
    smtp_server: StartServer, server_tls: ssl.SSLContext, rendered: RenderedNotification
) -> None:
    # GIVEN a STARTTLS server whose CA the client does not trust
    inbox, port = smtp_server(tls_context=server_tls)
    # WHEN sent with the system trust store
    with pytest.raises(NotificationFailed, match="certificate not trusted") as failure:
        sender(f"smtp://localhost:{port}").send(TO, rendered)
    # THEN nothing was sent in plain text instead
    assert isinstance(failure.value, Permanent)
    assert inbox.received == []


def test_implicit_tls_with_smtps(
    smtp_server: StartServer, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext, rendered: RenderedNotification
) -> None:
    inbox, port = smtp_server(ssl_context=server_tls)
    sender(f"smtps://localhost:{port}", client_tls).send(TO, rendered)
    [received] = inbox.received
    assert received.message["Subject"] == rendered.subject


# ---------------------------------------------------------------------------------------------- auth


def test_credentials_from_the_url_log_in_over_starttls(
    smtp_server: StartServer, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext, rendered: RenderedNotification
) -> None:
    inbox, port = smtp_server(tls_context=server_tls, authenticator=check_login, auth_required=True)
    sender(f"smtp+starttls://{USER}:p%40ss%20word@localhost:{port}", client_tls).send(TO, rendered)
    [received] = inbox.received
    assert received.authenticated and received.over_tls


def test_credentials_from_settings_log_in(
    smtp_server: StartServer, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext, rendered: RenderedNotification
) -> None:
    inbox, port = smtp_server(tls_context=server_tls, authenticator=check_login, auth_required=True)
    sender(f"smtp://localhost:{port}", client_tls, username=USER, password=SecretStr(PASSWORD)).send(TO, rendered)
    assert [received.authenticated for received in inbox.received] == [True]


def test_wrong_password_is_a_permanent_failure(
    smtp_server: StartServer, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext, rendered: RenderedNotification
) -> None:
    inbox, port = smtp_server(tls_context=server_tls, authenticator=check_login, auth_required=True)
    with pytest.raises(NotificationFailed, match="535") as failure:
        sender(f"smtp+starttls://{USER}:wrong@localhost:{port}", client_tls).send(TO, rendered)
    assert isinstance(failure.value, Permanent)
    assert inbox.received == []


def test_credentials_are_never_sent_over_plain_text(smtp_server: StartServer, rendered: RenderedNotification) -> None:
    # GIVEN a server that would accept AUTH without TLS
    inbox, port = smtp_server(authenticator=check_login, auth_require_tls=False)
    # WHEN credentials are configured but the connection cannot be encrypted
    with pytest.raises(NotificationFailed, match="unencrypted") as failure:
        sender(f"smtp://{USER}:x@127.0.0.1:{port}").send(TO, rendered)
    assert isinstance(failure.value, Permanent)
    assert inbox.received == []


# ------------------------------------------------------------------------------------------ failures


def test_5xx_reply_is_a_permanent_failure(smtp_server: StartServer, rendered: RenderedNotification) -> None:
    inbox, port = smtp_server(Inbox(rcpt_reply="550 5.1.1 Mailbox does not exist"))
    with pytest.raises(NotificationFailed, match="550") as failure:
        sender(f"smtp://127.0.0.1:{port}").send(TO, rendered)
    assert isinstance(failure.value, Permanent)
    assert inbox.received == []


def test_4xx_reply_is_transient(smtp_server: StartServer, rendered: RenderedNotification) -> None:
    _, port = smtp_server(Inbox(rcpt_reply="451 4.3.0 Try again later"))
    with pytest.raises(NotificationFailed, match="451") as failure:
        sender(f"smtp://127.0.0.1:{port}").send(TO, rendered)
    assert isinstance(failure.value, Transient)


def test_unreachable_server_is_transient(rendered: RenderedNotification) -> None:
    with pytest.raises(NotificationFailed, match="connection failed") as failure:
        sender(f"smtp://127.0.0.1:{free_port()}").send(TO, rendered)
    assert isinstance(failure.value, Transient)


def test_a_recipient_that_is_not_an_address_is_permanent(rendered: RenderedNotification) -> None:
    with pytest.raises(NotificationFailed, match="cannot address") as failure:
        sender("smtp://127.0.0.1:1").send("ops@example.com\r\nBcc: someone@example.com", rendered)
    assert isinstance(failure.value, Permanent)


# -------------------------------------------------------------------------------------------- the URL


@pytest.mark.parametrize(
    ("url", "tls", "port"),
    [
        ("smtp://mail.example.com", TlsMode.OPPORTUNISTIC, 25),
        ("smtp://mail.example.com:2525?starttls=0", TlsMode.OFF, 2525),
        ("smtp://mail.example.com?starttls=1", TlsMode.STARTTLS, 25),
        ("smtp+starttls://mail.example.com", TlsMode.STARTTLS, 587),
        ("smtps://mail.example.com", TlsMode.IMPLICIT, 465),
    ],
)
def test_url_scheme_chooses_the_transport(url: str, tls: TlsMode, port: int) -> None:
    server = parse_smtp_url(url)
    assert (server.host, server.port, server.tls) == ("mail.example.com", port, tls)


def test_url_credentials_win_over_settings_and_never_show_in_repr() -> None:
    server = parse_smtp_url("smtps://u%40x:s%3Acret@mail.example.com", "settings-user", "settings-password")
    assert (server.username, server.password) == ("u@x", "s:cret")
    assert "s:cret" not in repr(server)
    assert "s:cret" not in repr(SmtpSettings(url="smtps://u:s:cret@mail.example.com", from_address=FROM))


@pytest.mark.parametrize(
    "url",
    [
        "http://mail.example.com",
        "smtp://",
        "smtp://mail.example.com?starttls=maybe",
        "smtps://h?starttls=1",
        "smtp://h?x=1",
    ],
)
def test_unusable_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ValueError):
        parse_smtp_url(url)


def test_a_from_address_without_an_address_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="from_address"):
        SmtpSender(SmtpSettings(url="smtp://mail.example.com", from_address="certdeploy"))
