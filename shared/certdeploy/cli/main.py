"""The `certdeploy` command: `serve` (the local runner), admin commands on the data directory, user commands over
the API (`certs`, `resources`, `contacts`, `jobs`, `windows`, one module each), and `completion` for the shells.

Admin commands open the same store, queues and local cloud as a running `serve` with the same `--data` (SQLite in
WAL mode lets several processes share them). Every failure is one line on stderr and a non-zero exit status: an
error the API answered reads `Code: Message (RequestId)`; with `--json` the line is a JSON object with those fields
(only `Message` when nothing answered).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import Any

import shtab
from pydantic import ValidationError

from certdeploy.adapters.local_ca import LocalCa, LocalCaError
from certdeploy.adapters.local_inventory import InventoryError
from certdeploy.adapters.sql.migrate import upgrade
from certdeploy.app.accounts import DEFAULT_ACCOUNT, create_account
from certdeploy.app.certificates import add_certificate
from certdeploy.bootstrap.container import Container, build_container
from certdeploy.bootstrap.settings import Settings
from certdeploy.cli import certs as cli_certs
from certdeploy.cli import contacts as cli_contacts
from certdeploy.cli import jobs as cli_jobs
from certdeploy.cli import resources as cli_resources
from certdeploy.cli import windows as cli_windows
from certdeploy.cli.api import ApiCallError, positive_int
from certdeploy.domain.errors import DomainError
from certdeploy.domain.models import CertAlgorithm, CertOrigin
from certdeploy.local.runner import FunctionsNotFound, InventoryNotLocal, RunnerOptions, load_inventory, serve
from certdeploy.ports.queue import QueueError
from certdeploy.ports.store.errors import StoreError

PROGRAM = "certdeploy"
_CERT_NAME_LENGTH = 63


class CommandError(Exception):
    """A command cannot do what was asked; the message is shown as is."""


# Errors that are the user's to fix, shown as one line; anything else is a bug and keeps its traceback.
_USER_ERRORS: tuple[type[BaseException], ...] = (
    CommandError,
    DomainError,
    InventoryError,
    InventoryNotLocal,
    LocalCaError,
    FunctionsNotFound,
    StoreError,
    QueueError,
    ValidationError,
    OSError,
    ApiCallError,
)


def _common_options(parser: argparse.ArgumentParser, *, top_level: bool, data: bool = True) -> None:
    # Accepted before and after the command; the later one wins. SUPPRESS keeps a subcommand from resetting it.
    if data:
        parser.add_argument(
            "--data",
            type=Path,
            default=None if top_level else argparse.SUPPRESS,
            help="directory holding all state (default ./.certdeploy, env CERTDEPLOY_DATA)",
        )
    parser.add_argument(
        "--json",
        action="store_true",
        default=False if top_level else argparse.SUPPRESS,
        help="print machine-readable JSON",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROGRAM, description="Self-hostable certificate deployment, CAS 2020-04-07 compatible."
    )
    _common_options(parser, top_level=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        parent: Any, name: str, handler: Callable[[argparse.Namespace], int], help_text: str, *, data: bool = True
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = parent.add_parser(name, help=help_text, description=help_text)
        _common_options(sub, top_level=False, data=data)
        sub.set_defaults(handler=handler)
        return sub

    serve_parser = command(commands, "serve", _serve, "run the API, timer and queue consumers in one process")
    serve_parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve_parser.add_argument("--port", type=int, default=8787, help="port to listen on; 0 picks a free one")
    serve_parser.add_argument("--inventory", type=Path, help="load this inventory into the local cloud at start")
    serve_parser.add_argument("--tick", type=_positive_float, default=10.0, help="seconds between scheduler ticks")
    serve_parser.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="level of certdeploy's own log (default info; debug adds the HTTP front's access log, redacted)",
    )

    command(commands, "migrate", _migrate, "create or upgrade the database schema (Alembic)")

    account = commands.add_parser("account", help="accounts and their AccessKeys").add_subparsers(
        dest="account_command", required=True, metavar="ACTION"
    )
    create = command(account, "create", _account_create, "create an account with its first AccessKey")
    create.add_argument("name")
    create.add_argument("--quota", type=_non_negative_int, default=0, help="deployment quota to start with")
    update = command(account, "update", _account_update, "change an account's settings")
    update.add_argument("name")
    update.add_argument("--hosting", choices=("on", "off"), required=True, help="hosted deployment of renewals")

    quota = commands.add_parser("quota", help="deployment quota").add_subparsers(
        dest="quota_command", required=True, metavar="ACTION"
    )
    quota_add = command(quota, "add", _quota_add, "add purchased deployment quota to an account")
    quota_add.add_argument("name")
    quota_add.add_argument("count", type=positive_int)

    cloud = commands.add_parser("cloud", help="the local cloud").add_subparsers(
        dest="cloud_command", required=True, metavar="ACTION"
    )
    cloud_load = command(cloud, "load", _cloud_load, "load an inventory file and sync the account's resources")
    cloud_load.add_argument("file", type=Path)
    cloud_load.add_argument("--account", default=DEFAULT_ACCOUNT, help=f"account name (default {DEFAULT_ACCOUNT})")

    cert = commands.add_parser("cert", help="certificates").add_subparsers(
        dest="cert_command", required=True, metavar="ACTION"
    )
    issue = command(cert, "issue", _cert_issue, "issue an official (free) certificate from the local CA")
    issue.add_argument("--account", required=True, help="account name")
    issue.add_argument("--domains", required=True, help="comma-separated, e.g. a.example.com,*.example.com")
    issue.add_argument("--days", type=positive_int, default=90, help="validity in days (default 90)")
    issue.add_argument("--name", help="certificate name (default: from the first domain and the time)")
    key_type = issue.add_mutually_exclusive_group()
    key_type.add_argument("--sm2", action="store_true", help="an SM2 certificate (needs the openssl command)")
    key_type.add_argument("--ecc", action="store_true", help="an ECDSA P-256 certificate (default RSA 2048)")

    for noun in (cli_certs, cli_resources, cli_contacts, cli_jobs, cli_windows):
        noun.add_commands(commands, command)

    completion = command(
        commands, "completion", _completion, "print the completion script of a shell, e.g. for ~/.bashrc", data=False
    )
    completion.add_argument("shell", choices=shtab.SUPPORTED_SHELLS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except BrokenPipeError:
        # The reader stopped reading (`certdeploy certs list | head`): nothing to say, and stdout goes to devnull so
        # that the interpreter's last flush does not fail again (the Python docs' advice for SIGPIPE).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except _USER_ERRORS as exc:
        if args.json:
            fields = exc.as_json() if isinstance(exc, ApiCallError) else {"Message": _one_line(exc)}
            print(json.dumps(fields, ensure_ascii=False), file=sys.stderr)
        else:
            print(f"{PROGRAM}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROGRAM}: interrupted", file=sys.stderr)
        return 130


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors(include_url=False)[0]
        return f"{'.'.join(str(part) for part in first['loc'])}: {first['msg']}"
    message = str(exc) if isinstance(exc, ApiCallError) else getattr(exc, "message", None) or str(exc)
    message = message or type(exc).__name__
    return " ".join(str(message).split())


# --------------------------------------------------------------------------------------------- argument types


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


# --------------------------------------------------------------------------------------------- helpers


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings(data=args.data) if args.data is not None else Settings()


@contextmanager
def _container(args: argparse.Namespace) -> Iterator[Container]:
    container = build_container(settings_from(args))
    try:
        yield container
    finally:
        container.close()


def _emit(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    print(json.dumps(data) if args.json else text)


# --------------------------------------------------------------------------------------------- commands


def _serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("certdeploy").setLevel(args.log_level.upper())
    # Only certdeploy's own loggers follow --log-level: libraries at debug log what they send and receive.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("uvicorn").setLevel(logging.WARNING)
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    settings = settings_from(args)
    consumers = {} if settings.local_consumers is None else {"deploy_consumers": settings.local_consumers}
    serve(
        settings,
        RunnerOptions(host=args.host, port=args.port, tick_seconds=args.tick, **consumers),
        inventory=args.inventory,
        stop=stop,
    )
    return 0


def _completion(args: argparse.Namespace) -> int:
    print(shtab.complete(build_parser(), shell=args.shell))
    return 0


def _migrate(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    upgrade(settings.store_url, key_encryption_key=settings.known_encryption_key())
    _emit(args, {"Migrated": True}, "The database schema is up to date.")
    return 0


def _account_create(args: argparse.Namespace) -> int:
    with _container(args) as container:
        credentials = create_account(container.store, args.name, quota=args.quota)
    print(
        json.dumps(
            {
                "UserId": credentials.account.id,
                "AccessKeyId": credentials.access_key_id,
                "AccessKeySecret": credentials.access_key_secret,
            }
        )
    )
    return 0


def _account_update(args: argparse.Namespace) -> int:
    with _container(args) as container:
        account = container.store.accounts.find(args.name)
        account = container.store.accounts.set_hosting(account.id, args.hosting == "on")
    _emit(
        args,
        {"UserId": account.id, "Name": account.name, "Hosting": account.hosting},
        f"Account '{account.name}': hosting {'on' if account.hosting else 'off'}.",
    )
    return 0


def _quota_add(args: argparse.Namespace) -> int:
    with _container(args) as container:
        account = container.store.accounts.find(args.name)
        balance = container.store.quota.add(account.id, args.count)
    _emit(
        args,
        {"UserId": account.id, "Name": account.name, "BuyCount": balance.buy_count, "UseCount": balance.use_count},
        f"Account '{account.name}': BuyCount {balance.buy_count}, UseCount {balance.use_count}.",
    )
    return 0


def _cloud_load(args: argparse.Namespace) -> int:
    with _container(args) as container:
        account = container.store.accounts.find(args.account)
        count = load_inventory(container, account.id, args.file)
    _emit(
        args,
        {"UserId": account.id, "Name": account.name, "ResourceCount": count},
        f"Loaded {args.file} into the local cloud: account '{account.name}' has {count} resources.",
    )
    return 0


def _cert_issue(args: argparse.Namespace) -> int:
    domains = [domain.strip() for domain in args.domains.split(",") if domain.strip()]
    if not domains:
        raise CommandError("--domains needs at least one domain name.")
    algorithm = CertAlgorithm.SM2 if args.sm2 else CertAlgorithm.ECC if args.ecc else CertAlgorithm.RSA
    settings = settings_from(args)
    with _container(args) as container:
        account = container.store.accounts.find(args.account)
        issued = LocalCa(settings.data / "local-ca", clock=container.deps.clock).issue(
            domains, days=args.days, algorithm=algorithm
        )
        name = args.name or _certificate_name(domains[0], container.deps.clock.now())
        cert = add_certificate(
            container.deps,
            account.id,
            name=name,
            origin=CertOrigin.FREE,
            cert_pem=issued.cert_pem,
            key_pem=issued.key_pem,
        )
    _emit(
        args,
        {
            "CertId": cert.id,
            "Name": cert.name,
            "Algorithm": str(cert.algorithm),
            "Domains": list(cert.names),
            "NotAfter": int(cert.not_after.timestamp() * 1000),
        },
        str(cert.id),
    )
    return 0


def _certificate_name(first_domain: str, now: datetime) -> str:
    stamp = now.astimezone(timezone.utc).strftime("%Y%m%d%H%M%S%f")
    label = first_domain.replace("*", "wildcard")
    return f"{label[: _CERT_NAME_LENGTH - len(stamp) - 1]}-{stamp}"
