"""WAF deployer over the wire: the real WAF OpenAPI SDK client against the WAF test server."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest

from certdeploy.adapters.cloud.waf import WafDeployer
from certdeploy.bootstrap.settings import Site
from certdeploy.domain.deployment import DeployableCertificate, PermanentDeployFailure, TransientDeployFailure
from certdeploy.domain.models import CertAlgorithm, Product, Resource
from tests.certgen import make_cert
from tests.contract.deployer_support import pem_certificate
from tests.servers.waf import WafCloud, WafDomain

INSTANCE = "waf_v3prepaid_public_cn-abc"
DOMAIN = "api.example.com"
SITE = make_cert([DOMAIN], common_name=DOMAIN)
LISTEN = {
    "CertId": "4001-cn-hangzhou",
    "HttpPorts": [80],
    "HttpsPorts": [443, 8443],
    "TLSVersion": "tlsv1.2",
    "EnableTLSv3": True,
    "CipherSuite": 2,
    "Http2Enabled": True,
    "FocusHttps": True,
    "XffHeaderMode": 2,
    "XffHeaders": ["X-Client-IP"],
}
REDIRECT = {
    "Backends": ["10.0.0.1", "10.0.0.2"],
    "BackupBackends": ["10.0.1.1"],
    "Loadbalance": "roundRobin",
    "ReadTimeout": 120,
    "Keepalive": True,
    "RequestHeaders": [{"Key": "X-From", "Value": "waf"}],
}


# Hybrid-cloud and disaster-recovery settings: DescribeDomainDetail does not return them.
UNREAD = {
    "CnameEnabled": True,
    "RoutingRules": '[{"rs":["10.0.9.1"],"location":"dr"}]',
    "AccessType": "hybrid_cloud_cname",
}


@pytest.fixture
def site() -> Site:
    """The account's site (CERTDEPLOY_SITE): China unless a test says otherwise."""
    return Site.CHINA


@pytest.fixture
def cloud(site: Site) -> Iterator[WafCloud]:
    cloud = WafCloud(cas_region=site.cas_region)
    cloud.certs = {
        "4001-cn-hangzhou": "old-cert",
        "4002-cn-hangzhou": "new-cert",
        "4002-ap-southeast-1": "new-cert-international",
    }
    cloud.domains[(INSTANCE, DOMAIN)] = WafDomain(
        listen=copy.deepcopy(LISTEN), redirect=copy.deepcopy(REDIRECT), unread=dict(UNREAD)
    )
    yield from cloud.serving()


@pytest.fixture
def deployer(cloud: WafCloud, site: Site) -> WafDeployer:
    return WafDeployer(cloud.api.credentials(), cloud.api.target(cas_region=site.cas_region))


def _resource(domain: str = DOMAIN, *, region: str = "cn-hangzhou") -> Resource:
    return Resource(
        id=5, account_id=1, product=Product.WAF, region=region, instance_id=INSTANCE, domain=domain, port=443
    )


def _certificate(*, cas_cert_id: int | None = None, cas_region: str = "cn-hangzhou") -> DeployableCertificate:
    """The certificate, with the `CertIdentifier` CAS gives it when it is in CAS."""
    certificate = pem_certificate(
        SITE, cert_id=21, name="api-2025", algorithm=CertAlgorithm.ECC, cas_cert_id=cas_cert_id
    )
    if cas_cert_id is None:
        return certificate
    return certificate.model_copy(update={"cas_identifier": f"{cas_cert_id}-{cas_region}"})


def test_binds_by_cas_id_keeping_every_other_setting_and_restores_the_previous_one(
    cloud: WafCloud, deployer: WafDeployer
) -> None:
    before = deployer.current_binding(_resource())

    deployer.bind(_resource(), _certificate(cas_cert_id=4002))
    after = deployer.current_binding(_resource())
    deployer.restore(_resource(), before)

    assert (before.cas_cert_id, before.cert_name) == (4001, "old-cert")
    assert (after.cas_cert_id, after.cert_name) == (4002, "new-cert")
    first = cloud.api.calls_of("ModifyDomainCert")[0].parameters
    assert first["CertId"] == "4002-cn-hangzhou"
    assert (first["TLSVersion"], first["EnableTLSv3"].lower(), first["CipherSuite"]) == ("tlsv1.2", "true", "2")
    domain = cloud.domains[(INSTANCE, DOMAIN)]
    assert (domain.listen, domain.redirect) == (LISTEN, REDIRECT)


def test_a_bind_keeps_the_hybrid_cloud_and_disaster_recovery_settings_waf_does_not_read_back(
    cloud: WafCloud, deployer: WafDeployer
) -> None:
    deployer.bind(_resource(), _certificate(cas_cert_id=4002))

    assert cloud.domains[(INSTANCE, DOMAIN)].unread == UNREAD
    assert cloud.domains[(INSTANCE, DOMAIN)].listen["CertId"] == "4002-cn-hangzhou"
    assert cloud.api.actions() == ["DescribeDomainDetail", "ModifyDomainCert"]


