"""Maintenance windows (docs/decisions.md#maintenance-windows): when an account lets deployments and rollbacks run.

A window recurs weekly: on some days of the week it opens at a local time in an IANA time zone and stays open a
number of minutes (at most a week). Its optional tag (`key=value`) chooses the resources it governs. Pure: the
moment to judge is always given.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from certdeploy.domain.models import MAX_TAG_LENGTH, UtcDatetime

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MAX_WINDOW_MINUTES = 7 * 24 * 60
MAX_WINDOWS_PER_ACCOUNT = 20
_START = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


class WindowSpec(BaseModel):
    """What a user says about a window. `days` are 0 (Monday) to 6 (Sunday); `start` is `HH:MM`, local time."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    days: tuple[int, ...] = Field(min_length=1, max_length=7)
    start: str
    duration_minutes: int = Field(ge=1, le=MAX_WINDOW_MINUTES)
    time_zone: str = Field(min_length=1, max_length=64)
    tag_key: str | None = Field(None, min_length=1, max_length=MAX_TAG_LENGTH)
    tag_value: str | None = Field(None, max_length=MAX_TAG_LENGTH)

    @field_validator("days")
    @classmethod
    def _days(cls, days: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 0 <= day <= 6 for day in days):
            raise ValueError(f"days are 0 (Monday) to 6 (Sunday), not {list(days)}")
        return tuple(sorted(set(days)))

    @field_validator("start")
    @classmethod
    def _start(cls, start: str) -> str:
        if not _START.fullmatch(start):
            raise ValueError(f"start is a local time HH:MM (00:00 to 23:59), not {start!r}")
        return start

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
            # `localtime` is the host's zone, not a place: a window in it would move with the server.
            known = name != "localtime"
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder of zones, such as 'America'
            known = False
        if not known:
            raise ValueError(f"{name!r} is not an IANA time zone (e.g. Asia/Shanghai, UTC)")
        return name

    @property
    def tag(self) -> str | None:
        return None if self.tag_key is None else f"{self.tag_key}={self.tag_value or ''}"


class Window(WindowSpec):
    id: int
    account_id: int
    created_at: UtcDatetime


def parse_days(text: str) -> tuple[int, ...]:
    """`Mon,Wed` (any case) or `0,2` as day numbers; a `ValueError` says what is wrong."""
    days = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if part.isdigit():
            days.append(int(part))
        elif part.title() in DAY_NAMES:
            days.append(DAY_NAMES.index(part.title()))
        else:
            raise ValueError(f"{part!r} is not a day: use {', '.join(DAY_NAMES)} or 0 (Monday) to 6 (Sunday)")
    return tuple(days)


def parse_tag(text: str) -> tuple[str, str]:
    """`key=value` (the value may be empty) as its two parts."""
    key, equals, value = text.partition("=")
    if not equals or not key.strip():
        raise ValueError(f"a tag is key=value, not {text!r}")
    return key.strip(), value.strip()


def _openings(window: WindowSpec, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The window's openings (start, end) in UTC that may hold or follow `moment`, in order: from the local week
    before it (an opening may last a week) to the week after. The duration is elapsed time; a start in a daylight
    saving gap is read with the offset before the change, as `zoneinfo` does (fold 0): it lands after the gap."""
    zone = ZoneInfo(window.time_zone)
    hours, minutes = (int(part) for part in window.start.split(":"))
    today: date = moment.astimezone(zone).date()
    length = timedelta(minutes=window.duration_minutes)
    for offset in range(-8, 9):
        day = today + timedelta(days=offset)
        if day.weekday() in window.days:
            start = datetime.combine(day, time(hours, minutes), tzinfo=zone).astimezone(moment.tzinfo)
            yield start, start + length


def is_open(window: WindowSpec, moment: datetime) -> bool:
    return any(start <= moment < end for start, end in _openings(window, moment))


def next_opening(windows: Sequence[WindowSpec], moment: datetime) -> datetime | None:
    """When work governed by `windows` may start: None if it may start at `moment` (no window governs it, or one is
    open), else the earliest opening after `moment`."""
    if not windows or any(is_open(window, moment) for window in windows):
        return None
    return min(start for window in windows for start, _ in _openings(window, moment) if start > moment)


def governing(windows: Sequence[Window], tags: Mapping[str, str]) -> list[Window]:
    """The windows that govern a resource with `tags`: those whose tag it carries, if any; else the untagged ones.
    So a tagged window takes its resources out of the untagged windows' rule, and a resource no window governs
    waits for nothing."""
    tagged = [w for w in windows if w.tag_key is not None and tags.get(w.tag_key) == (w.tag_value or "")]
    return tagged or [w for w in windows if w.tag_key is None]


def wait_until(windows: Sequence[Window], tag_sets: Iterable[Mapping[str, str]], moment: datetime) -> datetime | None:
    """When work on resources with these tags (one mapping per resource) may start: None if one of them may start at
    `moment` (or there is none), else the earliest opening among the windows that govern them."""
    if not windows:
        return None
    openings = [next_opening(governing(windows, tags), moment) for tags in tag_sets]
    if not openings or None in openings:
        return None
    return min(opening for opening in openings if opening is not None)


def window_text(window: WindowSpec) -> str:
    """`Sat,Sun 02:00 for 240 min (Asia/Shanghai), tag env=prod`: how the timeline and the CLI say a window."""
    days = ",".join(DAY_NAMES[day] for day in window.days)
    tag = "" if window.tag is None else f", tag {window.tag}"
    return f"{days} {window.start} for {window.duration_minutes} min ({window.time_zone}){tag}"
