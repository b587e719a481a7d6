"""The cloud backend's sources end to end: CAS certificates mirrored into the account, deployed by CAS id or (for a
PEM product) with content fetched once, and resources synced with their bindings mapped to our ids.

The real SDKs talk to wire test servers: CAS (`tests/servers/cas_cloud.py`), ALB and API Gateway; the container is
the production composition root with the servers' endpoints, local queues and a SQLite store.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from certdeploy.api.actions_certificates import get_user_certificate_detail
from certdeploy.api.actions_common import ActionContext
from certdeploy.api.rpc import RpcParameters
from certdeploy.app.accounts import create_account
from certdeploy.app.certificates import CertificateUpload, upload_certificate
from certdeploy.app.jobs import JobDraft, change_job_status, create_job
from certdeploy.app.rollback import request_rollback
from certdeploy.app.scheduler import tick
from certdeploy.bootstrap.container import CloudTargets, Container, build_container
from certdeploy.bootstrap.settings import CloudBackend, Settings, Site
from certdeploy.domain.models import Certificate, CertOrigin, Product, Resource
from certdeploy.domain.states import JobStatus, WorkerStatus
from tests.certgen import make_cert
from tests.fakes.queue_drain import drain
from tests.functional.conftest import ManualClock
from tests.servers.alb import AlbCloud, AlbListener
from tests.servers.apigateway import ApiGatewayCloud, GroupDomain
from tests.servers.cas_cloud import CasCloud
from tests.servers.waf import WafCloud, WafDomain

SITE = make_cert(["www.example.com", "api.example.com"], common_name="www.example.com")
OLD_CAS_ID, SITE_CAS_ID = 8700, 8801
DETAIL = "GetUserCertificateDetail"


def _listed(cas_cert_id: int, name: str, sans: str, **fields: Any) -> dict[str, Any]:
    return {
        "CertificateId": cas_cert_id,
        "Name": name,
        "CommonName": sans.split(",")[0],
        "Sans": sans,
        "Issuer": "Test CA",
        "StartDate": "2026-01-01",
        "EndDate": "2027-01-01",
        "Expired": False,
        "Upload": False,
        **fields,
    }


def _cloud_resource(product: str, domain: str, **fields: Any) -> dict[str, Any]:
    return {"CloudName": "aliyun", "CloudProduct": product, "RegionId": "cn-hangzhou", "Domain": domain, **fields}


@pytest.fixture
def cas(cloud_site: Site) -> Iterator[CasCloud]:
    cloud = CasCloud(cas_region=cloud_site.cas_region)
    cloud.certificates = [
        _listed(OLD_CAS_ID, "site-2025", "www.example.com"),
        _listed(SITE_CAS_ID, "site-2026", "www.example.com,api.example.com", SerialNo="0A1B"),
    ]
    cloud.details[SITE_CAS_ID] = {
        "Name": "site-2026",
        "Cert": SITE.chain_pem,
        "Key": SITE.key_pem,
    }
    cloud.resources = [
        _cloud_resource(
            "ALB",
            "www.example.com",
            InstanceId="alb-1",
            ListenerId="lsn-1@443",
            ListenerPort="443",
            EnableHttps=1,
            CertId=OLD_CAS_ID,
            CertName="site-2025",
        ),
        _cloud_resource("APIGateway", "api.example.com", InstanceId="group-1", EnableHttps=1),
        _cloud_resource("CDN", "static.example.com", EnableHttps=1, CertId=5555, CertName="someone-elses"),
    ]
    yield from cloud.serving()


@pytest.fixture
def cloud_site() -> Site:
    """The account's site (CERTDEPLOY_SITE): China unless a test says otherwise."""
    return Site.CHINA


@pytest.fixture
def alb(cloud_site: Site) -> Iterator[AlbCloud]:
    cloud = AlbCloud()
    cloud.cas_identifiers |= {f"{OLD_CAS_ID}-{cloud_site.cas_region}", f"{SITE_CAS_ID}-{cloud_site.cas_region}"}
    cloud.listeners["lsn-1"] = AlbListener("alb-1", 443, certificate_id=f"{OLD_CAS_ID}-{cloud_site.cas_region}")
    yield from cloud.serving()


