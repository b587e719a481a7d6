"""Maintenance windows (domain/windows.py): when a window is open, when it next opens, which windows govern a resource;
across midnight, the week's end and daylight saving changes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from certdeploy.domain.windows import (
    Window,
    WindowSpec,
    governing,
    is_open,
    next_opening,
    parse_days,
    parse_tag,
    wait_until,
    window_text,
)
from tests.conftest import examples

UTC = timezone.utc
# 2026-11-30 is a Monday.
MONDAY = datetime(2026, 11, 30, tzinfo=UTC)


def spec(days: tuple[int, ...], start: str, minutes: int, zone: str = "UTC", tag: str | None = None) -> WindowSpec:
    key, _, value = tag.partition("=") if tag else (None, "", None)
    return WindowSpec(days=days, start=start, duration_minutes=minutes, time_zone=zone, tag_key=key, tag_value=value)


def window(days: tuple[int, ...], start: str, minutes: int, zone: str = "UTC", tag: str | None = None) -> Window:
    made = spec(days, start, minutes, zone, tag)
    return Window(**made.model_dump(), id=1, account_id=1, created_at=MONDAY)


def at(day: int, hh: int, mm: int = 0) -> datetime:
    """Day `day` after MONDAY (UTC) at hh:mm."""
    return MONDAY + timedelta(days=day, hours=hh, minutes=mm)


def test_a_window_is_open_from_its_start_for_its_duration() -> None:
    nightly = spec((1,), "02:00", 90)  # Tuesday 02:00–03:30 UTC

    assert [is_open(nightly, t) for t in (at(1, 1, 59), at(1, 2), at(1, 3, 29), at(1, 3, 30))] == [
        False,
        True,
        True,
        False,
    ]


def test_a_window_runs_past_midnight_into_the_next_day() -> None:
    late = spec((5,), "23:00", 120)  # Saturday 23:00 to Sunday 01:00

    assert is_open(late, at(6, 0, 30))
    assert not is_open(late, at(6, 1))
    assert next_opening([late], at(6, 1)) == at(12, 23)


def test_a_sunday_window_wraps_into_monday_and_next_opens_a_week_later() -> None:
    sunday = spec((6,), "23:00", 120)

    assert is_open(sunday, at(0, 0, 30))  # Monday 00:30, the opening of the Sunday before
    assert next_opening([sunday], at(0, 2)) == at(6, 23)


def test_a_week_long_window_is_always_open() -> None:
    week = spec((0,), "00:00", 7 * 24 * 60)

    assert all(is_open(week, at(0, 0) + timedelta(hours=h)) for h in range(0, 7 * 24, 5))


def test_the_time_zone_decides_the_local_start() -> None:
    shanghai = spec((0,), "02:00", 60, "Asia/Shanghai")  # Monday 02:00 +08:00 is Sunday 18:00 UTC

    assert next_opening([shanghai], at(0, 0)) == at(6, 18)
    assert is_open(shanghai, at(-1, 18, 30))


def test_a_start_in_the_spring_forward_gap_opens_just_after_it_and_lasts_its_minutes() -> None:
    # Europe/Berlin moves from 02:00 CET to 03:00 CEST on Sunday 2026-03-29: 02:30 does not exist that day.
    berlin = spec((6,), "02:30", 60, "Europe/Berlin")
    moment = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)

    opening = next_opening([berlin], moment)

    assert opening == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST
    assert is_open(berlin, opening + timedelta(minutes=59)) and not is_open(berlin, opening + timedelta(minutes=60))


def test_a_window_across_the_spring_change_lasts_its_elapsed_minutes() -> None:
    overnight = spec((6,), "01:00", 180, "Europe/Berlin")  # opens 00:00 UTC, the clocks jump at 01:00 UTC

    assert is_open(overnight, datetime(2026, 3, 29, 2, 59, tzinfo=UTC))
    assert not is_open(overnight, datetime(2026, 3, 29, 3, 0, tzinfo=UTC))


def test_a_start_in_the_autumn_overlap_is_its_first_occurrence() -> None:
    # 2026-10-25: Berlin goes from 03:00 CEST back to 02:00 CET, so 02:30 happens twice; the first is 00:30 UTC.
    berlin = spec((6,), "02:30", 30, "Europe/Berlin")

    assert next_opening([berlin], datetime(2026, 10, 25, 0, 0, tzinfo=UTC)) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_several_windows_are_a_union_and_none_means_no_wait() -> None:
    morning, evening = spec((2,), "06:00", 60), spec((2,), "20:00", 60)

    assert next_opening([], at(2, 12)) is None
    assert next_opening([morning, evening], at(2, 6, 30)) is None
    assert next_opening([morning, evening], at(2, 12)) == at(2, 20)


def test_tagged_windows_govern_their_resources_and_untagged_ones_the_rest() -> None:
    everyone, prod, staging = (
        window((5,), "02:00", 60),
        window((6,), "02:00", 60, tag="env=prod"),
        window((3,), "02:00", 60, tag="env=staging"),
    )
    windows = [everyone, prod, staging]

    assert governing(windows, {"env": "prod", "team": "web"}) == [prod]
    assert governing(windows, {"env": "dev"}) == [everyone]
    assert governing(windows, {}) == [everyone]
    assert governing([prod], {}) == []  # only tagged windows, none of whose tags the resource carries: no wait
    assert wait_until([prod], [{}], at(0, 12)) is None


def test_work_on_several_resources_may_start_when_the_first_of_them_may() -> None:
    windows = [window((5,), "02:00", 60), window((2,), "02:00", 60, tag="env=prod")]

    assert wait_until(windows, [{"env": "prod"}, {}], at(0, 12)) == at(2, 2)
    assert wait_until(windows, [{}], at(0, 12)) == at(5, 2)
    assert wait_until(windows, [{"env": "prod"}, {}], at(2, 2, 30)) is None
    assert wait_until(windows, [], at(0, 12)) is None


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("days", {"days": ()}),
        ("days", {"days": (7,)}),
        ("start", {"start": "24:00"}),
        ("start", {"start": "2:00"}),
        ("duration_minutes", {"duration_minutes": 0}),
        ("duration_minutes", {"duration_minutes": 7 * 24 * 60 + 1}),
        ("time_zone", {"time_zone": "Mars/Olympus"}),
        ("time_zone", {"time_zone": "../etc/passwd"}),
    ],
)
def test_a_bad_window_is_refused_naming_its_field(field: str, values: dict[str, object]) -> None:
    good = {"days": (0,), "start": "02:00", "duration_minutes": 60, "time_zone": "UTC"}

    with pytest.raises(ValidationError) as refused:
        WindowSpec(**{**good, **values})

    assert refused.value.errors()[0]["loc"][0] == field


def test_days_and_tags_are_read_as_users_write_them() -> None:
    assert parse_days("sat, Sun") == (5, 6)
    assert parse_days("0,6") == (0, 6)
    with pytest.raises(ValueError, match="'Someday' is not a day"):
        parse_days("Mon,Someday")
    assert parse_tag("env=prod") == ("env", "prod")
    assert parse_tag("role=") == ("role", "")
    with pytest.raises(ValueError, match="key=value"):
        parse_tag("prod")
    assert window_text(spec((5, 6), "02:00", 240, "Asia/Shanghai", "env=prod")) == (
        "Sat,Sun 02:00 for 240 min (Asia/Shanghai), tag env=prod"
    )


# ---------------------------------------------------------------------------------------------------- properties


def _reference_open(w: WindowSpec, moment: datetime, offset_hours: int) -> bool:
    """Open or not by minute arithmetic on the week, for a zone at a fixed offset: independent of the datetime walk."""
    local = moment + timedelta(hours=offset_hours)
    minute_of_week = local.weekday() * 1440 + local.hour * 60 + local.minute
    hh, mm = (int(p) for p in w.start.split(":"))
    return any((minute_of_week - (day * 1440 + hh * 60 + mm)) % 10080 < w.duration_minutes for day in w.days)


windows_strategy = st.builds(
    lambda days, hh, mm, minutes, zone: spec(tuple(days), f"{hh:02d}:{mm:02d}", minutes, zone),
    st.sets(st.integers(0, 6), min_size=1, max_size=7),
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(1, 7 * 24 * 60),
    st.sampled_from(["UTC", "Asia/Shanghai"]),
)
# Whole minutes over a year: the reference works in minutes.
moments = st.integers(0, 365 * 1440).map(lambda minutes: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes))
OFFSET = {"UTC": 0, "Asia/Shanghai": 8}  # Shanghai has had no daylight saving since 1991


@settings(max_examples=examples(300), deadline=None)
@given(windows_strategy, moments)
def test_is_open_agrees_with_minute_arithmetic_on_the_week(w: WindowSpec, moment: datetime) -> None:
    assert is_open(w, moment) == _reference_open(w, moment, OFFSET[w.time_zone])


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(windows_strategy, min_size=1, max_size=3), moments, st.floats(0, 1, exclude_max=True))
def test_next_opening_is_the_first_minute_a_window_opens(
    windows: list[WindowSpec], moment: datetime, fraction: float
) -> None:
    opening = next_opening(windows, moment)

    def open_at(t: datetime) -> bool:
        return any(_reference_open(w, t, OFFSET[w.time_zone]) for w in windows)

    if opening is None:
        assert open_at(moment)
        return
    assert not open_at(moment)
    assert moment < opening <= moment + timedelta(days=7)
    assert open_at(opening) and not open_at(opening - timedelta(minutes=1))
    # and closed at any whole minute between
    between = moment + timedelta(minutes=int((opening - moment).total_seconds() // 60 * fraction))
    assert not open_at(between)


@settings(max_examples=examples(200), deadline=None)
@given(
    windows_strategy.map(lambda w: w.model_copy(update={"time_zone": "America/New_York"})),
    st.integers(0, 365 * 24).map(lambda hours: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=hours, seconds=7)),
)
def test_across_daylight_saving_the_next_opening_is_open_on_a_chosen_day(w: WindowSpec, moment: datetime) -> None:
    opening = next_opening([w], moment)

    if opening is None:
        assert is_open(w, moment)
        return
    assert moment < opening <= moment + timedelta(days=7, hours=1)
    assert is_open(w, opening) and not is_open(w, opening - timedelta(seconds=1))
    assert opening.astimezone(ZoneInfo("America/New_York")).weekday() in w.days
