"""Quota: one unit per worker of an uploaded-certificate job, given back once on failure or deletion, never twice."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certdeploy.domain.errors import QuotaExceeded
from certdeploy.domain.models import CertOrigin
from certdeploy.domain.quota import (
    Ledger,
    LedgerEntry,
    charge_entries,
    job_cost,
    refund_entry,
    release_entries,
)
from tests.conftest import examples

ACCOUNT = 1


def test_uploaded_certificates_cost_one_unit_per_worker_official_ones_nothing() -> None:
    assert job_cost(CertOrigin.UPLOAD, 7) == 7
    assert job_cost(CertOrigin.BUY, 7) == 0
    assert job_cost(CertOrigin.FREE, 7) == 0
    assert charge_entries(ACCOUNT, 1, CertOrigin.BUY, [1, 2]) == []


def test_charging_a_job_consumes_its_cost() -> None:
    ledger = Ledger(ACCOUNT, buy_count=10).charge(charge_entries(ACCOUNT, 1, CertOrigin.UPLOAD, [1, 2, 3]))
    assert (ledger.use_count, ledger.available) == (3, 7)


def test_a_job_that_does_not_fit_is_refused_whole_and_changes_nothing() -> None:
    ledger = Ledger(ACCOUNT, buy_count=4).charge(charge_entries(ACCOUNT, 1, CertOrigin.UPLOAD, [1, 2, 3]))
    with pytest.raises(QuotaExceeded) as caught:
        ledger.charge(charge_entries(ACCOUNT, 2, CertOrigin.UPLOAD, [4, 5]))
    assert caught.value.code == "QuotaExceeded"
    assert "needs 2" in caught.value.message and "only 1 of 4" in caught.value.message
    assert ledger.use_count == 3


def test_charging_the_same_job_twice_charges_once() -> None:
    entries = charge_entries(ACCOUNT, 1, CertOrigin.UPLOAD, [1, 2])
    ledger = Ledger(ACCOUNT, buy_count=2).charge(entries).charge(entries)
    assert ledger.use_count == 2


def test_a_failed_worker_gets_its_unit_back_once() -> None:
    ledger = Ledger(ACCOUNT, buy_count=5).charge(charge_entries(ACCOUNT, 1, CertOrigin.UPLOAD, [1, 2]))
    ledger = ledger.apply(refund_entry(ACCOUNT, 1, 2)).apply(refund_entry(ACCOUNT, 1, 2))
    assert ledger.use_count == 1
    assert not ledger.holds(2) and ledger.holds(1)


def test_a_refunded_worker_is_not_released_again_when_its_job_is_deleted() -> None:
    ledger = Ledger(ACCOUNT, buy_count=5).charge(charge_entries(ACCOUNT, 1, CertOrigin.UPLOAD, [1, 2]))
    ledger = ledger.apply(refund_entry(ACCOUNT, 1, 2))
    for entry in release_entries(ACCOUNT, 1, [1, 2]):
        ledger = ledger.apply(entry)
    assert ledger.use_count == 0


def test_a_worker_never_charged_cannot_be_credited() -> None:
    ledger = Ledger(ACCOUNT, buy_count=5).apply(refund_entry(ACCOUNT, 1, 99))
    assert ledger.use_count == 0
    assert ledger.entries == {}


def test_another_accounts_entry_does_not_touch_this_ledger() -> None:
    ledger = Ledger(ACCOUNT, buy_count=5).charge(charge_entries(2, 1, CertOrigin.UPLOAD, [1]))
    assert ledger.use_count == 0


def test_bought_units_grow_and_can_be_taken_back_but_never_below_zero() -> None:
    ledger = Ledger(ACCOUNT, buy_count=2).charge(charge_entries(ACCOUNT, 1, CertOrigin.UPLOAD, [1]))
    assert (ledger.buy(3).buy_count, ledger.buy(3).use_count, ledger.buy(-2).available) == (5, 1, -1)
    with pytest.raises(ValueError, match="cannot take 3 back"):
        ledger.buy(-3)
    assert ledger.buy_count == 2


def test_a_ledger_of_some_workers_starts_from_the_stored_use_count() -> None:
    ledger = Ledger(ACCOUNT, buy_count=5, use_count=4)
    with pytest.raises(QuotaExceeded):
        ledger.charge(charge_entries(ACCOUNT, 1, CertOrigin.UPLOAD, [1, 2]))
    after = ledger.charge(charge_entries(ACCOUNT, 1, CertOrigin.UPLOAD, [1, 1]))
    assert (after.use_count, after.added_since(ledger)) == (5, charge_entries(ACCOUNT, 1, CertOrigin.UPLOAD, [1]))


def test_ledgers_are_immutable() -> None:
    empty = Ledger(ACCOUNT, buy_count=5)
    empty.charge(charge_entries(ACCOUNT, 1, CertOrigin.UPLOAD, [1]))
    assert empty.use_count == 0


# ---- property: whatever happens, UseCount == units of workers that succeeded or are still running

_operation = st.one_of(
    st.tuples(st.just("submit"), st.integers(0, 4), st.sampled_from(list(CertOrigin))),
    st.tuples(st.just("finish"), st.integers(0, 30), st.booleans()),
    st.tuples(st.just("delete_unrun"), st.integers(0, 10)),
    st.tuples(st.just("replay"), st.integers(0, 100)),
)


@settings(max_examples=examples(300), deadline=None)
@given(buy_count=st.integers(0, 12), operations=st.lists(_operation, max_size=40))
def test_use_count_always_equals_units_held_by_live_workers(buy_count: int, operations: list[tuple]) -> None:
    ledger = Ledger(ACCOUNT, buy_count)
    applied: list[LedgerEntry] = []
    jobs: dict[int, list[int]] = {}
    job_charged: dict[int, bool] = {}
    worker_state: dict[int, str] = {}  # running | succeeded | failed | released
    next_worker = 0

    for operation in operations:
        kind = operation[0]
        if kind == "submit":
            _, size, origin = operation
            job_id = len(jobs)
            workers = list(range(next_worker, next_worker + size))
            next_worker += size
            entries = charge_entries(ACCOUNT, job_id, origin, workers)
            try:
                ledger = ledger.charge(entries)
            except QuotaExceeded:
                assert ledger.use_count + size > buy_count
                continue
            applied += entries
            jobs[job_id] = workers
            job_charged[job_id] = bool(entries)
            worker_state.update(dict.fromkeys(workers, "running"))
        elif kind == "finish" and worker_state:
            _, pick, succeeded = operation
            worker = sorted(worker_state)[pick % len(worker_state)]
            if worker_state[worker] != "running":
                continue
            job_id = next(j for j, ws in jobs.items() if worker in ws)
            worker_state[worker] = "succeeded" if succeeded else "failed"
            if not succeeded:
                entry = refund_entry(ACCOUNT, job_id, worker)
                ledger = ledger.apply(entry)
                applied.append(entry)
        elif kind == "delete_unrun" and jobs:
            job_id = sorted(jobs)[operation[1] % len(jobs)]
            if any(worker_state[w] != "running" for w in jobs[job_id]):
                continue  # the job ran: deleting it gives nothing back
            for entry in release_entries(ACCOUNT, job_id, jobs[job_id]):
                ledger = ledger.apply(entry)
                applied.append(entry)
            worker_state.update(dict.fromkeys(jobs[job_id], "released"))
        elif kind == "replay" and applied:
            ledger = ledger.apply(applied[operation[1] % len(applied)])

        held = sum(
            1
            for job_id, workers in jobs.items()
            if job_charged[job_id]
            for w in workers
            if worker_state[w] in {"running", "succeeded"}
        )
        assert ledger.use_count == held
        assert 0 <= ledger.use_count <= buy_count
