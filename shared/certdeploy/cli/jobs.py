"""User commands (`certdeploy jobs …`): they talk to a running certdeploy — or CAS itself — through the official SDK
`alibabacloud_cas20200407`, with the endpoint and AccessKey from flags or `CERTDEPLOY_ENDPOINT`,
`CERTDEPLOY_ACCESS_KEY_ID`, `CERTDEPLOY_ACCESS_KEY_SECRET`.

Requests are built with the SDK's typed request models and sent through its generic `call_api`, which returns the
response body as the server sent it: the typed responses drop fields the SDK does not know, and certdeploy returns
some (`ExcludedResources` in DescribeDeploymentJobStatus, `ErrorCode`/`ErrorMessage` and the `Verify*` fields on
workers). Parameters of ours (CreateDeploymentJob's `VerifyMismatch`) are added to the typed request's query.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from alibabacloud_cas20200407 import models as cas
from alibabacloud_cas20200407.client import Client as CasClient
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
from alibabacloud_tea_openapi.utils import Utils
from alibabacloud_tea_openapi.utils_models import Config, OpenApiRequest, Params
from darabonba.model import DaraModel
from darabonba.runtime import RuntimeOptions
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.prompt import Confirm
from rich.table import Table
from Tea.exceptions import TeaException

API_VERSION = "2020-04-07"
DEFAULT_ENDPOINT = "http://127.0.0.1:8787"
_PAGE_SIZE = 50
_FINISHED = ("success", "error", "rolled_back")


class ApiCallError(Exception):
    """A call to the API failed; the message says which call and why, on one line."""


class CasApi:
    """The CAS API of one endpoint and AccessKey; `call` answers the raw response body."""

    def __init__(self, endpoint: str, access_key_id: str, access_key_secret: str) -> None:
        parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ApiCallError(f"'{endpoint}' is not an endpoint; give e.g. {DEFAULT_ENDPOINT}")
        self.endpoint = f"{parts.scheme}://{parts.netloc}"
        self._protocol = parts.scheme.upper()
        self._client = CasClient(
            Config(
                endpoint=parts.netloc,
                protocol=parts.scheme,
                access_key_id=access_key_id,
                access_key_secret=access_key_secret,
                connect_timeout=5_000,
                read_timeout=60_000,
            )
        )

    def call(self, action: str, request: DaraModel, extra: dict[str, str] | None = None) -> dict[str, Any]:
        """Call `action`; `extra` adds parameters of ours that the SDK's request model has not."""
        params = Params(
            action=action,
            version=API_VERSION,
            protocol=self._protocol,
            pathname="/",
            method="POST",
            auth_type="AK",
            style="RPC",
            req_body_type="formData",
            body_type="json",
        )
        try:
            response = self._client.call_api(
                params, OpenApiRequest(query={**Utils.query(request.to_map()), **(extra or {})}), RuntimeOptions()
            )
        except AlibabaCloudException as exc:
            data = exc.data if isinstance(exc.data, dict) else {}
            message = data.get("Message") or exc.message
            raise ApiCallError(f"{action}: {exc.code}: {message}") from exc
        except TeaException as exc:
            raise ApiCallError(f"{action}: cannot reach {self.endpoint}: {exc}") from exc
        body = response.get("body")
        if not isinstance(body, dict):
            raise ApiCallError(f"{action}: {self.endpoint} answered something that is not a JSON object")
        return body

    def pages(self, action: str, make_request: Callable[[int], DaraModel]) -> Iterator[dict[str, Any]]:
        """Every item of a paged list (`Data`, `Total`), page by page."""
        page = 1
        while True:
            body = self.call(action, make_request(page))
            items = body.get("Data") or []
            yield from items
            if not items or page * _PAGE_SIZE >= int(body.get("Total") or 0):
                return
            page += 1


# --------------------------------------------------------------------------------------------- arguments


