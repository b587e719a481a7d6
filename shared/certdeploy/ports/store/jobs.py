"""Deployment jobs and their workers. Which status changes are allowed is the domain's (`JobMove`, `WorkerMove`);
the repositories apply them conditionally."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypedDict

from certdeploy.domain.models import CertOrigin, Job, JobSummary, JobType, Product, Worker
from certdeploy.domain.states import JobMove, JobStatus, WorkerMove, WorkerStatus
from certdeploy.ports.store.paging import Page


@dataclass(frozen=True)
class WorkerSpec:
    cert_id: int
    resource_id: int
    product: Product


@dataclass(frozen=True, slots=True)
class WorkerTarget:
    """A worker and the resource it deploys to, as the preview shows it: a few columns of each, no models (a job's
    preview reads one per worker)."""

    worker_id: int
    cert_id: int
    resource_id: int
    product: Product
    domain: str
    bound_cert_id: int | None
    bound_cert_name: str | None
    # The resource's tags, (key, value) sorted by key: they choose the maintenance windows that govern it.
    tags: tuple[tuple[str, str], ...]


class WorkerFields(TypedDict, total=False):
    """Columns a worker's move sets besides its status, each to the value given (None too)."""

    resource_cert_id: int | None
    resource_cert_name: str | None
    resource_domain: str | None
    resource_binding: str | None
    error_code: str | None
    error_message: str | None
    attempt: int


@dataclass(frozen=True)
class WorkerChange:
    """A move of `worker` as it was read: applied only if the worker is still in `move.expected` at that version."""

    worker: Worker
    move: WorkerMove
    fields: WorkerFields


@dataclass(frozen=True)
class JobState:
    """Where a job is, without its lists (which are as long as the job): what a finishing worker needs."""

    id: int
    account_id: int
    status: JobStatus
    version: int


@dataclass(frozen=True)
class DescribedJob:
    """A job with its resource list as the JSON array text the store keeps (compact: `[1,2,3]`), not decoded: a reply
    that shows the list whole (DescribeDeploymentJob's `Config`) copies text instead of decoding and encoding as many
    numbers as the job has resources."""

    job: JobSummary
    resource_ids_json: str

    @property
    def resource_count(self) -> int:
        """How many resources the list holds, counted in its text (ids hold no comma)."""
        return 0 if self.resource_ids_json == "[]" else self.resource_ids_json.count(",") + 1


class Jobs(Protocol):
    def create(
        self,
        account_id: int,
        *,
        name: str,
        cert_origin: CertOrigin,
        cert_ids: Sequence[int],
        resource_ids: Sequence[int] = (),
        contact_ids: Sequence[int] = (),
        job_type: JobType = JobType.USER,
        schedule_time: datetime | None = None,
    ) -> Job:
        """A new job in `editing`, version 0."""
        ...

    def get(self, account_id: int, job_id: int) -> Job: ...

    def describe(self, account_id: int, job_id: int) -> DescribedJob:
        """The job, its resource list as JSON text; NotFound if it is not the account's."""
        ...

    def search(
        self,
        account_id: int,
        *,
        status: JobStatus | None = None,
        job_type: JobType | None = None,
        page: int = 1,
        page_size: int = 50,
    ) -> Page[JobSummary]:
        """Newest first, without their resource lists."""
        ...

    def update(self, job: Job) -> Job:
        """Save the editable fields of `job` (name, type, origin, cert/resource/contact ids, schedule time) if it is
        still in `editing` at `job.version`; returns it at the next version. Raises `StaleState` otherwise."""
        ...

    def transition(
        self,
        account_id: int,
        job_id: int,
        move: JobMove,
        *,
        expected_version: int | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        rolled_back: bool | None = None,
    ) -> Job:
        """Apply `move` (the domain's `move_job` decided it is allowed) and set the fields not left None; a move to
        `scheduling` clears the end time (a halted job resumed runs again). Raises `StaleState` if the job is not in
        `move.expected` (or not at `expected_version`)."""
        ...

    def delete(self, account_id: int, job_id: int, *, expected_version: int | None = None) -> Job:
        """Delete the job, its workers, its stages and its timeline; returns what was deleted. Raises `StaleState` if
        it is not at `expected_version`. Whether it may be deleted is the domain's `check_job_deletable`; ledger
        entries stay (release them in the same transaction)."""
        ...

    def lock(self, account_id: int, job_id: int) -> Job:
        """Read the job and hold its row lock until the transaction ends (SELECT ... FOR UPDATE; SQLite's write
        transaction holds the whole database already): concurrent writers of one job queue behind it."""
        ...

    def lock_state(self, account_id: int, job_id: int) -> JobState:
        """`lock`, reading only the job's state: constant in the job's size."""
        ...

    def wait_for_window(self, account_id: int, job_id: int, until: datetime, *, expected_version: int) -> Job:
        """Record that the due job waits for a maintenance window until `until`: `due` skips it until then, and any
        status move clears it. Raises `StaleState` if the job is not at `expected_version`."""
        ...

    def end_window_waits(self, account_id: int) -> int:
        """Clear the maintenance window wait of the account's pending jobs (its windows changed), so `due` finds them
        again and their wait is judged afresh; the number of jobs."""
        ...

    def due(self, now: datetime, limit: int = 100) -> list[Job]:
        """Pending jobs of every account whose schedule time is unset or not after `now`, and that wait for no
        maintenance window past `now`, oldest schedule first."""
        ...


