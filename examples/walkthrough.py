"""The certdeploy walkthrough, with nothing but the official CAS SDK (`alibabacloud_cas20200407`) as client.

Against a running `make run` (or `certdeploy serve --inventory demo/inventory.yaml`) it uploads a certificate and a
contact, previews a job over every resource, runs it, shows each resource's outcome (and the cause of a failure),
the quota charged and given back, rolls one resource back to the certificate it had, runs a scheduled job, deletes
it, holds a job in a maintenance window, looks from another account (optional) and sends a request with a bad
signature.

    export CERTDEPLOY_ENDPOINT=http://127.0.0.1:8787
    export CERTDEPLOY_ACCESS_KEY_ID=LTAI...  CERTDEPLOY_ACCESS_KEY_SECRET=...
    .venv/bin/python examples/walkthrough.py --cert cert.pem --key key.pem --email ops@example.com

It stops with a non-zero status when the service does not answer as the walkthrough says.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from alibabacloud_cas20200407 import models as cas
from alibabacloud_cas20200407.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils_models import Config, OpenApiRequest, Params
from darabonba.runtime import RuntimeOptions

FINISHED = {"success", "error"}


def connect(endpoint: str, key_id: str, key_secret: str) -> Client:
    """`http://127.0.0.1:8787` → the SDK's host:port endpoint over plain HTTP (CAS itself is HTTPS only)."""
    parts = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
    return Client(
        Config(
            endpoint=parts.netloc,
            protocol=parts.scheme,
            access_key_id=key_id,
            access_key_secret=key_secret,
            read_timeout=30_000,
        )
    )


def call(client: Client, action: str, **query: Any) -> dict[str, Any]:
    """An action through the SDK's generic path, for the whole JSON body: the typed models drop fields they do
    not know, such as a worker's ErrorCode/ErrorMessage."""
    params = Params(
        action=action,
        version="2020-04-07",
        protocol="HTTP",
        pathname="/",
        method="POST",
        auth_type="AK",
        style="RPC",
        req_body_type="formData",
        body_type="json",
    )
    request = OpenApiRequest(query={name: str(value) for name, value in query.items()})
    return client.call_api(params, request, RuntimeOptions())["body"]


def step(title: str) -> None:
    print(f"\n== {title}")


def expect(condition: bool, message: str) -> None:
    if not condition:
        sys.exit(f"walkthrough: unexpected answer: {message}")


def all_resources(client: Client) -> list[cas.ListCloudResourcesResponseBodyData]:
    found: list[cas.ListCloudResourcesResponseBodyData] = []
    page = 1
    while True:
        body = client.list_cloud_resources(cas.ListCloudResourcesRequest(current_page=page, show_size=100)).body
        found += body.data or []
        if len(found) >= body.total or not body.data:
            return found
        page += 1


def contact_for(client: Client, name: str, email: str | None, webhook: str | None) -> int:
    """The contact with this email (emails are unique per account), created on the first run."""
    if email:
        listed = client.list_contact(cas.ListContactRequest(keyword=email, show_size=100)).body.contact_list or []
        for contact in listed:
            if contact.email == email:
                return contact.contact_id
    mobile = f"138{time.time_ns() // 1000 % 10**8:08d}"  # mobiles are unique per account too
    request = cas.CreateContactRequest(
        name=name, mobile=mobile, email=email, webhooks=json.dumps([webhook]) if webhook else None
    )
    return client.create_contact(request).body.contact_id


def checked_workers(client: Client, job_id: int, timeout: float) -> list[dict[str, Any]]:
    """The job's workers once each has had its first check of what its resource serves (a slow product stays
    `pending` after it, to be checked again later); at once when the service does not verify."""
    deadline = time.monotonic() + timeout
    while True:
        workers: list[dict[str, Any]] = call(client, "ListWorkerResource", JobId=job_id, ShowSize=100)["Data"]
        unchecked = [w for w in workers if w.get("VerifyStatus") == "pending" and not w.get("VerifyChecks")]
        if not unchecked:
            return workers
        expect(time.monotonic() < deadline, "a resource was never checked")
        time.sleep(0.5)