def add_commands(commands: Any, command: Callable[..., argparse.ArgumentParser]) -> None:
    """Add `jobs …` to the `certdeploy` parser; `command(parent, name, handler, help, data=)` makes one subcommand."""
    jobs = commands.add_parser("jobs", help="deployment jobs, over the API").add_subparsers(
        dest="jobs_command", required=True, metavar="ACTION"
    )

    def api_command(name: str, handler: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        sub = command(jobs, name, handler, help_text, data=False)
        sub.add_argument("--endpoint", help=f"API endpoint (env CERTDEPLOY_ENDPOINT, default {DEFAULT_ENDPOINT})")
        sub.add_argument("--access-key-id", help="env CERTDEPLOY_ACCESS_KEY_ID")
        sub.add_argument("--access-key-secret", help="env CERTDEPLOY_ACCESS_KEY_SECRET")
        return sub

    listing = api_command("list", _list, "list jobs")
    listing.add_argument("--status", help="only jobs in this status")
    listing.add_argument("--page", type=int, default=1)
    listing.add_argument("--size", type=int, default=_PAGE_SIZE, help="jobs per page")

    show = api_command("show", _show, "a job with its workers, per cloud product")
    show.add_argument("job_id", type=int, metavar="ID")

    create = api_command("create", _create, "preview, confirm, submit a job and follow it")
    create.add_argument("--name", required=True)
    create.add_argument("--certs", required=True, type=_id_list, help="certificate ids, e.g. 1,2")
    create.add_argument("--resources", required=True, type=_id_list, help="cloud resource ids, e.g. 3,4")
    create.add_argument("--contacts", type=_id_list, default=(), help="contact ids to notify")
    create.add_argument("--at", type=_schedule_time, help="run at this time (ISO 8601, or Unix seconds/ms)")
    create.add_argument(
        "--verify-mismatch",
        choices=("report", "fail", "rollback"),
        help="what a worker whose resource serves another certificate after the bind comes to (docs/verification.md)",
    )
    create.add_argument("--yes", action="store_true", help="submit without asking")
    create.add_argument("--no-wait", action="store_true", help="return once the job is submitted")

    events = api_command("events", _events, "a job's timeline, oldest first")
    events.add_argument("job_id", type=int, metavar="JOB_ID")

    rollback = api_command("rollback", _rollback, "roll back workers of a job")
    rollback.add_argument("job_id", type=int, metavar="JOB")
    rollback.add_argument("worker_ids", type=int, nargs="+", metavar="WORKER")

    delete = api_command("delete", _delete, "delete jobs (irreversible)")
    delete.add_argument("job_ids", type=int, nargs="+", metavar="ID")


def _id_list(text: str) -> tuple[int, ...]:
    try:
        ids = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"'{text}' is not a comma-separated list of ids") from exc
    if not ids:
        raise argparse.ArgumentTypeError("give at least one id")
    return ids


def _schedule_time(text: str) -> int:
    """Unix milliseconds from ISO 8601 (local time when no offset is given) or from Unix seconds/milliseconds."""
    if text.isdigit():
        value = int(text)
        return value if len(text) >= 13 else value * 1000
    try:
        # Python 3.10's fromisoformat does not read a trailing "Z".
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"'{text}' is not a time (e.g. 2026-12-01T09:30 or 1796117400)") from exc
    return int(moment.timestamp() * 1000)


def _api(args: argparse.Namespace) -> CasApi:
    key_id = args.access_key_id or os.environ.get("CERTDEPLOY_ACCESS_KEY_ID")
    secret = args.access_key_secret or os.environ.get("CERTDEPLOY_ACCESS_KEY_SECRET")
    if not key_id or not secret:
        raise ApiCallError(
            "no AccessKey: pass --access-key-id/--access-key-secret or set CERTDEPLOY_ACCESS_KEY_ID and "
            "CERTDEPLOY_ACCESS_KEY_SECRET (certdeploy serve prints them on first start)"
        )
    return CasApi(args.endpoint or os.environ.get("CERTDEPLOY_ENDPOINT") or DEFAULT_ENDPOINT, key_id, secret)


def _row(table: Table, *cells: object) -> None:
    """Cells are data, not rich markup: a job named `[x]` shows as written."""
    table.add_row(*(escape(str(cell)) for cell in cells))


def _print_json(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False))


def _console() -> Console:
    return Console(highlight=False)


def _time(value: object) -> str:
    """CAS times are Unix milliseconds in strings."""
    if value in (None, "", "0", 0):
        return ""
    try:
        return datetime.fromtimestamp(int(str(value)) / 1000).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return str(value)


# --------------------------------------------------------------------------------------------- jobs list / show