@pytest.fixture
def gateway() -> Iterator[ApiGatewayCloud]:
    cloud = ApiGatewayCloud()
    cloud.domains[("group-1", "api.example.com")] = GroupDomain()
    yield from cloud.serving()


@pytest.fixture
def waf(cloud_site: Site) -> Iterator[WafCloud]:
    cloud = WafCloud(cas_region=cloud_site.cas_region)
    region = cloud_site.cas_region
    cloud.certs = {f"{OLD_CAS_ID}-{region}": "site-2025", f"{SITE_CAS_ID}-{region}": "site-2026"}
    listen = {"CertId": f"{OLD_CAS_ID}-{region}", "HttpsPorts": [443]}
    cloud.domains[("waf-intl", "www.example.com")] = WafDomain(listen=listen, redirect={"Backends": ["10.0.0.1"]})
    yield from cloud.serving()


@pytest.fixture
def build(
    tmp_path: Path,
    clock: ManualClock,
    cas: CasCloud,
    alb: AlbCloud,
    gateway: ApiGatewayCloud,
    waf: WafCloud,
    cloud_site: Site,
) -> Iterator[Any]:
    """Build containers of the cloud backend on one store, as each FC instance builds its own."""
    credentials = cas.api.credentials()
    # FC hands the function role's credentials to the handler in its context (python3.10).
    context = SimpleNamespace(
        credentials=SimpleNamespace(
            access_key_id=credentials.access_key_id,
            access_key_secret=credentials.access_key_secret.get_secret_value(),
            security_token=None,
        )
    )
    settings = Settings(data=tmp_path / "data", cloud=CloudBackend.ALIYUN, deploy_max_attempts=3, site=cloud_site)
    targets = CloudTargets(
        cas=cas.api.target(),
        products={
            Product.ALB: alb.api.target(),
            Product.APIGATEWAY: gateway.api.target(),
            Product.WAF: waf.api.target(),
        },
    )
    built: list[Container] = []

    def new_container() -> Container:
        container = build_container(settings, context=context, clock=clock, migrate=True, cloud_targets=targets)
        built.append(container)
        return container

    yield new_container
    for container in built:
        container.close()


@pytest.fixture
def container(build: Any) -> Container:
    return build()


@pytest.fixture
def account_id(container: Container) -> int:
    """The account that mirrors the function role's CAS: `default` unless CERTDEPLOY_CAS_ACCOUNT says otherwise."""
    return create_account(container.store, "default", quota=5).account.id


def _mirrored(container: Container, account_id: int, cas_cert_id: int) -> Certificate:
    [cert] = container.store.certificates.by_cas_ids(account_id, [cas_cert_id])
    return cert


def _resource(container: Container, account_id: int, product: Product) -> Resource:
    [resource] = container.store.resources.search(account_id, product=product, include_gone=True).items
    return resource


def _deploy(container: Container, account_id: int, cert_id: int, resource: Resource) -> int:
    """Create a job, submit it and run its messages, as the API and the execute function do."""
    job = create_job(
        container.deps, account_id, JobDraft(name="rollout", cert_ids=(cert_id,), resource_ids=(resource.id,))
    )
    change_job_status(container.deps, account_id, job.id, JobStatus.SCHEDULING)
    drain(container)
    return job.id


def test_cas_certificates_are_mirrored_with_their_names_and_cas_ids_without_content(
    container: Container, account_id: int, cas: CasCloud
) -> None:
    other = create_account(container.store, "other").account.id

    first = tick(container.deps)
    second = tick(container.deps)

    site = _mirrored(container, account_id, SITE_CAS_ID)
    assert (first.synced_certificates, second.synced_certificates) == (2, 0)
    assert (site.name, site.origin, site.cas_cert_id) == ("site-2026", CertOrigin.BUY, SITE_CAS_ID)
    assert site.names == ("www.example.com", "api.example.com")
    assert site.not_before == datetime(2025, 12, 31, 16, 0, tzinfo=timezone.utc)  # 2026-01-01 00:00 in CAS's +08:00
    assert site.has_pem is False and site.serial == "0a1b"
    assert sorted(c.name for c in container.store.certificates.search(account_id).items) == ["site-2025", "site-2026"]
    assert container.store.certificates.search(other).total == 0 and container.store.resources.search(other).total == 0
    assert cas.api.calls_of(DETAIL) == []


