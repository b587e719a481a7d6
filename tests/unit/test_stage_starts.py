"""When each stage of a job can start (app/preview.py `stage_starts`): the earliest of its workers' planned starts,
never before the stage ahead of it; stages take workers in worker id order, as submission assigns them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from certdeploy.app.preview import BindingChange, stage_starts
from certdeploy.domain.models import Product
from tests.unit.test_matching import make_certificate

NOW = datetime(2026, 12, 4, 16, 0, tzinfo=timezone.utc)
NIGHT = NOW + timedelta(hours=6)


def _change(worker_id: int, planned_start: datetime) -> BindingChange:
    planned = make_certificate(1, "www.example.com")
    return BindingChange(worker_id, worker_id, Product.CDN, "www.example.com", None, planned, planned_start)


def test_each_stage_starts_with_its_first_worker_allowed_to_run() -> None:
    changes = [_change(3, NIGHT), _change(1, NOW), _change(2, NIGHT)]

    assert stage_starts(changes, [1, 2]) == [NOW, NIGHT]


def test_a_stage_never_starts_before_the_stage_ahead_of_it() -> None:
    changes = [_change(1, NIGHT), _change(2, NOW), _change(3, NOW)]

    assert stage_starts(changes, [1, 1, 1]) == [NIGHT, NIGHT, NIGHT]


def test_without_changes_no_stage_has_a_planned_start() -> None:
    assert stage_starts([], [1, 4, 5]) == [None, None, None]
