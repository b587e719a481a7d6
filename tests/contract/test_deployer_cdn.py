"""CDN and DCDN deployers over the wire: the real SDK clients against the CDN/DCDN test servers.

Both products share the deployer logic (`DomainCertificateDeployer`), so every test runs against each of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from certdeploy.adapters.cloud.cdn import CdnDeployer, DomainCertificateDeployer
from certdeploy.adapters.cloud.dcdn import DcdnDeployer
from certdeploy.domain.deployment import (
    Binding,
    DeployableCertificate,
    PermanentDeployFailure,
    TransientDeployFailure,
)
from certdeploy.domain.models import CertAlgorithm, Product, Resource
from tests.certgen import make_cert
from tests.contract.deployer_support import pem_certificate
from tests.servers.cdn import CDN, DCDN, AcceleratedDomain, DomainCertificateCloud

SM2_FIXTURES = Path(__file__).parent.parent / "fixtures" / "sm2"
DOMAIN = "www.example.com"
OLD_CAS_ID = 1001
NEW_CAS_ID = 1002
SITE = make_cert([DOMAIN], common_name=DOMAIN)


@pytest.fixture(params=[Product.CDN, Product.DCDN], ids=["cdn", "dcdn"])
def cloud(request: pytest.FixtureRequest) -> Iterator[DomainCertificateCloud]:
    cloud = DomainCertificateCloud(CDN if request.param is Product.CDN else DCDN)
    cloud.add_cas_certificate(OLD_CAS_ID, "old-cert", make_cert([DOMAIN]).cert_pem)
    cloud.add_cas_certificate(NEW_CAS_ID, "new-cert", SITE.cert_pem)
    cloud.domains[DOMAIN] = AcceleratedDomain(
        https=True, cert_id=OLD_CAS_ID, cert_name="old-cert", cert_type="cas", cert_region="cn-hangzhou"
    )
    yield from cloud.serving()


@pytest.fixture
def deployer(cloud: DomainCertificateCloud) -> DomainCertificateDeployer:
    factory = CdnDeployer if cloud.flavour is CDN else DcdnDeployer
    return factory(cloud.api.credentials(), cloud.api.target())


def _resource(cloud: DomainCertificateCloud, domain: str = DOMAIN) -> Resource:
    product = Product.CDN if cloud.flavour is CDN else Product.DCDN
    return Resource(id=1, account_id=1, product=product, region="cn-hangzhou", instance_id=domain, domain=domain)


def _certificate(*, cas_cert_id: int | None = None) -> DeployableCertificate:
    return pem_certificate(SITE, cert_id=7, name="site-2025", algorithm=CertAlgorithm.ECC, cas_cert_id=cas_cert_id)


def _sm_certificate(*, cas_cert_id: int | None) -> DeployableCertificate:
    return DeployableCertificate(
        cert_id=8,
        name="sm-site",
        algorithm=CertAlgorithm.SM2,
        cert_pem=(SM2_FIXTURES / "sm2.pem").read_text(),
        key_pem=(SM2_FIXTURES / "sm2.key").read_text(),
        cas_cert_id=cas_cert_id,
    )


def _writes(cloud: DomainCertificateCloud) -> list[str]:
    return [action for action in cloud.api.actions() if action in cloud.write_actions]


def test_binds_a_cas_certificate_by_id_reads_it_back_and_restores_the_previous_one(
    cloud: DomainCertificateCloud, deployer: DomainCertificateDeployer
) -> None:
    resource = _resource(cloud)
    before = deployer.current_binding(resource)

    deployer.bind(resource, _certificate(cas_cert_id=NEW_CAS_ID))
    after = deployer.current_binding(resource)
    deployer.restore(resource, before)

    assert (before.cas_cert_id, before.cert_name) == (OLD_CAS_ID, "old-cert")
    assert (after.cas_cert_id, after.cert_name) == (NEW_CAS_ID, "new-cert")
    [set_call] = cloud.api.calls_of(cloud.flavour.set_ssl)[:1]
    assert set_call.parameters["CertType"] == "cas"
    assert set_call.parameters["CertRegion"] == "cn-hangzhou"
    assert "SSLPri" not in set_call.parameters
    assert cloud.domains[DOMAIN].cert_id == OLD_CAS_ID
    assert deployer.current_binding(resource) == before


def test_binds_pem_when_the_certificate_is_not_in_cas_and_a_second_bind_writes_nothing(
    cloud: DomainCertificateCloud, deployer: DomainCertificateDeployer
) -> None:
    resource = _resource(cloud)

    deployer.bind(resource, _certificate())
    deployer.bind(resource, _certificate())

    [upload] = cloud.api.calls_of(cloud.flavour.set_ssl)
    assert upload.parameters["CertType"] == "upload"
    assert upload.parameters["SSLPri"] == SITE.key_pem
    assert upload.parameters["SSLProtocol"] == "on"
    served = cloud.domains[DOMAIN]
    assert (served.https, served.cert_name, served.cert_pem) == (True, "site-2025", SITE.chain_pem)


def test_binding_the_cas_certificate_already_served_makes_no_write_call(
    cloud: DomainCertificateCloud, deployer: DomainCertificateDeployer
) -> None:
    deployer.bind(_resource(cloud), _certificate(cas_cert_id=OLD_CAS_ID))

    assert _writes(cloud) == []


def test_throttling_is_transient_and_leaves_the_domain_unchanged(
    cloud: DomainCertificateCloud, deployer: DomainCertificateDeployer
) -> None:
    cloud.api.fail_next(cloud.flavour.set_ssl, code="Throttling.User", message="Request was denied.")

    with pytest.raises(TransientDeployFailure) as failure:
        deployer.bind(_resource(cloud), _certificate(cas_cert_id=NEW_CAS_ID))

    assert failure.value.code == "Throttling.User"
    assert cloud.domains[DOMAIN].cert_id == OLD_CAS_ID
    deployer.bind(_resource(cloud), _certificate(cas_cert_id=NEW_CAS_ID))
    assert cloud.domains[DOMAIN].cert_id == NEW_CAS_ID


def test_a_5xx_while_reading_is_transient(cloud: DomainCertificateCloud, deployer: DomainCertificateDeployer) -> None:
    cloud.api.fail_next(cloud.flavour.describe, code="ServiceUnavailable", message="Try later.", status=503)

    with pytest.raises(TransientDeployFailure) as failure:
        deployer.current_binding(_resource(cloud))

    assert failure.value.code == "ServiceUnavailable"


def test_unknown_domain_is_a_permanent_failure_with_the_products_code_and_message(
    cloud: DomainCertificateCloud, deployer: DomainCertificateDeployer
) -> None:
    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource(cloud, "gone.example.com"), _certificate())

    assert failure.value.code == "InvalidDomain.NotFound"
    assert failure.value.message.startswith("The domain gone.example.com does not exist.")
    assert _writes(cloud) == []


def test_a_refused_pem_upload_names_the_cause_and_never_the_key(
    cloud: DomainCertificateCloud, deployer: DomainCertificateDeployer
) -> None:
    cloud.api.fail_next(cloud.flavour.set_ssl, code="InvalidSSLPri.Mismatch", message="The key does not match.")

    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource(cloud), _certificate())

    assert (failure.value.code, failure.value.message.split(" (RequestId")[0]) == (
        "InvalidSSLPri.Mismatch",
        "The key does not match.",
    )
    assert "PRIVATE KEY" not in str(failure.value)


def test_sm_certificate_is_bound_by_its_cas_identifier_and_restore_turns_it_off(
    cloud: DomainCertificateCloud, deployer: DomainCertificateDeployer
) -> None:
    cloud.add_cas_certificate(3003, "sm-site", (SM2_FIXTURES / "sm2.pem").read_text())
    resource = _resource(cloud)
    before = deployer.current_binding(resource)

    deployer.bind(resource, _sm_certificate(cas_cert_id=3003))
    deployer.bind(resource, _sm_certificate(cas_cert_id=3003))
    during = deployer.current_binding(resource)
    deployer.restore(resource, before)

    assert during.detail("sm") == "3003-cn-hangzhou"
    assert [call.parameters["SSLProtocol"] for call in cloud.api.calls_of(cloud.flavour.set_sm)] == ["on", "off"]
    assert cloud.domains[DOMAIN].sm_identifiers == set()
    assert cloud.domains[DOMAIN].cert_id == OLD_CAS_ID
    assert cloud.api.calls_of(cloud.flavour.set_ssl) == []


def test_sm_certificate_outside_cas_is_refused_without_a_write(
    cloud: DomainCertificateCloud, deployer: DomainCertificateDeployer
) -> None:
    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource(cloud), _sm_certificate(cas_cert_id=None))

    assert failure.value.code == "SMCertificateNotInCas"
    assert _writes(cloud) == []


def test_restoring_a_domain_that_had_https_off_turns_it_off_again(
    cloud: DomainCertificateCloud, deployer: DomainCertificateDeployer
) -> None:
    cloud.domains["plain.example.com"] = AcceleratedDomain()
    resource = _resource(cloud, "plain.example.com")
    before = deployer.current_binding(resource)

    deployer.bind(resource, _certificate(cas_cert_id=NEW_CAS_ID))
    deployer.restore(resource, before)

    assert before.is_empty
    assert cloud.domains["plain.example.com"].https is False


def test_a_previous_certificate_without_cas_id_cannot_be_restored(
    cloud: DomainCertificateCloud, deployer: DomainCertificateDeployer
) -> None:
    cloud.domains[DOMAIN] = AcceleratedDomain(https=True, cert_name="free-cert", cert_type="free")
    resource = _resource(cloud)
    before = deployer.current_binding(resource)
    deployer.bind(resource, _certificate(cas_cert_id=NEW_CAS_ID))

    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.restore(resource, before)

    assert failure.value.code == "PreviousCertificateNotRestorable"
    assert "free-cert" in failure.value.message
    assert cloud.domains[DOMAIN].cert_id == NEW_CAS_ID


def test_restore_of_what_is_served_already_makes_no_write_call(
    cloud: DomainCertificateCloud, deployer: DomainCertificateDeployer
) -> None:
    resource = _resource(cloud)

    deployer.restore(resource, deployer.current_binding(resource))
    deployer.restore(resource, Binding(cas_cert_id=OLD_CAS_ID, cert_name="old-cert", domain=DOMAIN))

    assert _writes(cloud) == []


@pytest.mark.parametrize("flavour", [CDN, DCDN], ids=["cdn", "dcdn"])
def test_an_international_site_account_binds_cas_certificates_in_ap_southeast_1(flavour: Any) -> None:
    cloud = DomainCertificateCloud(flavour, cas_region="ap-southeast-1")
    cloud.add_cas_certificate(NEW_CAS_ID, "new-cert", SITE.cert_pem)
    cloud.add_cas_certificate(3003, "sm-site", (SM2_FIXTURES / "sm2.pem").read_text())
    cloud.domains[DOMAIN] = AcceleratedDomain(https=True)
    with cloud.api:
        target = cloud.api.target().model_copy(update={"cas_region": "ap-southeast-1"})
        deployer = (CdnDeployer if flavour is CDN else DcdnDeployer)(cloud.api.credentials(), target)
        resource = _resource(cloud)

        deployer.bind(resource, _certificate(cas_cert_id=NEW_CAS_ID))
        deployer.bind(resource, _sm_certificate(cas_cert_id=3003))

    [set_call] = cloud.api.calls_of(flavour.set_ssl)
    assert set_call.parameters["CertRegion"] == "ap-southeast-1"
    assert cloud.domains[DOMAIN].cert_id == NEW_CAS_ID
    assert cloud.domains[DOMAIN].sm_identifiers == {"3003-ap-southeast-1"}
