"""`certdeploy jobs create|edit|submit|cancel`: a job from its draft to its end.

A job is `editing` (a draft with its preview) until submitted; submitted, it is `pending` until its ScheduleTime (or
`scheduling`: now), then runs. UpdateDeploymentJobStatus moves it (docs/protocol.md#deployment-jobs): `pending` or
`scheduling` submits a draft, `scheduling` also starts a pending job now, and `editing` takes a pending job back
before it starts, giving its quota back. That last move is the only cancellation the API has: `cancel` makes it,
`edit` makes it when needed and then changes the draft.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from alibabacloud_cas20200407 import models as cas
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.prompt import Confirm
from rich.table import Table

from certdeploy.cli.api import ApiCallError, CasApi, api_from
from certdeploy.cli.output import console as make_console
from certdeploy.cli.output import print_json, row, table, time_text

FINISHED = ("success", "error", "rolled_back")
_JOIN = ",".join


def _ids(values: tuple[int, ...] | None) -> str | None:
    return None if values is None else _JOIN(str(value) for value in values)


def _status_console(args: argparse.Namespace) -> Console:
    """With --json, stdout holds only the JSON: what people read goes to stderr."""
    return make_console(stderr=bool(args.json))


def _set_status(api: CasApi, job_id: int, status: str) -> None:
    api.call("UpdateDeploymentJobStatus", cas.UpdateDeploymentJobStatusRequest(job_id=job_id, status=status))


def _preview(api: CasApi, job_id: int) -> dict[str, Any]:
    return api.call("DescribeDeploymentJobStatus", cas.DescribeDeploymentJobStatusRequest(job_id=job_id))


def _options_of_ours(args: argparse.Namespace) -> dict[str, str] | None:
    """`--verify-mismatch`, `--stages` and `--max-failures` as the API's `VerifyMismatch`, `Stages` and `MaxFailures`:
    parameters of ours the SDK's request models have not."""
    given = {"VerifyMismatch": args.verify_mismatch, "Stages": args.stages, "MaxFailures": args.max_failures}
    return {name: value for name, value in given.items() if value} or None


def _describe(api: CasApi, job_id: int) -> dict[str, Any]:
    return api.call("DescribeDeploymentJob", cas.DescribeDeploymentJobRequest(job_id=job_id))


# --------------------------------------------------------------------------------------------- create


def create(args: argparse.Namespace) -> int:
    api = api_from(args)
    created = api.call(
        "CreateDeploymentJob",
        cas.CreateDeploymentJobRequest(
            name=args.name,
            job_type="user",
            cert_ids=_ids(args.certs),
            resource_ids=_ids(args.resources),
            contact_ids=_ids(args.contacts),
            schedule_time=args.at,
        ),
        _options_of_ours(args),
    )
    job_id = int(created["JobId"])
    preview = _preview(api, job_id)
    console = _status_console(args)
    print_preview(console, job_id, preview)
    if not args.yes:
        if not sys.stdin.isatty():
            api.call("DeleteDeploymentJob", cas.DeleteDeploymentJobRequest(job_id=job_id))
            raise ApiCallError(f"confirmation needed and no terminal to ask on; draft job {job_id} deleted (use --yes)")
        if not Confirm.ask("Submit this job?", console=console, default=True):
            api.call("DeleteDeploymentJob", cas.DeleteDeploymentJobRequest(job_id=job_id))
            console.print(f"Not submitted; draft job {job_id} deleted.")
            if args.json:
                print_json({"JobId": job_id, "Submitted": False, "Preview": preview})
            return 1
    _set_status(api, job_id, "pending")
    return _after_submit(api, args, job_id, preview, args.at, wait=not args.no_wait and args.at is None)


def _after_submit(
    api: CasApi, args: argparse.Namespace, job_id: int, preview: dict[str, Any], runs_at: object, *, wait: bool
) -> int:
    """Say the job is submitted, or follow it to its end (exit 0 only if it succeeded)."""
    console = _status_console(args)
    if not wait:
        console.print(f"Job {job_id} submitted{' for ' + time_text(runs_at) if time_text(runs_at) else ''}.")
        if args.json:
            print_json({"JobId": job_id, "Submitted": True, "Preview": preview})
        return 0
    final = _follow(api, job_id, int(preview.get("WorkerCount") or 0), console, show_progress=not args.json)
    job_status = final["Job"].get("Status")
    if args.json:
        print_json({"JobId": job_id, "Submitted": True, "Preview": preview, **final})
    else:
        console.print(
            f"Job {job_id} ended [bold]{job_status}[/bold]: {final['Status'].get('SuccessCount', 0)} succeeded, "
            f"{final['Status'].get('FailedCount', 0)} failed. Details: certdeploy jobs show {job_id}"
        )
    return 0 if job_status == "success" else 1


