"""ListDeploymentJobEvents, an action beyond CAS (docs/protocol.md#job-timeline): a job's timeline, oldest first.

`JobId` is required; `CurrentPage` from 1, `ShowSize` 1 to 100 (50 by default). A job that does not exist, or is
another account's, answers the `NotFound` every job action answers.
"""

from __future__ import annotations

from certdeploy.api.actions_common import ActionContext, millis, paging
from certdeploy.api.replies import Page
from certdeploy.api.replies.timeline import JobEventItem
from certdeploy.api.rpc import RpcParameters

DEFAULT_EVENT_PAGE = 50
MAX_EVENT_PAGE = 100


def list_deployment_job_events(ctx: ActionContext, params: RpcParameters) -> Page[JobEventItem]:
    job_id = params.integer("JobId")
    page, size = paging(params, DEFAULT_EVENT_PAGE, MAX_EVENT_PAGE)
    store = ctx.deps.store
    store.jobs.get(ctx.account_id, job_id)
    events = store.job_events.page(ctx.account_id, job_id, page=page, page_size=size)
    data = [
        JobEventItem(
            id=event.id,
            time=millis(event.time),
            type=str(event.type),
            worker_id=event.worker_id,
            cloud_product=None if event.product is None else str(event.product),
            resource_id=event.resource_id,
            detail=event.detail,
            error_code=event.error_code,
            error_message=event.error_message,
        )
        for event in events.items
    ]
    return Page[JobEventItem](total=events.total, current_page=page, show_size=size, data=data)
