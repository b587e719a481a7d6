"""The SQL store on real databases (SQLite, PostgreSQL, MySQL/MariaDB; see `store_fixtures`): a job's staged rollout —
its row, its workers put in stages and started a stage at a time, and the renewal of a halted job's workers."""

from __future__ import annotations

from certdeploy.adapters.sql import SqlStore
from certdeploy.domain.quota import release_entries
from certdeploy.domain.stages import parse_stages, stage_bounds
from certdeploy.domain.states import JobStatus, WorkerStatus, move_job, move_worker
from certdeploy.domain.verification import Verification, VerifyStatus
from certdeploy.ports.store.job_stages import StagedJob
from tests.contract.store_fixtures import T0, pending_job_with_workers

J, W = JobStatus, WorkerStatus


def test_a_job_s_stages_are_saved_replaced_and_go_with_the_job(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    other = store.accounts.create("other")
    job, _ = pending_job_with_workers(store, account.id, 1)
    assert store.job_stages.get(account.id, job.id) is None

    store.job_stages.save(StagedJob(job.id, account.id, stages="1,50%,100%", max_failures="0"))
    halted = StagedJob(job.id, account.id, "1,50%,100%", "10%", stage_count=3, stage=1, resumes=2, halt_reason="why")
    store.job_stages.save(halted)

    assert store.job_stages.get(account.id, job.id) == halted
    assert store.job_stages.get(other.id, job.id) is None
    store.jobs.delete(account.id, job.id)
    assert store.job_stages.get(account.id, job.id) is None


def test_workers_are_put_in_stages_by_id_and_started_one_stage_at_a_time(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    job, worker_ids = pending_job_with_workers(store, account.id, 10)
    store.workers.assign_stages(account.id, job.id, stage_bounds(parse_stages("1,50%,100%"), 10))
    start = move_worker(W.PENDING, W.SCHEDULING)

    started = [store.workers.transition_all(account.id, job.id, start, stage=stage) for stage in (1, 1, 2, 4)]

    assert started == [1, 0, 4, 0]
    scheduling = store.workers.ids_after(account.id, job.id, W.SCHEDULING, 0, 100)
    assert scheduling == worker_ids[:5]
    assert store.workers.ids_after(account.id, job.id, W.PENDING, 0, 100) == worker_ids[5:]
    product = store.workers.get(account.id, worker_ids[0]).product
    assert store.workers.counts(account.id, job.id) == {
        (product, W.SCHEDULING): 5,
        (product, W.PENDING): 5,
    }


def test_a_job_that_runs_again_has_no_end_time(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    job, _ = pending_job_with_workers(store, account.id, 1)
    store.jobs.transition(account.id, job.id, move_job(J.PENDING, J.SCHEDULING))
    store.jobs.transition(account.id, job.id, move_job(J.SCHEDULING, J.PROCESSING), start_time=T0)
    halted = store.jobs.transition(account.id, job.id, move_job(J.PROCESSING, J.ERROR), end_time=T0)
    assert halted.end_time == T0

    resumed = store.jobs.transition(account.id, job.id, move_job(J.ERROR, J.SCHEDULING))

    assert (resumed.status, resumed.start_time, resumed.end_time) == (J.SCHEDULING, T0, None)


def test_renewing_gives_failed_and_waiting_workers_new_ids_in_their_stage_charged_afresh(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    store.quota.add(account.id, 10)
    job, worker_ids = pending_job_with_workers(store, account.id, 4)
    assert store.quota.charge_workers(account.id, job.id, W.PENDING) == 4
    store.workers.assign_stages(account.id, job.id, (1, 2, 4))
    store.jobs.transition(account.id, job.id, move_job(J.PENDING, J.SCHEDULING))
    # stage 1's worker succeeds, stage 2's fails; stage 3 (two workers) never runs and is released
    first, second = worker_ids[:2]
    for worker_id, end in ((first, W.SUCCESS), (second, W.ERROR)):
        for before, after in ((W.PENDING, W.SCHEDULING), (W.SCHEDULING, W.PROCESSING), (W.PROCESSING, end)):
            store.workers.transition(account.id, worker_id, move_worker(before, after))
    # the failed one had claimed its resource (it then failed its verification): it recorded what was served before
    before_job = {"resource_cert_id": 7, "resource_cert_name": "legacy", "resource_domain": "s.example.com"}
    store.workers.transition(
        account.id, second, move_worker(W.ERROR, W.ERROR), resource_binding='{"cert_name": "legacy"}', **before_job
    )
    store.quota.credit(account.id, release_entries(account.id, job.id, worker_ids[1:]))
    assert store.quota.balance(account.id).use_count == 1
    checked = Verification(
        worker_id=second, job_id=job.id, account_id=account.id, status=VerifyStatus.MISMATCH, checks=3
    )
    store.verifications.record(checked)

    assert store.workers.renew(account.id, job.id, (W.PENDING, W.ERROR)) == 3
    assert store.workers.renew(account.id, job.id, ()) == 0

    workers = store.workers.of_job(account.id, job.id)
    assert workers[0].id == first and workers[0].status is W.SUCCESS
    renewed = workers[1:]
    assert [w.resource_id for w in renewed] == [101, 102, 103]
    assert all(w.status is W.PENDING and w.id > worker_ids[-1] and w.error_code is None for w in renewed)
    # a rollback of the renewed worker gives back what the resource served before the job, not the failed bind's
    recorded = renewed[0]
    assert (recorded.resource_cert_id, recorded.resource_cert_name, recorded.resource_domain) == (
        7,
        "legacy",
        "s.example.com",
    )
    assert recorded.resource_binding == '{"cert_name": "legacy"}'
    assert renewed[1].resource_domain is None
    assert store.verifications.of_workers(account.id, worker_ids) == {}  # the failed one's went with it
    assert store.workers.transition_all(account.id, job.id, move_worker(W.PENDING, W.SCHEDULING), stage=2) == 1
    assert store.workers.counts(account.id, job.id) == {
        (workers[0].product, W.SUCCESS): 1,
        (workers[0].product, W.SCHEDULING): 1,
        (workers[0].product, W.PENDING): 2,
    }
    # the new workers are charged once; the old ones' ledger entries stay as they were
    assert store.quota.charge_workers(account.id, job.id, W.PENDING) == 2
    assert store.quota.charge_workers(account.id, job.id, W.PENDING) == 0
    assert store.quota.balance(account.id).use_count == 3