def print_preview(console: Console, job_id: int, preview: dict[str, Any]) -> None:
    summary = Table(title=f"Preview of job {job_id}", show_header=False, title_justify="left")
    summary.add_column("what")
    summary.add_column("value", justify="right")
    summary.add_row("Workers (resources to deploy)", str(preview.get("WorkerCount", 0)))
    summary.add_row("Certificates that match", str(preview.get("CertCount", 0)))
    summary.add_row("Quota this job uses", str(preview.get("CostCount", 0)))
    summary.add_row("Quota used / purchased", f"{preview.get('UseCount', 0)} / {preview.get('BuyCount', 0)}")
    if time_text(preview.get("PlannedStartTime")):
        # When it starts, given its ScheduleTime and the account's maintenance windows.
        summary.add_row("Planned start", time_text(preview.get("PlannedStartTime")))
    for product in preview.get("ProductWorkerCount") or []:
        row(summary, f"  {product.get('ProductName')}", product.get("Count"))
    for stage in preview.get("StageWorkerCounts") or []:
        starts = time_text(stage.get("PlannedStartTime"))
        row(
            summary,
            f"  Stage {stage.get('Stage')}",
            f"{stage.get('WorkerCount')}{f', from {starts}' if starts else ''}",
        )
    console.print(summary)
    _print_binding_changes(console, preview)
    print_exclusions(console, preview)
    if not preview.get("WorkerCount"):
        console.print("[yellow]Nothing matches: submitted, this job ends in error.[/yellow]")


def _print_binding_changes(console: Console, preview: dict[str, Any]) -> None:
    changes = preview.get("BindingChanges") or []
    if not changes:
        return
    shown = table(
        "Certificates now → after the job",
        ("Resource", "Product", "Domain", "Now", "Expires", "After", "Expires", "Runs from"),
    )
    for change in changes:
        row(
            shown,
            change.get("ResourceId"),
            change.get("CloudProduct"),
            change.get("Domain"),
            change.get("CurrentCertName") or "(none)",
            time_text(change.get("CurrentCertEndTime")),
            change.get("CertName"),
            time_text(change.get("CertEndTime")),
            time_text(change.get("PlannedStartTime")),
        )
    console.print(shown)


def print_exclusions(console: Console, status: dict[str, Any]) -> None:
    excluded = status.get("ExcludedResources") or []
    if not excluded:
        return
    shown = table(f"Excluded resources ({len(excluded)})", ("Resource", "Product", "Certificate", "Why"))
    for item in excluded:
        row(
            shown,
            item.get("ResourceId"),
            item.get("CloudProduct", ""),
            item.get("CertId") or "",
            item.get("ReasonText") or item.get("Reason", ""),
        )
    console.print(shown)


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
            job = _describe(api, job_id)
            status = _preview(api, job_id)
            done = int(status.get("SuccessCount") or 0) + int(status.get("FailedCount") or 0)
            # A job its maintenance window holds says until when (DescribeDeploymentJob `WindowWaitUntil`).
            until = time_text(job.get("WindowWaitUntil"))
            shown = f"{job.get('Status')} (waits for its window until {until})" if until else job.get("Status")
            progress.update(task, completed=done, status=shown, failed=int(status.get("FailedCount") or 0))
            if job.get("Status") in FINISHED:
                return {"Job": job, "Status": status}
            time.sleep(0.5)


# --------------------------------------------------------------------------------------------- edit / cancel / submit


def _changes(args: argparse.Namespace) -> dict[str, Any]:
    """The fields `jobs edit` was given, as UpdateDeploymentJob's request arguments."""
    given = {
        "name": args.name,
        "cert_ids": _ids(args.certs),
        "resource_ids": _ids(args.resources),
        "contact_ids": _ids(args.contacts),
        "schedule_time": args.at,
    }
    return {key: value for key, value in given.items() if value is not None}


def _to_editing(args: argparse.Namespace, changes: dict[str, Any] | None, extra: dict[str, str] | None = None) -> int:
    """pending → editing (its quota given back), then the `changes` (and `extra`, our parameters the SDK's request
    has not) if any; shows the new preview. Without changes (`cancel`) the move is always asked for, so that the API
    says why a job that is not pending cannot be taken back."""
    api = api_from(args)
    job_id = args.job_id
    if changes is None or _describe(api, job_id).get("Status") != "editing":
        _set_status(api, job_id, "editing")
    if changes or extra:
        api.call("UpdateDeploymentJob", cas.UpdateDeploymentJobRequest(job_id=job_id, **(changes or {})), extra)
    preview = _preview(api, job_id)
    if args.json:
        print_json({"JobId": job_id, "Status": "editing", "Preview": preview})
        return 0
    console = make_console()
    print_preview(console, job_id, preview)
    console.print(f"Job {job_id} is editing: change it with certdeploy jobs edit, run it with certdeploy jobs submit.")
    return 0


def edit(args: argparse.Namespace) -> int:
    return _to_editing(args, _changes(args), _options_of_ours(args))


def cancel(args: argparse.Namespace) -> int:
    return _to_editing(args, None)


def submit(args: argparse.Namespace) -> int:
    """An editing job runs at its ScheduleTime (`pending`), or now (`scheduling`) when it has none or `--now`; a
    pending job starts now with `--now`."""
    api = api_from(args)
    job_id = args.job_id
    runs_at = None if args.now else _describe(api, job_id).get("ScheduleTime")
    scheduled = bool(time_text(runs_at))
    _set_status(api, job_id, "pending" if scheduled else "scheduling")
    preview = _preview(api, job_id)
    return _after_submit(api, args, job_id, preview, runs_at, wait=args.wait and not scheduled)


def resume(args: argparse.Namespace) -> int:
    """A job its stages halted runs again (`scheduling`): its failed and waiting workers, from the first stage that
    has one; their quota is charged again."""
    api = api_from(args)
    _set_status(api, args.job_id, "scheduling")
    preview = _preview(api, args.job_id)
    return _after_submit(api, args, args.job_id, preview, None, wait=args.wait)
