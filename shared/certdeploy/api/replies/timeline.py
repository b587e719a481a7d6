"""ListDeploymentJobEvents, ours beyond CAS (docs/protocol.md#job-timeline): a page of a job's timeline."""

from __future__ import annotations

from certdeploy.api.replies import WireModel


class JobEventItem(WireModel):
    """One event; `Time` is Unix milliseconds (a number). Worker fields only on a worker's events, error fields only
    on a failure's."""

    id: int
    time: int
    type: str
    worker_id: int | None = None
    cloud_product: str | None = None
    resource_id: int | None = None
    detail: str
    error_code: str | None = None
    error_message: str | None = None