def test_a_cas_certificate_is_described_from_its_listing_until_its_content_is_needed(
    container: Container, account_id: int
) -> None:
    tick(container.deps)
    site = _mirrored(container, account_id, SITE_CAS_ID)
    context = ActionContext(container.api, account_id, "request-1")

    detail = get_user_certificate_detail(context, RpcParameters([("CertId", str(site.id))])).wire()

    assert (detail["Name"], detail["Sans"], detail["EndDate"]) == (
        "site-2026",
        "www.example.com,api.example.com",
        "2027-01-01",
    )
    assert not {"Cert", "Key", "SignCert", "SignPrivateKey"} & detail.keys()


def test_resources_are_synced_with_cas_bindings_mapped_to_our_certificates(
    container: Container, account_id: int
) -> None:
    tick(container.deps)

    listener = _resource(container, account_id, Product.ALB)
    cdn = _resource(container, account_id, Product.CDN)
    assert (listener.bound_cert_id, listener.bound_cert_name) == (
        _mirrored(container, account_id, OLD_CAS_ID).id,
        "site-2025",
    )
    assert (listener.listener_id, listener.port, listener.https_enabled) == ("lsn-1@443", 443, True)
    assert (cdn.bound_cert_id, cdn.bound_cert_name) == (None, "someone-elses")  # not a certificate we mirror


@pytest.mark.parametrize("cloud_site", [Site.CHINA, Site.INTERNATIONAL])
def test_a_cas_certificate_deploys_to_an_alb_listener_by_cas_id_without_fetching_its_content(
    container: Container, account_id: int, cas: CasCloud, alb: AlbCloud, cloud_site: Site
) -> None:
    tick(container.deps)
    site, old = _mirrored(container, account_id, SITE_CAS_ID), _mirrored(container, account_id, OLD_CAS_ID)
    listener = _resource(container, account_id, Product.ALB)

    job_id = _deploy(container, account_id, site.id, listener)

    [worker] = container.store.workers.of_job(account_id, job_id)
    assert container.store.jobs.get(account_id, job_id).status is JobStatus.SUCCESS
    assert worker.status is WorkerStatus.SUCCESS
    assert alb.listeners["lsn-1"].certificate_id == f"{SITE_CAS_ID}-{cloud_site.cas_region}"
    assert worker.resource_cert_id == old.id  # what a rollback binds again
    assert _resource(container, account_id, Product.ALB).bound_cert_id == site.id
    assert cas.api.calls_of(DETAIL) == []
    assert container.store.quota.balance(account_id).use_count == 0  # official certificates cost no quota


@pytest.mark.parametrize("cloud_site", [Site.CHINA, Site.INTERNATIONAL])
def test_rolling_back_puts_the_previous_cas_certificate_back_by_its_cas_id(
    container: Container, account_id: int, cas: CasCloud, alb: AlbCloud, cloud_site: Site
) -> None:
    tick(container.deps)
    site = _mirrored(container, account_id, SITE_CAS_ID)
    job_id = _deploy(container, account_id, site.id, _resource(container, account_id, Product.ALB))
    [worker] = container.store.workers.of_job(account_id, job_id)
    alb.listeners["lsn-1"].status = "Running"  # ALB has finished applying the deployment

    request_rollback(container.deps, account_id, job_id, worker.id)
    drain(container)

    assert container.store.workers.get(account_id, worker.id).status is WorkerStatus.ROLLBACK_SUCCESS
    assert alb.listeners["lsn-1"].certificate_id == f"{OLD_CAS_ID}-{cloud_site.cas_region}"
    assert cas.api.calls_of(DETAIL) == []