def _list(args: argparse.Namespace) -> int:
    body = _api(args).call(
        "ListDeploymentJob",
        cas.ListDeploymentJobRequest(status=args.status, current_page=args.page, show_size=args.size),
    )
    jobs = body.get("Data") or []
    if args.json:
        _print_json({"Total": body.get("Total"), "CurrentPage": body.get("CurrentPage"), "Data": jobs})
        return 0
    table = Table(title=f"Jobs (page {body.get('CurrentPage', args.page)}, {body.get('Total', len(jobs))} in all)")
    for column in ("Id", "Name", "Type", "Status", "Certificates", "Products", "Domains", "Created"):
        table.add_column(column)
    for job in jobs:
        _row(
            table,
            str(job.get("Id")),
            str(job.get("Name", "")),
            str(job.get("JobType", "")),
            str(job.get("Status", "")),
            str(job.get("CertType", "")),
            str(job.get("ProductName") or ""),
            str(job.get("CertDomain") or ""),
            _time(job.get("GmtCreate")),
        )
    _console().print(table)
    return 0


def _job_details(api: CasApi, job_id: int) -> dict[str, Any]:
    return {
        "Job": api.call("DescribeDeploymentJob", cas.DescribeDeploymentJobRequest(job_id=job_id)),
        "Status": api.call("DescribeDeploymentJobStatus", cas.DescribeDeploymentJobStatusRequest(job_id=job_id)),
        "Workers": list(
            api.pages(
                "ListWorkerResource",
                lambda page: cas.ListWorkerResourceRequest(job_id=job_id, current_page=page, show_size=_PAGE_SIZE),
            )
        ),
    }


def _show(args: argparse.Namespace) -> int:
    details = _job_details(_api(args), args.job_id)
    if args.json:
        _print_json(details)
        return 0
    console = _console()
    job, status, workers = details["Job"], details["Status"], details["Workers"]
    console.print(
        f"[bold]Job {job.get('Id')}[/bold] {escape(str(job.get('Name', '')))} — [bold]{job.get('Status')}[/bold]"
        f" · {job.get('JobType', '')} · certificates: {job.get('CertType', '')}"
    )
    console.print(
        f"Workers {status.get('WorkerCount', 0)}: success {status.get('SuccessCount', 0)},"
        f" failed {status.get('FailedCount', 0)}, rolled back {status.get('RollbackSuccessCount', 0)}"
        f" · quota cost {status.get('CostCount', 0)} (used {status.get('UseCount', 0)}"
        f" of {status.get('BuyCount', 0)})"
    )
    for line in ("ScheduleTime", "StartTime", "EndTime"):
        if _time(job.get(line)):
            console.print(f"{line}: {_time(job.get(line))}")
    by_product: dict[str, list[dict[str, Any]]] = {}
    for worker in workers:
        by_product.setdefault(str(worker.get("CloudProduct", "?")), []).append(worker)
    for product in sorted(by_product):
        table = Table(title=f"{product} ({len(by_product[product])})", title_justify="left")
        # The Verify column only where verification is on (docs/verification.md).
        verified = any(worker.get("VerifyStatus") for worker in by_product[product])
        for column in ("Worker", "Resource", "Domain", "Instance", "Status", "Cause") + (
            ("Verify",) if verified else ()
        ):
            table.add_column(column)
        for worker in by_product[product]:
            port = f":{worker['Port']}" if worker.get("Port") else ""
            _row(
                table,
                worker.get("Id"),
                worker.get("ResourceId"),
                f"{worker.get('ResourceDomain') or ''}{port}",
                worker.get("InstanceId") or "",
                worker.get("Status", ""),
                _cause(worker),
                *((_verification(worker),) if verified else ()),
            )
        console.print(table)
    _print_exclusions(console, status)
    return 0


def _events(args: argparse.Namespace) -> int:
    # ListDeploymentJobEvents is ours (no SDK model): its parameters are ListWorkerResource's JobId and paging.
    events = list(
        _api(args).pages(
            "ListDeploymentJobEvents",
            lambda page: cas.ListWorkerResourceRequest(job_id=args.job_id, current_page=page, show_size=_PAGE_SIZE),
        )
    )
    if args.json:
        _print_json({"JobId": args.job_id, "Data": events})
        return 0
    table = Table(title=f"Timeline of job {args.job_id} ({len(events)} events)", title_justify="left")
    for column in ("Time", "Event", "Worker", "Resource", "Detail", "Cause"):
        table.add_column(column)
    for event in events:
        worker = f"{event['WorkerId']} {event.get('CloudProduct') or ''}" if event.get("WorkerId") else ""
        cause = ": ".join(str(event[key]) for key in ("ErrorCode", "ErrorMessage") if event.get(key))
        _row(
            table,
            _time(event.get("Time")),
            event.get("Type"),
            worker,
            event.get("ResourceId") or "",
            event.get("Detail"),
            cause,
        )
    _console().print(table)
    return 0


