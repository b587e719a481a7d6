"""A job's staged rollout: its options and where it stands (docs/decisions.md#staged-rollout)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class StagedJob:
    """`stages` and `max_failures` as the user gave them (checked); `stage_count` the stages the job's workers were
    put in when it was submitted (0 before), `stage` the one running or last run (0 before the first), `resumes` how
    many times it was resumed, `halt_reason` the cause while it stands halted."""

    job_id: int
    account_id: int
    stages: str
    max_failures: str
    stage_count: int = 0
    stage: int = 0
    resumes: int = 0
    halt_reason: str | None = None


class JobStages(Protocol):
    def save(self, staged: StagedJob) -> None:
        """Write the job's row, replacing the previous one."""
        ...

    def get(self, account_id: int, job_id: int) -> StagedJob | None:
        """The job's row; None for a job without stages."""
        ...
