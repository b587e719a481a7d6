"""What a worker's end does to itself, to the quota and to its job — decided in the domain, applied by the use cases."""

from datetime import datetime, timezone

import pytest

from certdeploy.domain.completion import Failure, end_worker, finish_job
from certdeploy.domain.errors import InvalidStatus
from certdeploy.domain.models import CertOrigin, Product, Worker
from certdeploy.domain.quota import Ledger, LedgerEntryKind, charge_entries
from certdeploy.domain.states import JobMove, JobStatus, WorkerMove, WorkerStatus

J, W = JobStatus, WorkerStatus
T0 = datetime(2026, 5, 1, tzinfo=timezone.utc)


def _worker(status: WorkerStatus, worker_id: int = 7) -> Worker:
    return Worker(
        id=worker_id,
        job_id=3,
        account_id=1,
        cert_id=5,
        resource_id=9,
        product=Product.CDN,
        status=status,
        created_at=T0,
        modified_at=T0,
    )


def test_a_successful_worker_succeeds_binds_its_certificate_and_keeps_its_unit() -> None:
    end = end_worker(_worker(W.PROCESSING), None)
    assert (end.move, end.failure, end.refund) == (WorkerMove(W.PROCESSING, W.SUCCESS), None, None)
    assert end.binds_certificate


@pytest.mark.parametrize("status", [W.PENDING, W.SCHEDULING])
def test_only_a_processing_worker_can_succeed(status: WorkerStatus) -> None:
    with pytest.raises(InvalidStatus):
        end_worker(_worker(status), None)


@pytest.mark.parametrize("status", [W.PENDING, W.SCHEDULING, W.PROCESSING])
def test_a_failed_worker_records_the_cause_and_gets_its_unit_back(status: WorkerStatus) -> None:
    failure = Failure("Throttling", "slow down")
    end = end_worker(_worker(status), failure)
    assert (end.move, end.failure, end.binds_certificate) == (WorkerMove(status, W.ERROR), failure, False)
    assert end.refund is not None
    assert (end.refund.kind, end.refund.worker_id, end.refund.job_id) == (LedgerEntryKind.REFUND, 7, 3)


def test_a_failed_worker_s_refund_gives_back_exactly_its_charge() -> None:
    ledger = Ledger(1, buy_count=2).charge(charge_entries(1, 3, CertOrigin.UPLOAD, [7, 8]))
    end = end_worker(_worker(W.PROCESSING), Failure("X", "y"))
    assert end.refund is not None
    refunded = ledger.apply(end.refund)
    assert (refunded.use_count, refunded.apply(end.refund).use_count) == (1, 1)


@pytest.mark.parametrize("status", [W.EDITING, W.SUCCESS, W.ERROR, W.ROLLBACK, W.ROLLBACK_SUCCESS])
def test_a_worker_that_is_not_running_cannot_end_again(status: WorkerStatus) -> None:
    with pytest.raises(InvalidStatus):
        end_worker(_worker(status), Failure("X", "y"))


def test_a_processing_job_finishes_when_its_last_worker_ends() -> None:
    assert finish_job(J.PROCESSING, [W.SUCCESS, W.PROCESSING]) is None
    assert finish_job(J.PROCESSING, [W.SUCCESS, W.SUCCESS]) == JobMove(J.PROCESSING, J.SUCCESS)
    assert finish_job(J.PROCESSING, [W.SUCCESS, W.ERROR]) == JobMove(J.PROCESSING, J.ERROR)
    assert finish_job(J.PROCESSING, []) == JobMove(J.PROCESSING, J.ERROR)


@pytest.mark.parametrize("status", sorted(set(JobStatus) - {J.PROCESSING}))
def test_only_a_processing_job_is_finished_by_its_workers(status: JobStatus) -> None:
    assert finish_job(status, [W.SUCCESS]) is None
