"""Maintenance window replies, ours beyond CAS (docs/protocol.md#maintenance-windows)."""

from __future__ import annotations

from certdeploy.api.replies import WireModel


class WindowId(WireModel):
    """CreateMaintenanceWindow."""

    window_id: int


class MaintenanceWindow(WireModel):
    """One window of ListMaintenanceWindows. `Days` like `Sat,Sun`; `StartTime` `HH:MM` local time; `Tag` `key=value`,
    left out for an untagged window; `OpenNow` whether it is open at the time of the call; `GmtCreate` Unix
    milliseconds as a string."""

    window_id: int
    days: str
    start_time: str
    duration_minutes: int
    time_zone: str
    tag: str | None = None
    open_now: bool
    description: str
    gmt_create: str


class MaintenanceWindowList(WireModel):
    """ListMaintenanceWindows: all the account's windows (at most 20), oldest first."""

    total: int
    data: list[MaintenanceWindow]
