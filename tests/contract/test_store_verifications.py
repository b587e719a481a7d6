"""The SQL store on real databases (SQLite, PostgreSQL, MySQL/MariaDB; see `store_fixtures`): verification results
and the job's mismatch option, replaced in place and kept per account."""

from __future__ import annotations

from certdeploy.adapters.sql import SqlStore
from certdeploy.domain.verification import ServedCertificate, Verification, VerifyMismatch, VerifyStatus
from tests.contract.store_fixtures import T0, new_job


def test_a_job_reports_mismatches_until_told_otherwise(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    job = new_job(store, account.id)
    assert store.verifications.mismatch_policy(account.id, job.id) is VerifyMismatch.REPORT
    store.verifications.set_mismatch_policy(account.id, job.id, VerifyMismatch.ROLLBACK)
    store.verifications.set_mismatch_policy(account.id, job.id, VerifyMismatch.FAIL)
    assert store.verifications.mismatch_policy(account.id, job.id) is VerifyMismatch.FAIL
    other = store.accounts.create("rival")
    assert store.verifications.mismatch_policy(other.id, job.id) is VerifyMismatch.REPORT


def test_a_verification_is_replaced_at_each_check_and_read_back_whole(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    job = new_job(store, account.id)
    pending = Verification(worker_id=7, job_id=job.id, account_id=account.id, status=VerifyStatus.PENDING)
    store.verifications.record(pending)
    served = ServedCertificate(fingerprint_sha256="ab" * 32, subject="CN=legacy-www", not_after=T0)
    final = pending.model_copy(
        update={
            "status": VerifyStatus.MISMATCH,
            "checks": 3,
            "server_name": "www.example.com",
            "detail": "another certificate is served",
            "served": served,
            "checked_at": T0,
        }
    )
    store.verifications.record(final)
    store.verifications.record(final)  # the same again (a redelivery) changes nothing
    assert store.verifications.of_workers(account.id, [7, 8]) == {7: final}
    assert store.verifications.of_workers(store.accounts.create("rival").id, [7]) == {}
