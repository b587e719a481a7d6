"""Workers: one per (job, resource), moved conditionally like jobs."""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Update, bindparam, delete, func, insert, select, update

from certdeploy.adapters.sql import job_counters
from certdeploy.adapters.sql.repository import SqlRepository, chunks
from certdeploy.adapters.sql.resources import stored_tags
from certdeploy.adapters.sql.schema import jobs, resources, worker_verifications, workers
from certdeploy.domain.errors import NotFound, Thing
from certdeploy.domain.models import Product, Worker
from certdeploy.domain.states import WorkerMove, WorkerStatus
from certdeploy.ports.store.errors import StaleState
from certdeploy.ports.store.jobs import WorkerChange, WorkerSpec, WorkerTarget
from certdeploy.ports.store.paging import Page

# Workers inserted per statement.
_INSERT_BATCH = 2000
# Workers renewed per statement when a halted job resumes: a bound on memory, not a limit.
_RENEW_PAGE = 1000
# What a renewed worker keeps of the one it replaces: what it deploys where, and what the resource served before the
# job (recorded by a failed worker that had claimed it), so a rollback gives that back, not the failed bind's.
_RENEWED_COLUMNS = (
    "cert_id",
    "resource_id",
    "product",
    "stage",
    "resource_cert_id",
    "resource_cert_name",
    "resource_domain",
    "resource_binding",
)


def _worker(row: Row[Any]) -> Worker:
    return Worker(
        id=row.id,
        job_id=row.job_id,
        account_id=row.account_id,
        cert_id=row.cert_id,
        resource_id=row.resource_id,
        product=Product(row.product),
        status=WorkerStatus(row.status),
        resource_cert_id=row.resource_cert_id,
        resource_cert_name=row.resource_cert_name,
        resource_domain=row.resource_domain,
        resource_binding=row.resource_binding,
        error_code=row.error_code,
        error_message=row.error_message,
        attempt=row.attempt,
        created_at=row.created_at,
        modified_at=row.modified_at,
        version=row.version,
    )