@pytest.mark.parametrize("cloud_site", [Site.CHINA, Site.INTERNATIONAL])
def test_a_waf_instance_outside_the_mainland_is_given_the_identifier_cas_gave_the_certificate(
    container: Container, account_id: int, cas: CasCloud, waf: WafCloud, cloud_site: Site
) -> None:
    cas.resources.append(
        _cloud_resource(
            "WAF", "www.example.com", RegionId="ap-southeast-1", InstanceId="waf-intl", EnableHttps=1, CertId=OLD_CAS_ID
        )
    )
    tick(container.deps)
    site = _mirrored(container, account_id, SITE_CAS_ID)

    job_id = _deploy(container, account_id, site.id, _resource(container, account_id, Product.WAF))

    assert container.store.jobs.get(account_id, job_id).status is JobStatus.SUCCESS
    assert waf.domains[("waf-intl", "www.example.com")].listen["CertId"] == f"{SITE_CAS_ID}-{cloud_site.cas_region}"
    assert cas.api.calls_of(DETAIL)  # the identifier came from CAS (GetUserCertificateDetail)


def test_a_pem_product_fetches_the_content_once_and_the_store_keeps_it(
    build: Any, container: Container, account_id: int, cas: CasCloud, gateway: ApiGatewayCloud
) -> None:
    tick(container.deps)
    site = _mirrored(container, account_id, SITE_CAS_ID)
    domain = _resource(container, account_id, Product.APIGATEWAY)

    first_job = _deploy(container, account_id, site.id, domain)
    served = gateway.domains[("group-1", "api.example.com")]
    served.certificate_body = served.certificate_id = None  # someone unbinds it, so the next job writes again
    another_instance = build()
    second_job = _deploy(another_instance, account_id, site.id, domain)

    for job_id in (first_job, second_job):
        assert container.store.jobs.get(account_id, job_id).status is JobStatus.SUCCESS
    assert gateway.domains[("group-1", "api.example.com")].certificate_body == SITE.chain_pem
    assert len(cas.api.calls_of(DETAIL)) == 1
    cached = container.store.certificates.get(account_id, site.id)
    assert cached.has_pem and cached.cert_pem == SITE.chain_pem
    assert cached.not_before == SITE.certificate.not_valid_before_utc  # the exact facts of the PEM
    assert container.store.certificates.private_key(account_id, site.id) == SITE.key_pem


def test_what_vanishes_from_cas_is_marked_gone_or_kept_never_deleted(
    container: Container, account_id: int, cas: CasCloud, clock: ManualClock
) -> None:
    tick(container.deps)
    cdn = _resource(container, account_id, Product.CDN)
    cas.resources = [row for row in cas.resources if row["CloudProduct"] != "CDN"]
    cas.certificates = [row for row in cas.certificates if row["CertificateId"] != OLD_CAS_ID]
    clock.advance(container.deps.resource_sync_seconds)  # the next resource sync is due

    report = tick(container.deps)

    assert report.synced_resources == 2
    assert _resource(container, account_id, Product.CDN) == cdn.model_copy(
        update={"gone": True, "modified_at": clock.now()}
    )
    listed = container.store.resources.search(account_id).items  # the gone one is no longer offered
    assert {(r.product, r.domain) for r in listed} == {
        (Product.ALB, "www.example.com"),
        (Product.APIGATEWAY, "api.example.com"),
    }
    assert _mirrored(container, account_id, OLD_CAS_ID).name == "site-2025"  # jobs may still refer to it


def test_a_cas_certificate_whose_name_is_taken_gets_its_cas_id_appended(container: Container, account_id: int) -> None:
    generated = make_cert(["www.example.com"], common_name="www.example.com")
    upload = CertificateUpload(name="site-2026", cert=generated.cert_pem, key=generated.key_pem)
    uploaded = upload_certificate(container.deps, account_id, upload)

    tick(container.deps)

    assert _mirrored(container, account_id, SITE_CAS_ID).name == f"site-2026-{SITE_CAS_ID}"
    assert container.store.certificates.get(account_id, uploaded.id).cas_cert_id is None


def test_the_scheduler_pages_cas_resources_once_per_sync_interval(
    container: Container, account_id: int, cas: CasCloud, clock: ManualClock
) -> None:
    first = tick(container.deps)
    clock.advance(container.deps.resource_sync_seconds - 1)
    second = tick(container.deps)
    assert (first.synced_resources, second.synced_resources) == (3, 0)
    assert len(cas.api.calls_of("ListCloudResources")) == 1

    clock.advance(1)
    assert tick(container.deps).synced_resources == 3
    assert len(cas.api.calls_of("ListCloudResources")) == 2
