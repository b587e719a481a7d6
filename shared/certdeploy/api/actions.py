"""The CAS 2020-04-07 actions this server answers, and ours beyond CAS (`actions_timeline`, `actions_windows`), by
name: one handler each, which reads typed parameters, calls one use case or store query and shapes the reply as
docs/protocol.md#actions describes it (without `RequestId`, which the service adds)."""

from __future__ import annotations

from collections.abc import Mapping

from certdeploy.api import (
    actions_certificates,
    actions_contacts,
    actions_jobs,
    actions_packages,
    actions_resources,
    actions_timeline,
    actions_windows,
    actions_workers,
)
from certdeploy.api.actions_common import Handler

ACTIONS: Mapping[str, Handler] = {
    **actions_certificates.HANDLERS,
    **actions_contacts.HANDLERS,
    **actions_jobs.HANDLERS,
    **actions_packages.HANDLERS,
    **actions_resources.HANDLERS,
    **actions_timeline.HANDLERS,
    **actions_windows.HANDLERS,
    **actions_workers.HANDLERS,
}
