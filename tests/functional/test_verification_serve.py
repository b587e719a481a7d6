"""`certdeploy serve` with the local cloud's TLS: the demo as a user sees it — the router's address printed at start,
a job created with `--verify-mismatch`, its verification in `jobs show`, and what a TLS client (as `openssl s_client
-servername`) gets from the router before the deployment, after it and after its rollback."""

from __future__ import annotations

import json
import re
import socket
import ssl
from collections.abc import Iterator

import pytest
from cryptography import x509

from certdeploy.app.accounts import DEFAULT_ACCOUNT
from certdeploy.bootstrap.container import build_container
from certdeploy.bootstrap.settings import Settings
from certdeploy.cli.main import main
from certdeploy.domain.models import Product
from tests.functional.serve_process import REPO, ServeProcess, child_environment, serve, wait_for

KEY_ID, KEY_SECRET = "LTAIverifytestkey001", "verify-test-secret"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    data = tmp_path_factory.mktemp("serve-tls") / "data"
    env = child_environment(
        CERTDEPLOY_ACCESS_KEY_ID=KEY_ID, CERTDEPLOY_ACCESS_KEY_SECRET=KEY_SECRET, CERTDEPLOY_LOCAL_TLS_PORT="0"
    )
    with serve(data, "--inventory", str(REPO / "demo" / "inventory.yaml"), "--tick", "0.5", env=env) as running:
        yield running
        running.terminate()


def _cli(capsys: pytest.CaptureFixture[str], *arguments: str) -> str:
    assert main(list(arguments)) == 0
    return capsys.readouterr().out


def _api(server: ServeProcess) -> tuple[str, ...]:
    return ("--endpoint", server.endpoint, "--access-key-id", KEY_ID, "--access-key-secret", KEY_SECRET)


def _served(address: tuple[str, int], server_name: str) -> x509.Certificate | None:
    """The leaf the router serves for `server_name`; None when the handshake fails (no certificate there)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection(address, timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=server_name) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except ssl.SSLError:
        return None
    return x509.load_der_x509_certificate(der) if der else None


@pytest.mark.slow
def test_the_demo_shows_a_verified_deployment_and_its_rollback_over_tls(
    capsys: pytest.CaptureFixture[str], server: ServeProcess
) -> None:
    printed = re.search(r"serves TLS on 127\.0\.0\.1:(\d+)", server.output)
    assert printed, server.output
    router = ("127.0.0.1", int(printed.group(1)))
    assert _served(router, "api.example.com") is None  # the API Gateway domain has no certificate yet

    cert_id = _cli(capsys, "--data", str(server.data), "cert", "issue", "--account", DEFAULT_ACCOUNT,
                   "--domains", "api.example.com")  # fmt: skip
    view = build_container(Settings(data=server.data))
    try:
        account = view.store.accounts.find(DEFAULT_ACCOUNT)
        gateway = next(
            r.id for r in view.store.resources.search(account.id, page_size=50).items if r.product is Product.APIGATEWAY
        )
    finally:
        view.close()
    create = ("jobs", "create", *_api(server), "--name", "verified", "--certs", cert_id.strip())
    options = ("--resources", str(gateway), "--verify-mismatch", "rollback", "--yes", "--json")
    created = json.loads(_cli(capsys, *create, *options))
    assert created["Job"]["Status"] == "success"
    job_id = str(created["JobId"])
    shown = json.loads(_cli(capsys, "jobs", "show", job_id, *_api(server), "--json"))
    (worker,) = shown["Workers"]
    assert (worker["VerifyStatus"], worker["VerifyServerName"]) == ("verified", "api.example.com")
    assert "verified" in _cli(capsys, "jobs", "show", job_id, *_api(server))
    deployed = _served(router, "api.example.com")
    assert deployed is not None and "api.example.com" in deployed.subject.rfc4514_string()

    _cli(capsys, "jobs", "rollback", job_id, str(worker["Id"]), *_api(server))
    wait_for(lambda: _served(router, "api.example.com") is None, "the rollback to show on the router")