def wait_until_finished(client: Client, job_id: int, timeout: float) -> cas.DescribeDeploymentJobStatusResponseBody:
    """Poll as deployment tools do: finished when every worker succeeded or failed and the job says so."""
    deadline = time.monotonic() + timeout
    while True:
        status = client.describe_deployment_job_status(cas.DescribeDeploymentJobStatusRequest(job_id=job_id)).body
        job = client.describe_deployment_job(cas.DescribeDeploymentJobRequest(job_id=job_id)).body
        if job.status in FINISHED and status.success_count + status.failed_count == status.worker_count:
            return status
        if time.monotonic() > deadline:
            sys.exit(f"walkthrough: job {job_id} is still {job.status} after {timeout:.0f} s")
        time.sleep(0.5)


def quota(client: Client, job_id: int) -> tuple[int, int]:
    status = client.describe_deployment_job_status(cas.DescribeDeploymentJobStatusRequest(job_id=job_id)).body
    return status.buy_count, status.use_count


def submit(client: Client, job_id: int, status: str) -> None:
    client.update_deployment_job_status(cas.UpdateDeploymentJobStatusRequest(job_id=job_id, status=status))


def hold_in_a_window(client: Client, cert_id: int, resource_id: int, timeout: float) -> None:
    """A window that opens in 12 hours holds a job asked to run now; once the window is deleted, the job runs."""
    opening = datetime.now(timezone.utc).replace(second=0, microsecond=0) + timedelta(hours=12)
    window_id = call(
        client,
        "CreateMaintenanceWindow",
        Days=("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[opening.weekday()],
        StartTime=opening.strftime("%H:%M"),
        DurationMinutes=60,
        TimeZone="UTC",
    )["WindowId"]
    print(f"Window {window_id}: {call(client, 'ListMaintenanceWindows')['Data'][0]['Description']}")
    job_id = client.create_deployment_job(
        cas.CreateDeploymentJobRequest(
            name="walkthrough-window", job_type="user", cert_ids=str(cert_id), resource_ids=str(resource_id)
        )
    ).body.job_id
    planned = call(client, "DescribeDeploymentJobStatus", JobId=job_id)["PlannedStartTime"]
    submit(client, job_id, "scheduling")
    held = call(client, "DescribeDeploymentJob", JobId=job_id)
    events = call(client, "ListDeploymentJobEvents", JobId=job_id)["Data"]
    told = next(e["Detail"] for e in events if e["Type"] == "waiting_for_window")
    print(f"Job {job_id} (planned start {planned}) asked to run now is {held['Status']}: {told}")
    expect(
        held["Status"] == "pending" and held["WindowWaitUntil"] == planned == str(int(opening.timestamp() * 1000)),
        "the window did not hold the job",
    )
    call(client, "DeleteMaintenanceWindow", WindowId=window_id)
    submit(client, job_id, "scheduling")
    wait_until_finished(client, job_id, timeout)
    ran = client.describe_deployment_job(cas.DescribeDeploymentJobRequest(job_id=job_id)).body
    print(f"Window {window_id} deleted; job {job_id} asked again runs now: {ran.status}")
    expect(ran.status == "success", "the job did not run once its window was gone")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cert", required=True, help="PEM certificate (chain) to upload")
    parser.add_argument("--key", required=True, help="its PEM private key")
    parser.add_argument("--email", help="email address of the job's contact")
    parser.add_argument("--webhook", help="DingTalk/WeCom/Lark bot URL of the job's contact")
    parser.add_argument("--schedule-in", type=float, default=5.0, help="seconds until the scheduled job runs")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for a job")
    parser.add_argument("--other-key-id", help="AccessKey of another account, to show it sees nothing")
    parser.add_argument("--other-key-secret")
    args = parser.parse_args()
    endpoint = os.environ.get("CERTDEPLOY_ENDPOINT", "http://127.0.0.1:8787")
    key_id, key_secret = os.environ["CERTDEPLOY_ACCESS_KEY_ID"], os.environ["CERTDEPLOY_ACCESS_KEY_SECRET"]
    client = connect(endpoint, key_id, key_secret)

    step("Upload a certificate and a contact")
    with open(args.cert, encoding="utf-8") as cert_file, open(args.key, encoding="utf-8") as key_file:
        upload = cas.UploadUserCertificateRequest(
            name=f"walkthrough-{time.time_ns()}"[:63], cert=cert_file.read(), key=key_file.read()
        )
    cert_id = client.upload_user_certificate(upload).body.cert_id
    contact_id = contact_for(client, "walkthrough", args.email, args.webhook)
    print(f"CertId {cert_id}, ContactId {contact_id}")

    step("Preview: a job over every resource, still editing")
    resources = all_resources(client)
    bound_before = {r.id: (r.cert_id, r.cert_name) for r in resources}
    job_id = client.create_deployment_job(
        cas.CreateDeploymentJobRequest(
            name="walkthrough",
            job_type="user",
            cert_ids=str(cert_id),
            resource_ids=",".join(str(r.id) for r in resources),
            contact_ids=str(contact_id),
        )
    ).body.job_id
    preview = call(client, "DescribeDeploymentJobStatus", JobId=job_id)
    print(
        f"Job {job_id}: {preview['WorkerCount']} of {preview['ResourceCount']} resources match "
        f"{preview['CertCount']} certificate(s); it costs {preview['CostCount']} quota "
        f"(bought {preview['BuyCount']}, used {preview['UseCount']})"
    )
    for excluded in preview["ExcludedResources"]:
        print(f"  left out: {excluded['CloudProduct']} resource {excluded['ResourceId']}: {excluded['ReasonText']}")
    matched = client.list_cloud_resources(cas.ListCloudResourcesRequest(cert_ids=[cert_id], show_size=100)).body
    print("  matched: " + ", ".join(f"{r.cloud_product} {r.domain}" for r in matched.data))
    used_before = preview["UseCount"]

    step("Run it now: the quota is charged, each failure is given back")
    submit(client, job_id, "scheduling")
    done = wait_until_finished(client, job_id, args.timeout)
    job = client.describe_deployment_job(cas.DescribeDeploymentJobRequest(job_id=job_id)).body
    print(f"Job {job_id} {job.status}: {done.success_count} succeeded, {done.failed_count} failed")
    workers = call(client, "ListWorkerResource", JobId=job_id, ShowSize=100)["Data"]
    for worker in workers:
        cause = f"  <- {worker['ErrorCode']}: {worker['ErrorMessage']}" if worker["Status"] == "error" else ""
        print(f"  {worker['CloudProduct']:<10} {worker['ResourceDomain'] or '':<22} {worker['Status']}{cause}")
    used_after = quota(client, job_id)[1]
    print(
        f"Quota: UseCount {used_before} -> {used_after}: {preview['CostCount']} charged at submit, "
        f"{done.failed_count} given back for the failures"
    )
    expect(used_after == used_before + done.success_count, "the failed deployments were not given back")

    step("What each resource serves now: its certificate checked over TLS")
    workers = checked_workers(client, job_id, args.timeout)
    for worker in workers:
        unchecked = "deployment failed" if worker["Status"] == "error" else "the service does not verify"
        verdict = worker.get("VerifyStatus") or f"not checked: {unchecked}"
        detail = f": {worker['VerifyDetail']}" if worker.get("VerifyDetail") else ""
        print(f"  {worker['CloudProduct']:<10} {worker['ResourceDomain'] or '':<22} {verdict}{detail}")

    step("Roll one resource back to the certificate it had")
    had_one = [w for w in workers if w["Status"] == "success" and any(bound_before[w["ResourceId"]])]
    target = had_one[0] if had_one else next(w for w in workers if w["Status"] == "success")
    client.create_rollback_task(cas.CreateRollbackTaskRequest(job_id=job_id, worker_id=target["Id"]))
    deadline = time.monotonic() + args.timeout
    while True:
        rolled = {w["Id"]: w for w in call(client, "ListWorkerResource", JobId=job_id, ShowSize=100)["Data"]}
        if rolled[target["Id"]]["Status"] in {"rollback_success", "rollback_error"}:
            break
        expect(time.monotonic() < deadline, "the rollback did not finish")
        time.sleep(0.5)
    now_bound = {r.id: (r.cert_id, r.cert_name) for r in all_resources(client)}
    job = client.describe_deployment_job(cas.DescribeDeploymentJobRequest(job_id=job_id)).body
    print(
        f"{target['CloudProduct']} {target['ResourceDomain']}: {rolled[target['Id']]['Status']}; bound now "
        f"{now_bound[target['ResourceId']]}, before the job {bound_before[target['ResourceId']]}; job {job.status}"
    )
    expect(now_bound[target["ResourceId"]] == bound_before[target["ResourceId"]], "the old certificate is not back")

    step(f"A job scheduled {args.schedule_in:.0f} s ahead")
    at_ms = int((time.time() + args.schedule_in) * 1000)
    later_id = client.create_deployment_job(
        cas.CreateDeploymentJobRequest(
            name="walkthrough-scheduled",
            job_type="user",
            cert_ids=str(cert_id),
            resource_ids=str(target["ResourceId"]),
            contact_ids=str(contact_id),
            schedule_time=at_ms,
        )
    ).body.job_id
    submit(client, later_id, "pending")
    waiting = client.describe_deployment_job(cas.DescribeDeploymentJobRequest(job_id=later_id)).body
    print(
        f"Job {later_id} is {waiting.status} until {waiting.schedule_time}; charged at once: "
        f"UseCount {used_after} -> {quota(client, later_id)[1]}"
    )
    wait_until_finished(client, later_id, args.timeout + args.schedule_in)
    ran = client.describe_deployment_job(cas.DescribeDeploymentJobRequest(job_id=later_id)).body
    print(f"Job {later_id} {ran.status}, started at {ran.start_time} (scheduled for {at_ms})")
    expect(int(ran.start_time) >= at_ms, "the scheduled job started early")

    step("Delete it")
    client.delete_deployment_job(cas.DeleteDeploymentJobRequest(job_id=later_id))
    try:
        client.describe_deployment_job(cas.DescribeDeploymentJobRequest(job_id=later_id))
        expect(False, "a deleted job is still there")
    except ClientException as gone:
        print(f"Job {later_id}: {gone.code}")

    step("A staged job: its first stage fails, so it halts and the rest never runs")
    failed = next(w for w in workers if w["Status"] == "error")
    # Workers go to stages in resource id order: the failing resource first, those that deployed fine after it.
    after = [w["ResourceId"] for w in workers if w["Status"] == "success" and w["ResourceId"] > failed["ResourceId"]]
    expect(bool(after), "no resource that deploys comes after the failing one")
    staged_resources = [failed["ResourceId"], *after]
    before_staged = {r.id: (r.cert_id, r.cert_name) for r in all_resources(client)}
    staged_id = int(
        call(
            client,
            "CreateDeploymentJob",
            Name="walkthrough-staged",
            JobType="user",
            CertIds=cert_id,
            ResourceIds=",".join(map(str, staged_resources)),
            ContactIds=contact_id,
            Stages="1,100%",
        )["JobId"]
    )
    stages = call(client, "DescribeDeploymentJobStatus", JobId=staged_id)["StageWorkerCounts"]
    print(f"Job {staged_id} stages: " + ", ".join(f"stage {s['Stage']}: {s['WorkerCount']} worker(s)" for s in stages))
    used_staged = quota(client, staged_id)[1]
    submit(client, staged_id, "scheduling")
    deadline = time.monotonic() + args.timeout
    # A halted job has ended with workers never run: wait for its status, not for every worker.
    while (halted := call(client, "DescribeDeploymentJob", JobId=staged_id))["Status"] not in FINISHED:
        expect(time.monotonic() < deadline, "the staged job did not end")
        time.sleep(0.5)
    print(f"Job {staged_id} {halted['Status']}: {halted.get('HaltReason')}")
    untouched = {r.id: (r.cert_id, r.cert_name) for r in all_resources(client)}
    expect(all(untouched[r] == before_staged[r] for r in after), "a resource of a later stage was changed")
    expect(quota(client, staged_id)[1] == used_staged, "the halted job kept quota")
    print(f"Quota: UseCount {used_staged} -> {quota(client, staged_id)[1]}; the later stage's resources unchanged")

    step("A maintenance window holds a job until it opens")
    hold_in_a_window(client, cert_id, target["ResourceId"], args.timeout)

    if args.other_key_id and args.other_key_secret:
        step("Another account sees nothing of it")
        other = connect(endpoint, args.other_key_id, args.other_key_secret)
        listed = other.list_deployment_job(cas.ListDeploymentJobRequest()).body.total
        try:
            other.describe_deployment_job(cas.DescribeDeploymentJobRequest(job_id=job_id))
            expect(False, "another account sees the job")
        except ClientException as hidden:
            print(f"Other account: {listed} job(s); job {job_id}: {hidden.code}")

    step("A request with a bad signature")
    forged = connect(endpoint, key_id, key_secret + "x")
    try:
        forged.list_deployment_job(cas.ListDeploymentJobRequest())
        expect(False, "a bad signature was accepted")
    except ClientException as refused:
        print(f"Refused: {refused.code} (HTTP {refused.status_code})")


if __name__ == "__main__":
    main()
