"""One `certdeploy serve` for the whole acceptance suite, started as a user starts it, with a local SMTP server and a
local DingTalk-style bot receiver for its notifications.

The tests act as users do: the admin CLI (`certdeploy --data DIR account create …`, `cloud load`, `cert issue`) for
what an operator does, the official CAS SDK for everything else; they read what arrives at the two receivers, and the
service's log only to know that a queue message was delivered twice.
The service ticks every second and retries a failed deploy after one second, so scheduled jobs and retries happen
while the suite waits.
"""

from __future__ import annotations

import asyncio
import email
import json
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from aiosmtpd.controller import Controller
from alibabacloud_cas20200407 import models as cas
from alibabacloud_cas20200407.client import Client as CasClient
from alibabacloud_tea_openapi.utils_models import Config

from tests.certgen import GeneratedCert
from tests.functional.serve_process import ServeProcess, child_environment, run_cli, serve
from tests.rpc_calls import raw_call

MAIL_FROM = "certdeploy <noreply@certdeploy.test>"
BOT_TOKEN = "acceptance-token"
# A notify invocation that waits longer than the queue's visibility timeout on a slow mail server outlives its
# message, so the queue delivers that message again: the contacts must still get one mail each.
VISIBILITY_SECONDS = 2
HELD_MAIL_SECONDS = 3.0
JOB_TIMEOUT_SECONDS = 30.0


# --------------------------------------------------------------------------------------------- receivers


@dataclass(frozen=True)
class Mail:
    sender: str
    recipient: str
    subject: str
    text: str
    html: str


class SmtpInbox:
    """aiosmtpd handler keeping every message per recipient; `hold_next_mail_to` answers the next mail to one
    address late."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mails: list[Mail] = []
        self._holds: dict[str, float] = {}

    def hold_next_mail_to(self, recipient: str, seconds: float) -> None:
        with self._lock:
            self._holds[recipient] = seconds

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            hold = max((self._holds.pop(rcpt, 0.0) for rcpt in envelope.rcpt_tos), default=0.0)
        if hold:
            await asyncio.sleep(hold)
        message = email.message_from_bytes(envelope.original_content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        # The wire's CRLF line ends read back as LF.
        bodies = {part.get_content_type(): part.get_content().replace("\r\n", "\n") for part in message.iter_parts()}
        # A long subject is folded right after "Subject:"; unfolding keeps the space that starts the next line,
        # which mail readers drop.
        subject = str(message["Subject"]).strip()
        with self._lock:
            for recipient in envelope.rcpt_tos:
                self._mails.append(
                    Mail(str(message["From"]), recipient, subject, bodies["text/plain"], bodies["text/html"])
                )
        return "250 Message accepted"

    def about_job(self, job_id: int) -> list[Mail]:
        with self._lock:
            return [mail for mail in self._mails if f"(ID {job_id})" in mail.subject]


@dataclass(frozen=True)
class BotPost:
    path: str
    query: dict[str, str]
    body: dict[str, Any]


class BotReceiver(ThreadingHTTPServer):
    """Answers like a DingTalk group bot and keeps what it was sent."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _BotHandler)
        self.posts: list[BotPost] = []
        self.lock = threading.Lock()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/robot/send?access_token={BOT_TOKEN}"

    def about_job(self, job_id: int) -> list[BotPost]:
        with self.lock:
            return [post for post in self.posts if f"(ID {job_id})" in post.body["markdown"]["title"]]


