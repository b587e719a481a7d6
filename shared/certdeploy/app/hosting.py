"""Hosted deployment (the `certificate_issued` function): when a certificate renews one already deployed, a
`trustee` job deploys it to the resources carrying the old one — for accounts with hosting turned on.

"Renews" means: another certificate of the account is bound to resources, and the new one covers all of its names
and lasts longer. Resources bound to certificates we do not know by id are left alone (their names are unknown).
"""

from __future__ import annotations

import json
import logging
from datetime import timezone

from certdeploy.app.deps import Deps
from certdeploy.app.jobs import JobDraft, change_job_status_in, create_job_in
from certdeploy.app.messages import CertificateIssued, QueueRole, parse_certificate_issued
from certdeploy.app.unit_of_work import Step, run_step
from certdeploy.domain.errors import NotFound
from certdeploy.domain.models import Certificate, Job, JobType
from certdeploy.domain.names import covers
from certdeploy.domain.quota import job_cost
from certdeploy.domain.states import JobStatus
from certdeploy.ports import OutboxMessage

log = logging.getLogger(__name__)


def certificate_issued_event(deps: Deps, cert: Certificate) -> OutboxMessage:
    """The CloudEvent EventBridge would deliver, sent through the certificate_issued queue after commit."""
    event = {
        "id": deps.new_id(),
        "source": deps.certificate_event.source,
        "specversion": "1.0",
        "type": deps.certificate_event.type,
        "subject": f"acs:cas:{cert.account_id}:certificate/{cert.id}",
        "time": deps.clock.now().astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "datacontenttype": "application/json;charset=utf-8",
        "data": {"accountId": cert.account_id, "certId": cert.id},
    }
    return OutboxMessage(queue=str(QueueRole.CERTIFICATE_ISSUED), body=json.dumps(event), key=f"cert:{cert.id}:issued")


def relevant_certificate_issued(deps: Deps, body: bytes | str) -> CertificateIssued | None:
    """The event, or None when it is of another source/type (the rule may route more than we handle)."""
    event = parse_certificate_issued(body)
    if (event.source, event.type) != (deps.certificate_event.source, deps.certificate_event.type):
        return None
    return event


def _renews(new: Certificate, old: Certificate) -> bool:
    if old.id == new.id or new.not_after <= old.not_after:
        return False
    return all(any(covers(name, old_name) for name in new.names) for old_name in old.names)


def deploy_renewal(deps: Deps, event: CertificateIssued) -> Job | None:
    """Create and submit the hosted job for a renewal; None when there is nothing to do. Runs once per event."""
    account_id, cert_id = event.data.account_id, event.data.cert_id

    def step(unit: Step) -> Job | None:
        ops = unit.ops
        try:
            account = ops.get_account(account_id)
            new = ops.get_certificate(account_id, cert_id)
        except NotFound:
            return None
        if not account.hosting or not ops.mark_processed(f"hosting:{event.source}:{event.id}"):
            return None
        candidates = ops.resources_for_names(account_id, new.names)
        bound_ids = {r.bound_cert_id for r in candidates if r.bound_cert_id is not None}
        renewed = {c.id for c in ops.get_certificates(account_id, bound_ids) if _renews(new, c)}
        resource_ids = tuple(sorted(r.id for r in candidates if r.bound_cert_id in renewed and r.https_enabled))
        if not resource_ids:
            return None
        draft = JobDraft(
            name=f"Hosted renewal: {new.name}"[:63],
            job_type=JobType.TRUSTEE,
            cert_ids=(new.id,),
            resource_ids=resource_ids,
        )
        job = create_job_in(unit, deps, account_id, draft)
        cost = job_cost(job.cert_origin, len(ops.job_workers(account_id, job.id)))
        if cost > ops.quota(account_id).available:
            # Left in `editing` where the user sees it: it runs once they add quota and submit it.
            log.warning("hosted job %s waits in editing: it needs %s quota units", job.id, cost)
            return job
        return change_job_status_in(unit, deps, account_id, job.id, JobStatus.SCHEDULING)

    return run_step(deps, step)