class SqlWorkers(SqlRepository):
    """The `Workers` port."""

    def create(self, account_id: int, job_id: int, specs: Sequence[WorkerSpec]) -> list[int]:
        with self._connection(write=True) as conn:
            self._require_job(conn, account_id, job_id)
            return self._insert_workers(conn, account_id, job_id, specs)

    def replace(self, account_id: int, job_id: int, specs: Sequence[WorkerSpec]) -> list[int]:
        with self._connection(write=True) as conn:
            self._require_job(conn, account_id, job_id)
            conn.execute(delete(workers).where(workers.c.job_id == job_id))
            job_counters.recount(conn, job_id)
            return self._insert_workers(conn, account_id, job_id, specs)

    def get(self, account_id: int, worker_id: int) -> Worker:
        with self._connection(write=False) as conn:
            row = conn.execute(
                select(workers).where(workers.c.id == worker_id, workers.c.account_id == account_id)
            ).one_or_none()
        if row is None:
            raise NotFound.of(Thing.WORKER, worker_id)
        return _worker(row)

    def get_many(self, account_id: int, worker_ids: Collection[int]) -> list[Worker]:
        return [_worker(row) for row in self._owned_rows(workers, workers.c.id, account_id, worker_ids)]

    def search(
        self,
        account_id: int,
        job_id: int,
        *,
        status: WorkerStatus | None = None,
        product: Product | None = None,
        page: int = 1,
        page_size: int = 50,
    ) -> Page[Worker]:
        # The job row says whose the job is; its workers are then found by job alone, all from one index.
        conditions = [workers.c.job_id == job_id]
        if status is not None:
            conditions.append(workers.c.status == str(status))
        if product is not None:
            conditions.append(workers.c.product == str(product))
        with self._connection(write=False) as conn:
            self._require_job(conn, account_id, job_id)
            total, rows = self._indexed_page(conn, workers, conditions, page, page_size)
        return Page(items=[_worker(row) for row in rows], total=total)

    def of_job(self, account_id: int, job_id: int) -> list[Worker]:
        with self._connection(write=False) as conn:
            self._require_job(conn, account_id, job_id)
            rows = conn.execute(
                select(workers)
                .where(workers.c.account_id == account_id, workers.c.job_id == job_id)
                .order_by(workers.c.id)
            )
            return [_worker(row) for row in rows]

    def targets(self, account_id: int, job_id: int) -> list[WorkerTarget]:
        query = (
            select(
                workers.c.id,
                workers.c.cert_id,
                workers.c.resource_id,
                workers.c.product,
                resources.c.domain,
                resources.c.bound_cert_id,
                resources.c.bound_cert_name,
                resources.c.tags,
            )
            .join(resources, resources.c.id == workers.c.resource_id)
            .where(workers.c.job_id == job_id, resources.c.account_id == account_id)
            .order_by(workers.c.id)
        )
        with self._connection(write=False) as conn:
            self._require_job(conn, account_id, job_id)
            rows = conn.execute(query).all()
        return [
            WorkerTarget(
                worker_id, cert_id, resource_id, Product(product), domain, bound_id, bound_name, stored_tags(tags)
            )
            for worker_id, cert_id, resource_id, product, domain, bound_id, bound_name, tags in rows
        ]

    def counts(self, account_id: int, job_id: int) -> dict[tuple[Product, WorkerStatus], int]:
        with self._connection(write=False) as conn:
            counts = job_counters.read_counts(conn, account_id, job_id)
        return {(Product(product), WorkerStatus(status)): count for (product, status), count in counts.items()}

    def cert_count(self, account_id: int, job_id: int) -> int:
        query = select(jobs.c.worker_cert_count).where(jobs.c.id == job_id, jobs.c.account_id == account_id)
        with self._connection(write=False) as conn:
            count = conn.execute(query).scalar_one_or_none()
        if count is None:
            raise NotFound.of(Thing.JOB, job_id)
        return int(count)

    def ids_after(self, account_id: int, job_id: int, status: WorkerStatus, after_id: int, limit: int) -> list[int]:
        query = (
            select(workers.c.id)
            .where(workers.c.job_id == job_id, workers.c.status == str(status), workers.c.id > after_id)
            .where(workers.c.account_id == account_id)
            .order_by(workers.c.id)
            .limit(limit)
        )
        with self._connection(write=False) as conn:
            return list(conn.execute(query).scalars())

    def transition(
        self,
        account_id: int,
        worker_id: int,
        move: WorkerMove,
        *,
        expected_version: int | None = None,
        resource_cert_id: int | None = None,
        resource_cert_name: str | None = None,
        resource_domain: str | None = None,
        resource_binding: str | None = None,
        error_code: str | None = None,
        error_message: str | None = None,
        clear_error: bool = False,
        attempt: int | None = None,
    ) -> Worker:
        changes: dict[str, Any] = {"status": str(move.to), "version": workers.c.version + 1, "modified_at": self._now()}
        optional = {
            "resource_cert_id": resource_cert_id,
            "resource_cert_name": resource_cert_name,
            "resource_domain": resource_domain,
            "resource_binding": resource_binding,
            "error_code": error_code,
            "error_message": error_message,
            "attempt": attempt,
        }
        changes.update({column: value for column, value in optional.items() if value is not None})
        if clear_error:
            changes.update(error_code=None, error_message=None)
        conditions = [
            workers.c.id == worker_id,
            workers.c.account_id == account_id,
            workers.c.status == str(move.expected),
        ]
        if expected_version is not None:
            conditions.append(workers.c.version == expected_version)
        with self._connection(write=True) as conn:
            row = self._update_one(conn, update(workers).where(*conditions).values(changes), workers, worker_id)
            if row is None:
                raise self._stale(conn, workers, Thing.WORKER, worker_id, account_id)
            if move.expected is not move.to:
                # A worker's job and product never change: the row as written tells which counts moved.
                moved = {(row.product, str(move.expected)): -1, (row.product, str(move.to)): 1}
                job_counters.adjust(job_counters.changes(conn, account_id, row.job_id), moved)
        return _worker(row)

    def transition_each(self, account_id: int, changes: Sequence[WorkerChange]) -> list[Worker]:
        if not changes:
            return []
        now = self._now()
        # In worker id order, as every writer of several workers takes their rows' locks.
        ordered = sorted(changes, key=lambda change: change.worker.id)
        by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        moved: dict[int, Counter[job_counters.CountKey]] = defaultdict(Counter)
        for change in ordered:
            worker, move = change.worker, change.move
            by_shape[tuple(sorted(change.fields))].append(
                {
                    "w_id": worker.id,
                    "w_account": account_id,
                    "w_expected": str(move.expected),
                    "w_version": worker.version,
                    "w_to": str(move.to),
                    "w_now": now,
                    **{f"w_{name}": value for name, value in change.fields.items()},
                }
            )
            if move.expected is not move.to:
                moved[worker.job_id].update({(str(worker.product), str(move.expected)): -1})
                moved[worker.job_id].update({(str(worker.product), str(move.to)): 1})
        with self._connection(write=True) as conn:
            # One executemany per shape of change (which columns it sets): the statement is compiled once for all.
            matched = sum(conn.execute(_conditional_update(shape), rows).rowcount for shape, rows in by_shape.items())
            if matched != len(ordered):
                raise self._first_stale(conn, account_id, ordered)
            for job_id in sorted(moved):
                job_counters.adjust(job_counters.changes(conn, account_id, job_id), moved[job_id])
        return [
            change.worker.model_copy(
                update={
                    "status": change.move.to,
                    "version": change.worker.version + 1,
                    "modified_at": now,
                    **change.fields,
                }
            )
            for change in changes
        ]

    @staticmethod
    def _first_stale(conn: Connection, account_id: int, changes: Sequence[WorkerChange]) -> StaleState:
        """Why the changes' updates matched fewer workers than they name, read after them in their transaction: the
        first worker gone or not as its change leaves it (a transaction that wrote the same change first is seen as
        the first worker, as what is written makes no difference to the retry)."""
        ids = [change.worker.id for change in changes]
        query = select(workers.c.id, workers.c.status, workers.c.version).where(
            workers.c.account_id == account_id, workers.c.id.in_(ids)
        )
        found = {row.id: (row.status, row.version) for row in conn.execute(query)}
        for change in changes:
            state = found.get(change.worker.id)
            if state is None:
                return StaleState("worker", change.worker.id, "deleted", change.worker.version)
            if state != (str(change.move.to), change.worker.version + 1):
                return StaleState("worker", change.worker.id, *state)
        return StaleState("worker", ids[0], *found[ids[0]])

    def transition_all(
        self,
        account_id: int,
        job_id: int,
        move: WorkerMove,
        *,
        cert_ids: Collection[int] | None = None,
        stage: int | None = None,
    ) -> int:
        conditions = [
            workers.c.account_id == account_id,
            workers.c.job_id == job_id,
            workers.c.status == str(move.expected),
        ]
        if cert_ids is not None:
            conditions.append(workers.c.cert_id.in_(sorted(cert_ids)))
        if stage is not None:
            conditions.append(workers.c.stage == stage)
        with self._connection(write=True) as conn:
            # The job's row locked first: its workers are counted and moved with no other writer of the job between.
            if not job_counters.lock_job(conn, account_id, job_id):
                return 0
            narrowed = cert_ids is not None or stage is not None
            per_product = self._moving_per_product(conn, (account_id, job_id), conditions, move.expected, narrowed)
            result = conn.execute(
                update(workers)
                .where(*conditions)
                .values(status=str(move.to), version=workers.c.version + 1, modified_at=self._now())
            )
            moved: Counter[job_counters.CountKey] = Counter()
            for product, count in per_product:
                moved[(product, str(move.expected))] -= count
                moved[(product, str(move.to))] += count
            job_counters.adjust(job_counters.changes(conn, account_id, job_id), moved)
        return result.rowcount

    @staticmethod
    def _moving_per_product(
        conn: Connection,
        job: tuple[int, int],
        conditions: Sequence[ColumnElement[bool]],
        status: WorkerStatus,
        narrowed: bool,
    ) -> list[tuple[str, int]]:
        """How many of the workers `conditions` select are of each product: all the (account id, job id) job's workers
        in `status`, as its counters say once its row is locked, unless they are `narrowed` to some certificates or a
        stage (then counted, one more pass over them)."""
        if not narrowed:
            counts = job_counters.read_counts(conn, *job)
            return [(product, count) for (product, of_status), count in counts.items() if of_status == str(status)]
        grouped = select(workers.c.product, func.count()).where(*conditions).group_by(workers.c.product)
        return [(product, count) for product, count in conn.execute(grouped)]

    def assign_stages(self, account_id: int, job_id: int, bounds: Sequence[int]) -> None:
        of_job = [workers.c.account_id == account_id, workers.c.job_id == job_id]
        with self._connection(write=True) as conn:
            first = 0
            for stage, end in enumerate(bounds, start=1):
                # The id of the stage's last worker: one indexed read per stage, whatever the job's size.
                last = conn.execute(
                    select(workers.c.id).where(*of_job).order_by(workers.c.id).offset(end - 1).limit(1)
                ).scalar_one()
                conn.execute(
                    update(workers).where(*of_job, workers.c.id > first, workers.c.id <= last).values(stage=stage)
                )
                first = last

    def renew(self, account_id: int, job_id: int, statuses: Collection[WorkerStatus]) -> int:
        chosen = [
            workers.c.account_id == account_id,
            workers.c.job_id == job_id,
            workers.c.status.in_([str(status) for status in statuses]),
        ]
        renewed = 0
        with self._connection(write=True) as conn:
            self._require_job(conn, account_id, job_id)
            # The copies are `pending` too: only the rows there before are renewed.
            newest = conn.execute(select(func.max(workers.c.id)).where(workers.c.job_id == job_id)).scalar_one()
            chosen.append(workers.c.id <= (newest or 0))
            while True:
                # The rows are deleted before their copies go in (one worker per resource), a page at a time.
                page = conn.execute(
                    select(workers.c.id, *(workers.c[column] for column in _RENEWED_COLUMNS))
                    .where(*chosen)
                    .order_by(workers.c.id)
                    .limit(_RENEW_PAGE)
                ).all()
                if not page:
                    break
                replaced = [row.id for row in page]
                conn.execute(delete(workers).where(workers.c.id.in_(replaced)))
                # Their verifications go with them: the new workers are verified afresh.
                conn.execute(delete(worker_verifications).where(worker_verifications.c.worker_id.in_(replaced)))
                now = self._now()
                conn.execute(
                    insert(workers),
                    [
                        {
                            "job_id": job_id,
                            "account_id": account_id,
                            **{column: row._mapping[column] for column in _RENEWED_COLUMNS},
                            "status": str(WorkerStatus.PENDING),
                            "attempt": 0,
                            "version": 0,
                            "created_at": now,
                            "modified_at": now,
                        }
                        for row in page
                    ],
                )
                renewed += len(page)
            if renewed:
                job_counters.recount(conn, job_id)
        return renewed

    def stuck(self, statuses: Collection[WorkerStatus], modified_before: datetime, limit: int = 100) -> list[Worker]:
        query = (
            select(workers)
            .where(workers.c.status.in_([str(s) for s in statuses]), workers.c.modified_at < modified_before)
            .order_by(workers.c.modified_at, workers.c.id)
            .limit(limit)
        )
        with self._connection(write=False) as conn:
            return [_worker(row) for row in conn.execute(query)]

    def _insert_workers(self, conn: Connection, account_id: int, job_id: int, specs: Sequence[WorkerSpec]) -> list[int]:
        if not specs:
            return []
        now = self._now()
        shared = {"job_id": job_id, "account_id": account_id, "status": str(WorkerStatus.EDITING), "attempt": 0}
        shared |= {"version": 0, "created_at": now, "modified_at": now}
        # A batch of rows at a time, so a job's every worker is never in memory as parameters; all of them or none.
        with self._unique(conn, f"A resource has two workers in job {job_id}."):
            for batch in chunks(specs, _INSERT_BATCH):
                rows = [(spec.cert_id, spec.resource_id, str(spec.product)) for spec in batch]
                self._insert_many(conn, workers, shared, ("cert_id", "resource_id", "product"), rows)
        job_counters.recount(conn, job_id)
        # Only the new ids are read back: the rest of each worker is what was just written.
        query = select(workers.c.resource_id, workers.c.id).where(workers.c.job_id == job_id)
        ids = {resource_id: worker_id for resource_id, worker_id in conn.execute(query)}
        return [ids[spec.resource_id] for spec in specs]


@functools.cache
def _conditional_update(shape: tuple[str, ...]) -> Update:
    """The `transition_each` update of one worker setting the columns of `shape` too, for executemany (built once per
    shape): each row of parameters names a worker (`w_id`) and its account, its expected status and version, its new
    status and the columns' values."""
    return (
        update(workers)
        .where(
            workers.c.id == bindparam("w_id"),
            workers.c.account_id == bindparam("w_account"),
            workers.c.status == bindparam("w_expected"),
            workers.c.version == bindparam("w_version"),
        )
        .values(
            status=bindparam("w_to"),
            version=workers.c.version + 1,
            modified_at=bindparam("w_now", type_=workers.c.modified_at.type),
            **{name: bindparam(f"w_{name}", type_=workers.c[name].type) for name in shape},
        )
    )