class _BotHandler(BaseHTTPRequestHandler):
    server: BotReceiver

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.posts.append(BotPost(parts.path, dict(parse_qsl(parts.query)), body))
        reply = json.dumps({"errcode": 0, "errmsg": "ok"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads `posts`."""


# --------------------------------------------------------------------------------------------- the service


@dataclass(frozen=True)
class AccountKeys:
    name: str
    user_id: int
    access_key_id: str
    access_key_secret: str


@dataclass
class Service:
    process: ServeProcess
    data: Path
    inbox: SmtpInbox
    bots: BotReceiver
    secrets: list[str] = field(default_factory=list)

    def admin(self, *arguments: str) -> str:
        """An admin command on the service's data directory, beside the running server; its stdout."""
        done = run_cli(["--data", str(self.data), *arguments])
        assert done.returncode == 0, f"certdeploy {' '.join(arguments)}: {done.stderr}"
        return done.stdout

    def create_account(self, name: str, *, quota: int = 0, inventory: Path | None = None) -> AccountKeys:
        created = json.loads(self.admin("account", "create", name, "--quota", str(quota)))
        self.secrets.append(created["AccessKeySecret"])
        if inventory is not None:
            self.admin("cloud", "load", str(inventory), "--account", name)
        return AccountKeys(name, created["UserId"], created["AccessKeyId"], created["AccessKeySecret"])

    def issue(self, account: str, domains: str, *options: str) -> int:
        """`certdeploy cert issue`: an official certificate from the local CA; its CertId."""
        issued = self.admin("cert", "issue", "--account", account, "--domains", domains, "--json", *options)
        return int(json.loads(issued)["CertId"])

    def client(self, keys: AccountKeys, *, secret: str | None = None) -> CasClient:
        return CasClient(
            Config(
                endpoint=f"127.0.0.1:{self.process.port}",
                protocol="http",
                access_key_id=keys.access_key_id,
                access_key_secret=secret if secret is not None else keys.access_key_secret,
                read_timeout=20_000,
            )
        )


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    inbox = SmtpInbox()
    smtp_port = free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    bots = BotReceiver()
    threading.Thread(target=bots.serve_forever, args=(0.1,), daemon=True).start()
    env = child_environment(
        CERTDEPLOY_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}?starttls=0",
        CERTDEPLOY_MAIL_FROM=MAIL_FROM,
        CERTDEPLOY_WEBHOOK_ALLOW_HOSTS=f"127.0.0.1:{bots.port}",
        CERTDEPLOY_DEPLOY_RETRY_BASE_SECONDS="1",
        CERTDEPLOY_QUEUE_VISIBILITY_SECONDS=str(VISIBILITY_SECONDS),
        # The local cloud serves TLS, so each deployment is verified over a real handshake (README "Verification").
        CERTDEPLOY_LOCAL_TLS_PORT="0",
    )
    data = tmp_path_factory.mktemp("acceptance") / "data"
    try:
        with serve(data, "--tick", "1", "--log-level", "debug", env=env) as process:
            service = Service(process, data, inbox, bots)
            yield service
            assert process.terminate() == 0, process.output
            # The whole suite's walk, logged at debug: no private key, certificate or AccessKey secret in it.
            leaks = [marker for marker in ("-----BEGIN", "PRIVATE KEY", *service.secrets) if marker in process.output]
            assert not leaks, f"the service logged {leaks}"
            # Uploads sent in the query string (the walkthrough's) are logged with the key's value redacted.
            assert all(value.startswith("***") for value in process.output.split("Key=")[1:])
    finally:
        bots.shutdown()
        bots.server_close()
        smtp.stop()


def free_port() -> int:
    """A port nobody listens on now (aiosmtpd's Controller cannot be started on port 0: it connects to its port)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def rival(service: Service) -> AccountKeys:
    """Another tenant of the same service: nothing of the others' is visible to it."""
    return service.create_account("rival")


# --------------------------------------------------------------------------------------------- SDK helpers


def call(client: CasClient, action: str, **query: Any) -> dict[str, Any]:
    """An action through the SDK's generic path, for the whole JSON body (the typed models drop a worker's
    ErrorCode/ErrorMessage and the preview's ExcludedResources)."""
    return raw_call(client, action, query)


def upload(client: CasClient, name: str, generated: GeneratedCert) -> int:
    request = cas.UploadUserCertificateRequest(name=name, cert=generated.chain_pem, key=generated.key_pem)
    return client.upload_user_certificate(request).body.cert_id


def create_job(
    client: CasClient,
    name: str,
    cert_ids: list[int],
    resource_ids: list[int],
    contact_ids: Sequence[int] = (),
    schedule_time: int | None = None,
) -> int:
    request = cas.CreateDeploymentJobRequest(
        name=name,
        job_type="user",
        cert_ids=",".join(map(str, cert_ids)),
        resource_ids=",".join(map(str, resource_ids)),
        contact_ids=",".join(map(str, contact_ids)) or None,
        schedule_time=schedule_time,
    )
    return client.create_deployment_job(request).body.job_id


def submit(client: CasClient, job_id: int, status: str = "scheduling") -> None:
    client.update_deployment_job_status(cas.UpdateDeploymentJobStatusRequest(job_id=job_id, status=status))


def job(client: CasClient, job_id: int) -> cas.DescribeDeploymentJobResponseBody:
    return client.describe_deployment_job(cas.DescribeDeploymentJobRequest(job_id=job_id)).body


def progress(client: CasClient, job_id: int) -> cas.DescribeDeploymentJobStatusResponseBody:
    return client.describe_deployment_job_status(cas.DescribeDeploymentJobStatusRequest(job_id=job_id)).body


def wait_until_finished(
    client: CasClient, job_id: int, timeout: float = JOB_TIMEOUT_SECONDS
) -> cas.DescribeDeploymentJobStatusResponseBody:
    """Poll as deployment tools do: finished when every worker succeeded or failed and the job is success/error."""
    deadline = time.monotonic() + timeout
    while True:
        counts = progress(client, job_id)
        status = job(client, job_id).status
        if status in ("success", "error") and counts.success_count + counts.failed_count == counts.worker_count:
            return counts
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {status} after {timeout:.0f} s")
        time.sleep(0.2)


def workers_by_product(client: CasClient, job_id: int) -> dict[str, dict[str, Any]]:
    """Product code → the Worker as the wire has it (ErrorCode/ErrorMessage included)."""
    return {worker["CloudProduct"]: worker for worker in call(client, "ListWorkerResource", JobId=job_id)["Data"]}


def resources_by_domain(client: CasClient) -> dict[str, cas.ListCloudResourcesResponseBodyData]:
    """Domain → resource, for worlds with one resource per domain (InstanceId is only answered for listeners)."""
    listed = client.list_cloud_resources(cas.ListCloudResourcesRequest(show_size=100)).body
    return {resource.domain: resource for resource in listed.data}