class Workers(Protocol):
    def create(self, account_id: int, job_id: int, specs: Sequence[WorkerSpec]) -> list[int]:
        """New workers in `editing`; returns their ids in input order. Raises `AlreadyExists` if a resource already
        has a worker in the job, `NotFound` if the job is not the account's."""
        ...

    def replace(self, account_id: int, job_id: int, specs: Sequence[WorkerSpec]) -> list[int]:
        """Drop the job's workers and create `specs` instead (re-matching an `editing` job, once the domain's
        `check_workers_replaceable` allowed it); returns the new ids in input order."""
        ...

    def get(self, account_id: int, worker_id: int) -> Worker: ...

    def get_many(self, account_id: int, worker_ids: Collection[int]) -> list[Worker]:
        """The account's workers among `worker_ids`, by id; unknown ids are absent."""
        ...

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
        """By id."""
        ...

    def of_job(self, account_id: int, job_id: int) -> list[Worker]:
        """All the job's workers, by id."""
        ...

    def targets(self, account_id: int, job_id: int) -> list[WorkerTarget]:
        """Each of the job's workers whose resource is the account's, with that resource's domain and binding, by
        worker id: one read for the whole job."""
        ...

    def counts(self, account_id: int, job_id: int) -> dict[tuple[Product, WorkerStatus], int]:
        """How many of the job's workers are in each (product, status); absent pairs have none. Counters kept with
        every worker write, read in constant time: what a finishing worker and a job listing need."""
        ...

    def cert_count(self, account_id: int, job_id: int) -> int:
        """How many distinct certificates the job's workers deploy (kept when its workers are written)."""
        ...

    def ids_after(self, account_id: int, job_id: int, status: WorkerStatus, after_id: int, limit: int) -> list[int]:
        """A page of the ids of the job's workers in `status` after `after_id`, ascending."""
        ...

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
        """As `Jobs.transition`, for one worker; a move that keeps the status updates fields (and modified_at) only.
        A field given as None is left as it is; `clear_error` empties `error_code` and `error_message` (a success
        has no error fields)."""
        ...

    def transition_each(self, account_id: int, changes: Sequence[WorkerChange]) -> list[Worker]:
        """Apply each change to its worker (the account's), all or none, in a statement per shape of change rather
        than per worker; returns the workers as written. Raise `StaleState` if any worker is no longer in its move's
        expected status at the version read, or is gone."""
        ...

    def transition_all(
        self,
        account_id: int,
        job_id: int,
        move: WorkerMove,
        *,
        cert_ids: Collection[int] | None = None,
        stage: int | None = None,
    ) -> int:
        """Apply `move` to every worker of the job in `move.expected` (deploying one of `cert_ids`, in `stage`, when
        given) in one statement; returns how many moved."""
        ...

    def assign_stages(self, account_id: int, job_id: int, bounds: Sequence[int]) -> None:
        """Put the job's workers in stages by id order: stage k (from 1) holds the workers at positions
        `bounds[k-2]` to `bounds[k-1]` (the domain's `stage_bounds`)."""
        ...

    def renew(self, account_id: int, job_id: int, statuses: Collection[WorkerStatus]) -> int:
        """Replace the job's workers in `statuses` with new ones in `pending` (new ids, same certificate, resource and
        stage, no error, attempt 0, no verification, and what the resource served before the job if the old worker
        recorded it, for a rollback): a resumed job runs them again, and a new id is charged afresh since the ledger
        debits a worker once. Returns how many were renewed."""
        ...

    def stuck(self, statuses: Collection[WorkerStatus], modified_before: datetime, limit: int = 100) -> list[Worker]:
        """Workers of every account left in one of `statuses` since before `modified_before`, oldest first."""
        ...
