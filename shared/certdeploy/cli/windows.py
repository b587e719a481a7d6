"""`certdeploy windows list|add|delete`: the account's maintenance windows, over the API (ListMaintenanceWindows,
CreateMaintenanceWindow, DeleteMaintenanceWindow: actions of ours, docs/protocol.md#maintenance-windows)."""

from __future__ import annotations

import argparse
from typing import Any

from certdeploy.cli.api import CommandMaker, api_from, each, noun_commands, positive_int
from certdeploy.cli.output import console, print_json, reply_data, row, table


def add_commands(commands: Any, command: CommandMaker) -> None:
    api_command = noun_commands(
        commands, command, "windows", "maintenance windows: when jobs and rollbacks may run, over the API"
    )

    api_command("list", _list, "list maintenance windows: days, start, minutes, time zone, tag, open now")

    add = api_command("add", _add, "add a weekly maintenance window")
    add.add_argument("--days", required=True, help="e.g. Sat,Sun or Mon,Tue,Wed,Thu,Fri (0 Monday … 6 Sunday too)")
    add.add_argument("--start", required=True, help="local time HH:MM it opens, e.g. 02:00")
    add.add_argument("--minutes", required=True, type=positive_int, help="how long it stays open (at most 10080)")
    add.add_argument("--time-zone", required=True, help="IANA time zone, e.g. Asia/Shanghai or UTC")
    add.add_argument("--tag", help="key=value: the window governs only the resources carrying this tag")

    delete = api_command("delete", _delete, "delete maintenance windows")
    delete.add_argument("window_ids", type=int, nargs="+", metavar="ID")


def _list(args: argparse.Namespace) -> int:
    windows = api_from(args).call("ListMaintenanceWindows", None).get("Data") or []
    if args.json:
        print_json(windows)
        return 0
    shown = table(
        f"Maintenance windows ({len(windows)})", ("Id", "Days", "Start", "Minutes", "Time zone", "Tag", "Open")
    )
    for window in windows:
        row(
            shown,
            window.get("WindowId"),
            window.get("Days"),
            window.get("StartTime"),
            window.get("DurationMinutes"),
            window.get("TimeZone"),
            window.get("Tag") or "(untagged resources)",
            "open now" if window.get("OpenNow") else "",
        )
    console().print(shown)
    return 0


def _add(args: argparse.Namespace) -> int:
    parameters = {
        "Days": args.days,
        "StartTime": args.start,
        "DurationMinutes": str(args.minutes),
        "TimeZone": args.time_zone,
        **({"Tag": args.tag} if args.tag else {}),
    }
    body = api_from(args).call("CreateMaintenanceWindow", None, parameters)
    if args.json:
        print_json(reply_data(body))
    else:
        console().print(f"Maintenance window {body.get('WindowId')} added.")
    return 0


def _delete(args: argparse.Namespace) -> int:
    api = api_from(args)

    def delete(window_id: int) -> None:
        api.call("DeleteMaintenanceWindow", None, {"WindowId": str(window_id)})

    return each(args, "WindowId", args.window_ids, delete, "deleted")
