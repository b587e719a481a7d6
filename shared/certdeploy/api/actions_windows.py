"""Maintenance windows, actions of ours beyond CAS (docs/protocol.md#maintenance-windows): CreateMaintenanceWindow,
ListMaintenanceWindows, DeleteMaintenanceWindow.

`Days` is a comma list of day names (`Mon`…`Sun`, any case) or numbers (0 Monday … 6 Sunday); `StartTime` is `HH:MM`
local time in `TimeZone` (an IANA name); `DurationMinutes` 1 to 10,080; `Tag` an optional `key=value`. A bad value is
`InvalidParameter.<Name>` and nothing is written.
"""

from __future__ import annotations

from certdeploy.api.actions_common import ActionContext, build, millis_text
from certdeploy.api.errors import invalid_parameter
from certdeploy.api.replies import Empty
from certdeploy.api.replies.windows import MaintenanceWindow, MaintenanceWindowList, WindowId
from certdeploy.api.rpc import RpcParameters
from certdeploy.app.windows import add_window, remove_window
from certdeploy.domain.windows import DAY_NAMES, WindowSpec, is_open, parse_days, parse_tag, window_text

_PARAMETER_OF = {
    "days": "Days",
    "start": "StartTime",
    "duration_minutes": "DurationMinutes",
    "time_zone": "TimeZone",
    "tag_key": "Tag",
    "tag_value": "Tag",
}


def create_maintenance_window(ctx: ActionContext, params: RpcParameters) -> WindowId:
    try:
        days = parse_days(params.text("Days"))
    except ValueError as exc:
        raise invalid_parameter("Days", str(exc)) from exc
    tag_text = params.optional_text("Tag")
    try:
        tag_key, tag_value = parse_tag(tag_text) if tag_text is not None else (None, None)
    except ValueError as exc:
        raise invalid_parameter("Tag", str(exc)) from exc
    spec = build(
        WindowSpec,
        _PARAMETER_OF,
        days=days,
        start=params.text("StartTime"),
        duration_minutes=params.integer("DurationMinutes"),
        time_zone=params.text("TimeZone"),
        tag_key=tag_key,
        tag_value=tag_value,
    )
    return WindowId(window_id=add_window(ctx.deps, ctx.account_id, spec).id)


def list_maintenance_windows(ctx: ActionContext, params: RpcParameters) -> MaintenanceWindowList:
    windows = ctx.deps.store.windows.of_account(ctx.account_id)
    now = ctx.now()
    return MaintenanceWindowList(
        total=len(windows),
        data=[
            MaintenanceWindow(
                window_id=window.id,
                days=",".join(DAY_NAMES[day] for day in window.days),
                start_time=window.start,
                duration_minutes=window.duration_minutes,
                time_zone=window.time_zone,
                tag=window.tag,
                open_now=is_open(window, now),
                description=window_text(window),
                gmt_create=millis_text(window.created_at) or "",
            )
            for window in windows
        ],
    )


def delete_maintenance_window(ctx: ActionContext, params: RpcParameters) -> Empty:
    remove_window(ctx.deps, ctx.account_id, params.integer("WindowId"))
    return Empty()
