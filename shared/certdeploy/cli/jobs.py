"""`certdeploy jobs …`: deployment jobs over the API. Listing, showing, rolling back and deleting are here; a job's
way from draft to end (`create`, `edit`, `submit`, `cancel`) is in `jobs_run`."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from alibabacloud_cas20200407 import models as cas
from rich.markup import escape

from certdeploy.cli import jobs_run
from certdeploy.cli.api import (
    PAGE_SIZE,
    CasApi,
    CommandMaker,
    Listing,
    add_paging_options,
    api_from,
    each,
    id_list,
    list_items,
    noun_commands,
)
from certdeploy.cli.output import console, print_json, row, table, time_text


def add_commands(commands: Any, command: CommandMaker) -> None:
    api_command = noun_commands(commands, command, "jobs", "deployment jobs, over the API")

    listing = api_command("list", _list, "list jobs")
    listing.add_argument("--status", help="only jobs in this status")
    add_paging_options(listing, "jobs")

    show = api_command("show", _show, "a job with its workers, per cloud product")
    show.add_argument("job_id", type=int, metavar="ID")

    create = api_command("create", jobs_run.create, "preview, confirm, submit a job and follow it")
    create.add_argument("--name", required=True)
    _job_fields(create, required=True)
    _options_of_ours(create)
    create.add_argument("--yes", action="store_true", help="submit without asking")
    create.add_argument("--no-wait", action="store_true", help="return once the job is submitted")

    edit = api_command("edit", jobs_run.edit, "take a pending job back to editing (its quota given back) and change it")
    edit.add_argument("job_id", type=int, metavar="ID")
    edit.add_argument("--name", help="a new name")
    _job_fields(edit, required=False)
    _options_of_ours(edit)

    submit = api_command("submit", jobs_run.submit, "submit an editing job: it runs at its schedule time, or now")
    submit.add_argument("job_id", type=int, metavar="ID")
    submit.add_argument("--now", action="store_true", help="run now, even a job with a schedule time or pending")
    submit.add_argument("--wait", action="store_true", help="follow the job to its end (exit 0 if it succeeded)")

    resume = api_command(
        "resume", jobs_run.resume, "run a job its stages halted again, after a fix: failed and waiting workers rerun"
    )
    resume.add_argument("job_id", type=int, metavar="ID")
    resume.add_argument("--wait", action="store_true", help="follow the job to its end (exit 0 if it succeeded)")

    cancel = api_command(
        "cancel", jobs_run.cancel, "take a submitted job back before it starts: editing again, its quota given back"
    )
    cancel.add_argument("job_id", type=int, metavar="ID")

    events = api_command("events", _events, "a job's timeline, oldest first")
    events.add_argument("job_id", type=int, metavar="JOB_ID")

    rollback = api_command("rollback", _rollback, "roll back workers of a job")
    rollback.add_argument("job_id", type=int, metavar="JOB")
    rollback.add_argument("worker_ids", type=int, nargs="+", metavar="WORKER")

    delete = api_command("delete", _delete, "delete jobs (irreversible)")
    delete.add_argument("job_ids", type=int, nargs="+", metavar="ID")


def _job_fields(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument("--certs", required=required, type=id_list, help="certificate ids, e.g. 1,2")
    parser.add_argument("--resources", required=required, type=id_list, help="cloud resource ids, e.g. 3,4")
    parser.add_argument(
        "--contacts", type=id_list, default=() if required else None, help="contact ids to notify, e.g. 5,6"
    )
    parser.add_argument("--at", type=_schedule_time, help="run at this time (ISO 8601, or Unix seconds/ms)")


def _options_of_ours(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--verify-mismatch",
        choices=("report", "fail", "rollback"),
        help="what a worker whose resource serves another certificate after the bind comes to (docs/verification.md)",
    )
    parser.add_argument(
        "--stages",
        metavar="SIZES",
        help="run in stages of these cumulative sizes, counts or percentages, e.g. 1,10%%,100%% "
        "(docs/decisions.md#staged-rollout)",
    )
    parser.add_argument(
        "--max-failures",
        metavar="N|P%",
        help="failed workers a job with stages tolerates before it halts: a count, or a percentage of those run (0)",
    )


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


# --------------------------------------------------------------------------------------------- list / show


def _list(args: argparse.Namespace) -> int:
    jobs = list_items(
        api_from(args),
        args,
        Listing(
            "ListDeploymentJob",
            lambda page, size: cas.ListDeploymentJobRequest(status=args.status, current_page=page, show_size=size),
        ),
    )
    if args.json:
        print_json(jobs)
        return 0
    shown = table(
        f"Jobs ({len(jobs)})" if args.page is None else f"Jobs (page {args.page})",
        ("Id", "Name", "Type", "Status", "Certificates", "Products", "Domains", "Created"),
    )
    for job in jobs:
        row(
            shown,
            job.get("Id"),
            job.get("Name", ""),
            job.get("JobType", ""),
            job.get("Status", ""),
            job.get("CertType", ""),
            job.get("ProductName") or "",
            job.get("CertDomain") or "",
            time_text(job.get("GmtCreate")),
        )
    console().print(shown)
    return 0


def _job_details(api: CasApi, job_id: int) -> dict[str, Any]:
    return {
        "Job": api.call("DescribeDeploymentJob", cas.DescribeDeploymentJobRequest(job_id=job_id)),
        "Status": api.call("DescribeDeploymentJobStatus", cas.DescribeDeploymentJobStatusRequest(job_id=job_id)),
        "Workers": list(
            api.pages(
                Listing(
                    "ListWorkerResource",
                    lambda page, size: cas.ListWorkerResourceRequest(job_id=job_id, current_page=page, show_size=size),
                ),
                PAGE_SIZE,
            )
        ),
    }


def _show(args: argparse.Namespace) -> int:
    details = _job_details(api_from(args), args.job_id)
    if args.json:
        print_json(details)
        return 0
    out = console()
    job, status, workers = details["Job"], details["Status"], details["Workers"]
    out.print(
        f"[bold]Job {job.get('Id')}[/bold] {escape(str(job.get('Name', '')))} — [bold]{job.get('Status')}[/bold]"
        f" · {job.get('JobType', '')} · certificates: {job.get('CertType', '')}"
    )
    out.print(
        f"Workers {status.get('WorkerCount', 0)}: success {status.get('SuccessCount', 0)},"
        f" failed {status.get('FailedCount', 0)}, rolled back {status.get('RollbackSuccessCount', 0)}"
        f" · quota cost {status.get('CostCount', 0)} (used {status.get('UseCount', 0)}"
        f" of {status.get('BuyCount', 0)})"
    )
    if job.get("Stages"):
        out.print(
            f"Stages {job['Stages']} (max failures {job.get('MaxFailures')})"
            + (f" · stage {job.get('CurrentStage')} of {job['StageCount']}" if job.get("StageCount") else "")
        )
    if job.get("HaltReason"):
        out.print(f"[red]{escape(str(job['HaltReason']))}[/red] Resume: certdeploy jobs resume {job.get('Id')}")
    for line in ("ScheduleTime", "StartTime", "EndTime"):
        if time_text(job.get(line)):
            out.print(f"{line}: {time_text(job.get(line))}")
    if time_text(status.get("PlannedStartTime")):
        waiting = " (waiting for its maintenance window)" if job.get("WindowWaitUntil") else ""
        out.print(f"PlannedStartTime: {time_text(status.get('PlannedStartTime'))}{waiting}")
    by_product: dict[str, list[dict[str, Any]]] = {}
    for worker in workers:
        by_product.setdefault(str(worker.get("CloudProduct", "?")), []).append(worker)
    for product in sorted(by_product):
        # The Verify column only where verification is on (docs/verification.md).
        verified = any(worker.get("VerifyStatus") for worker in by_product[product])
        columns = ("Worker", "Resource", "Domain", "Instance", "Status", "Cause") + (("Verify",) if verified else ())
        shown = table(f"{product} ({len(by_product[product])})", columns)
        for worker in by_product[product]:
            port = f":{worker['Port']}" if worker.get("Port") else ""
            row(
                shown,
                worker.get("Id"),
                worker.get("ResourceId"),
                f"{worker.get('ResourceDomain') or ''}{port}",
                worker.get("InstanceId") or "",
                worker.get("Status", ""),
                _cause(worker),
                *((_verification(worker),) if verified else ()),
            )
        out.print(shown)
    jobs_run.print_exclusions(out, status)
    return 0


def _events(args: argparse.Namespace) -> int:
    # ListDeploymentJobEvents is ours (no SDK model): its parameters are ListWorkerResource's JobId and paging.
    events = list(
        api_from(args).pages(
            Listing(
                "ListDeploymentJobEvents",
                lambda page, size: cas.ListWorkerResourceRequest(job_id=args.job_id, current_page=page, show_size=size),
            )
        )
    )
    if args.json:
        print_json({"JobId": args.job_id, "Data": events})
        return 0
    columns = ("Time", "Event", "Worker", "Resource", "Detail", "Cause")
    shown = table(f"Timeline of job {args.job_id} ({len(events)} events)", columns)
    for event in events:
        worker = f"{event['WorkerId']} {event.get('CloudProduct') or ''}" if event.get("WorkerId") else ""
        cause = ": ".join(str(event[key]) for key in ("ErrorCode", "ErrorMessage") if event.get(key))
        row(
            shown,
            time_text(event.get("Time")),
            event.get("Type"),
            worker,
            event.get("ResourceId") or "",
            event.get("Detail"),
            cause,
        )
    console().print(shown)
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
        expires = time_text(worker.get("ServedNotAfter"))
        return f"{status}: {served}" + (f", expires {expires}" if expires else "")
    detail = worker.get("VerifyDetail")
    return f"{status}: {detail}" if detail else str(status)


# --------------------------------------------------------------------------------------------- rollback / delete


def _rollback(args: argparse.Namespace) -> int:
    api = api_from(args)

    def roll_back(worker_id: int) -> None:
        api.call(
            "UpdateWorkerResourceStatus",
            cas.UpdateWorkerResourceStatusRequest(job_id=args.job_id, worker_id=worker_id, status="rollback"),
        )

    return each(args, "WorkerId", args.worker_ids, roll_back, "rollback requested")


def _delete(args: argparse.Namespace) -> int:
    api = api_from(args)

    def delete(job_id: int) -> None:
        api.call("DeleteDeploymentJob", cas.DeleteDeploymentJobRequest(job_id=job_id))

    return each(args, "JobId", args.job_ids, delete, "deleted")