def test_a_waf_instance_outside_the_mainland_binds_the_identifier_cas_gave(
    cloud: WafCloud, deployer: WafDeployer
) -> None:
    cloud.domains[(INSTANCE, DOMAIN)] = WafDomain(listen=copy.deepcopy(LISTEN), redirect=copy.deepcopy(REDIRECT))
    resource = _resource(region="ap-southeast-1")

    deployer.bind(resource, _certificate(cas_cert_id=4002))

    assert cloud.domains[(INSTANCE, DOMAIN)].listen["CertId"] == "4002-cn-hangzhou"
    assert deployer.current_binding(resource).cas_cert_id == 4002


@pytest.mark.parametrize("site", [Site.CHINA, Site.INTERNATIONAL])
def test_the_identifier_cas_gave_is_bound_on_either_site(cloud: WafCloud, deployer: WafDeployer, site: Site) -> None:
    deployer.bind(_resource(), _certificate(cas_cert_id=4002, cas_region=site.cas_region))

    assert cloud.domains[(INSTANCE, DOMAIN)].listen["CertId"] == f"4002-{site.cas_region}"
    assert deployer.current_binding(_resource()).cas_cert_id == 4002


@pytest.mark.parametrize("site", [Site.CHINA, Site.INTERNATIONAL])
def test_without_the_identifier_from_cas_a_cas_certificate_is_named_with_the_sites_cas_region(
    cloud: WafCloud, deployer: WafDeployer, site: Site
) -> None:
    certificate = _certificate(cas_cert_id=4002).model_copy(update={"cas_identifier": None})

    deployer.bind(_resource(), certificate)

    [modify] = cloud.api.calls_of("ModifyDomainCert")
    assert modify.parameters["CertId"] == f"4002-{site.cas_region}"
    assert cloud.domains[(INSTANCE, DOMAIN)].listen["CertId"] == f"4002-{site.cas_region}"


@pytest.mark.parametrize("site", [Site.CHINA, Site.INTERNATIONAL])
def test_a_certificate_outside_cas_is_added_then_bound_and_a_second_bind_writes_nothing(
    cloud: WafCloud, deployer: WafDeployer, site: Site
) -> None:
    deployer.bind(_resource(), _certificate())
    deployer.bind(_resource(), _certificate())

    [create] = cloud.api.calls_of("CreateCerts")
    assert (create.parameters["CertName"], create.parameters["CertKey"]) == ("api-2025", SITE.key_pem)
    assert len(cloud.api.calls_of("ModifyDomainCert")) == 1
    bound = cloud.domains[(INSTANCE, DOMAIN)].listen["CertId"]
    assert (cloud.certs[bound], bound.endswith(f"-{site.cas_region}")) == ("api-2025", True)


def test_binding_the_certificate_already_served_makes_no_write_call(cloud: WafCloud, deployer: WafDeployer) -> None:
    deployer.bind(_resource(), _certificate(cas_cert_id=4001))

    assert cloud.api.actions() == ["DescribeDomainDetail"]


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("Throttling.Api", 429),
        # Retried by terraform-provider-alicloud alicloud/resource_alicloud_wafv3_domain.go (the domain is changing).
        ("Waf.Pullin.ResourceProcessing", 400),
    ],
)
def test_throttling_and_a_domain_being_changed_are_transient(
    cloud: WafCloud, deployer: WafDeployer, code: str, status: int
) -> None:
    cloud.api.fail_next("ModifyDomainCert", code=code, message="Try again later.", status=status)

    with pytest.raises(TransientDeployFailure) as failure:
        deployer.bind(_resource(), _certificate(cas_cert_id=4002))

    assert failure.value.code == code
    assert cloud.domains[(INSTANCE, DOMAIN)].listen["CertId"] == "4001-cn-hangzhou"


def test_an_unknown_domain_is_permanent_with_the_products_cause(cloud: WafCloud, deployer: WafDeployer) -> None:
    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource("old.example.com"), _certificate(cas_cert_id=4002))

    assert failure.value.code == "Domain.NotExist"
    assert failure.value.message.startswith(f"The domain old.example.com is not added to instance {INSTANCE}.")


def test_a_certificate_unknown_to_waf_is_permanent(cloud: WafCloud, deployer: WafDeployer) -> None:
    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource(), _certificate(cas_cert_id=4999))

    assert failure.value.code == "Cert.NotExist"


def test_a_domain_without_https_port_takes_no_certificate(cloud: WafCloud, deployer: WafDeployer) -> None:
    cloud.domains[(INSTANCE, DOMAIN)].listen = {"HttpPorts": [80], "HttpsPorts": []}

    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource(), _certificate(cas_cert_id=4002))

    assert failure.value.code == "HttpsDisabled"
    assert cloud.api.calls_of("ModifyDomainCert") == []