def _cause(worker: dict[str, Any]) -> str:
    """Why a worker failed; a worker that succeeded after a retry keeps its last error, which is no cause."""
    if worker.get("Status") not in ("error", "rollback_error"):
        return ""
    code, message = worker.get("ErrorCode"), worker.get("ErrorMessage")
    return ": ".join(str(part) for part in (code, message) if part)


def _verification(worker: dict[str, Any]) -> str:
    """The worker's verification (docs/verification.md): its status, and what was served or why."""
    status = worker.get("VerifyStatus")
    if not status:
        return ""
    if status == "pending":
        return f"pending (check {worker.get('VerifyChecks', 0)})"
    if worker.get("ServedFingerprint"):
        served = f"served {worker.get('ServedSubject')}, sha256 {str(worker['ServedFingerprint'])[:16]}…"
        expires = _time(worker.get("ServedNotAfter"))
        return f"{status}: {served}" + (f", expires {expires}" if expires else "")
    detail = worker.get("VerifyDetail")
    return f"{status}: {detail}" if detail else str(status)


def _print_exclusions(console: Console, status: dict[str, Any]) -> None:
    excluded = status.get("ExcludedResources") or []
    if not excluded:
        return
    table = Table(title=f"Excluded resources ({len(excluded)})", title_justify="left")
    for column in ("Resource", "Product", "Certificate", "Why"):
        table.add_column(column)
    for item in excluded:
        _row(
            table,
            item.get("ResourceId"),
            item.get("CloudProduct", ""),
            item.get("CertId") or "",
            item.get("ReasonText") or item.get("Reason", ""),
        )
    console.print(table)


# --------------------------------------------------------------------------------------------- jobs create


def _create(args: argparse.Namespace) -> int:
    api = _api(args)
    created = api.call(
        "CreateDeploymentJob",
        cas.CreateDeploymentJobRequest(
            name=args.name,
            job_type="user",
            cert_ids=",".join(str(i) for i in args.certs),
            resource_ids=",".join(str(i) for i in args.resources),
            contact_ids=",".join(str(i) for i in args.contacts),
            schedule_time=args.at,
        ),
        {"VerifyMismatch": args.verify_mismatch} if args.verify_mismatch else None,
    )
    job_id = int(created["JobId"])
    preview = api.call("DescribeDeploymentJobStatus", cas.DescribeDeploymentJobStatusRequest(job_id=job_id))
    console = Console(stderr=True, highlight=False) if args.json else _console()
    _print_preview(console, job_id, preview)
    if not args.yes:
        if not sys.stdin.isatty():
            api.call("DeleteDeploymentJob", cas.DeleteDeploymentJobRequest(job_id=job_id))
            raise ApiCallError(f"confirmation needed and no terminal to ask on; draft job {job_id} deleted (use --yes)")
        if not Confirm.ask("Submit this job?", console=console, default=True):
            api.call("DeleteDeploymentJob", cas.DeleteDeploymentJobRequest(job_id=job_id))
            console.print(f"Not submitted; draft job {job_id} deleted.")
            if args.json:
                _print_json({"JobId": job_id, "Submitted": False, "Preview": preview})
            return 1
    api.call("UpdateDeploymentJobStatus", cas.UpdateDeploymentJobStatusRequest(job_id=job_id, status="pending"))
    if args.no_wait or args.at is not None:
        console.print(f"Job {job_id} submitted{' for ' + _time(args.at) if args.at else ''}.")
        if args.json:
            _print_json({"JobId": job_id, "Submitted": True, "Preview": preview})
        return 0
    final = _follow(api, job_id, int(preview.get("WorkerCount") or 0), console, show_progress=not args.json)
    job_status = final["Job"].get("Status")
    if args.json:
        _print_json({"JobId": job_id, "Submitted": True, "Preview": preview, **final})
    else:
        console.print(
            f"Job {job_id} ended [bold]{job_status}[/bold]: {final['Status'].get('SuccessCount', 0)} succeeded, "
            f"{final['Status'].get('FailedCount', 0)} failed. Details: certdeploy jobs show {job_id}"
        )
    return 0 if job_status == "success" else 1


def _print_preview(console: Console, job_id: int, preview: dict[str, Any]) -> None:
    table = Table(title=f"Preview of job {job_id}", show_header=False, title_justify="left")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("Workers (resources to deploy)", str(preview.get("WorkerCount", 0)))
    table.add_row("Certificates that match", str(preview.get("CertCount", 0)))
    table.add_row("Quota this job uses", str(preview.get("CostCount", 0)))
    table.add_row("Quota used / purchased", f"{preview.get('UseCount', 0)} / {preview.get('BuyCount', 0)}")
    for row in preview.get("ProductWorkerCount") or []:
        _row(table, f"  {row.get('ProductName')}", row.get("Count"))
    console.print(table)
    _print_binding_changes(console, preview)
    _print_exclusions(console, preview)
    if not preview.get("WorkerCount"):
        console.print("[yellow]Nothing matches: submitted, this job ends in error.[/yellow]")


def _print_binding_changes(console: Console, preview: dict[str, Any]) -> None:
    changes = preview.get("BindingChanges") or []
    if not changes:
        return
    table = Table(title="Certificates now → after the job", title_justify="left")
    for column in ("Resource", "Product", "Domain", "Now", "Expires", "After", "Expires"):
        table.add_column(column)
    for change in changes:
        now = change.get("CurrentCertName") or "(none)"
        _row(
            table,
            change.get("ResourceId"),
            change.get("CloudProduct"),
            change.get("Domain"),
            now,
            _time(change.get("CurrentCertEndTime")),
            change.get("CertName"),
            _time(change.get("CertEndTime")),
        )
    console.print(table)


def _follow(api: CasApi, job_id: int, worker_count: int, console: Console, *, show_progress: bool) -> dict[str, Any]:
    """Poll until the job has finished; returns its last DescribeDeploymentJob and DescribeDeploymentJobStatus."""
    with Progress(
        TextColumn("Job {task.fields[job]} {task.fields[status]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("failed {task.fields[failed]}"),
        TimeElapsedColumn(),
        console=console,
        disable=not show_progress,
        transient=False,
    ) as progress:
        task = progress.add_task("deploy", total=max(worker_count, 1), job=job_id, status="pending", failed=0)
        while True:
            job = api.call("DescribeDeploymentJob", cas.DescribeDeploymentJobRequest(job_id=job_id))
            status = api.call("DescribeDeploymentJobStatus", cas.DescribeDeploymentJobStatusRequest(job_id=job_id))
            done = int(status.get("SuccessCount") or 0) + int(status.get("FailedCount") or 0)
            progress.update(task, completed=done, status=job.get("Status"), failed=int(status.get("FailedCount") or 0))
            if job.get("Status") in _FINISHED:
                return {"Job": job, "Status": status}
            time.sleep(0.5)


# --------------------------------------------------------------------------------------------- rollback / delete


def _rollback(args: argparse.Namespace) -> int:
    api = _api(args)

    def roll_back(worker_id: int) -> None:
        api.call(
            "UpdateWorkerResourceStatus",
            cas.UpdateWorkerResourceStatusRequest(job_id=args.job_id, worker_id=worker_id, status="rollback"),
        )

    return _each(args, "WorkerId", args.worker_ids, roll_back, "rollback requested")


def _delete(args: argparse.Namespace) -> int:
    api = _api(args)

    def delete(job_id: int) -> None:
        api.call("DeleteDeploymentJob", cas.DeleteDeploymentJobRequest(job_id=job_id))

    return _each(args, "JobId", args.job_ids, delete, "deleted")


def _each(args: argparse.Namespace, key: str, ids: list[int], action: Callable[[int], None], done: str) -> int:
    """Apply `action` to every id, reporting each result; non-zero when any failed."""
    results: list[dict[str, Any]] = []
    for item in ids:
        try:
            action(item)
        except ApiCallError as exc:
            results.append({key: item, "Ok": False, "Error": str(exc)})
        else:
            results.append({key: item, "Ok": True})
    if args.json:
        _print_json(results)
    else:
        console = _console()
        for result in results:
            outcome = done if result["Ok"] else f"[red]failed[/red]: {escape(result['Error'])}"
            console.print(f"{key} {result[key]}: {outcome}")
    return 0 if all(result["Ok"] for result in results) else 1
