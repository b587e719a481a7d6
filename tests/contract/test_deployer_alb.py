"""ALB deployer over the wire: the real `alibabacloud-alb20200616` client against the ALB test server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from certdeploy.adapters.cloud.alb import AlbDeployer
from certdeploy.domain.deployment import Binding, DeployableCertificate, PermanentDeployFailure, TransientDeployFailure
from certdeploy.domain.models import CertAlgorithm, Product, Resource
from tests.contract.deployer_support import cas_certificate, resource
from tests.servers.alb import GET_LISTENER, LIST_LISTENERS, UPDATE_LISTENER, AlbCloud, AlbListener

LOAD_BALANCER = "alb-bp1example"
LISTENER = "lsn-bp1listener"
OLD = "1001-cn-hangzhou"
NEW_CAS_ID = 1002
NEW = f"{NEW_CAS_ID}-cn-hangzhou"


@pytest.fixture
def alb() -> Iterator[AlbCloud]:
    cloud = AlbCloud(security_token="sts-token-of-the-function-role")
    cloud.cas_identifiers |= {OLD, NEW}
    cloud.listeners[LISTENER] = AlbListener(LOAD_BALANCER, 443, certificate_id=OLD)
    cloud.listeners["lsn-bp1plain"] = AlbListener(LOAD_BALANCER, 80, protocol="HTTP")
    yield from cloud.serving()


@pytest.fixture
def deployer(alb: AlbCloud) -> AlbDeployer:
    return AlbDeployer(alb.api.credentials(), alb.api.target())


def _resource(listener_id: str | None = f"{LISTENER}@443", port: int = 443) -> Resource:
    return resource(Product.ALB, LOAD_BALANCER, "www.example.com", port=port, listener_id=listener_id)


def _certificate(cas_cert_id: int | None = NEW_CAS_ID) -> DeployableCertificate:
    return cas_certificate(cas_cert_id, name="site-2026", algorithm=CertAlgorithm.RSA)


def test_reads_the_default_certificate_of_a_listener(deployer: AlbDeployer) -> None:
    binding = deployer.current_binding(_resource())

    assert binding.cas_cert_id == 1001
    assert binding.cert_name == OLD
    assert binding.detail("certificate_identifier") == OLD


def test_binds_a_cas_certificate_and_restores_the_previous_one(alb: AlbCloud, deployer: AlbDeployer) -> None:
    resource = _resource()
    previous = deployer.current_binding(resource)

    deployer.bind(resource, _certificate())
    # GIVEN the asynchronous update finished (the listener is Running again after one read)
    assert deployer.current_binding(resource).cas_cert_id == NEW_CAS_ID
    deployer.restore(resource, previous)

    listener = alb.listeners[LISTENER]
    assert listener.certificate_id == OLD
    updates = alb.api.calls_of(UPDATE_LISTENER)
    assert [call.parameters.get("Certificates.1.CertificateId") for call in updates] == [NEW, OLD]
    # Only the certificate is sent, so every other listener setting stays as it was.
    assert {name for call in updates for name in call.parameters} == {"ListenerId", "Certificates.1.CertificateId"}
    assert (listener.description, listener.idle_timeout, listener.http2_enabled) == ("web", 15, True)
    assert all(call.security_token == "sts-token-of-the-function-role" for call in alb.api.calls)


def test_binding_what_is_already_bound_makes_no_write(alb: AlbCloud, deployer: AlbDeployer) -> None:
    deployer.bind(_resource(), _certificate())
    alb.listeners[LISTENER].status = "Running"
    alb.api.clear_calls()

    deployer.bind(_resource(), _certificate())

    assert alb.api.actions() == [GET_LISTENER]


def test_finds_the_listener_by_port_when_cas_gave_no_listener_id(alb: AlbCloud, deployer: AlbDeployer) -> None:
    alb.listeners.update({f"lsn-{index:03}": AlbListener("alb-other", 443 + index) for index in range(120)})

    deployer.bind(_resource(listener_id=None), _certificate())

    assert alb.listeners[LISTENER].certificate_id == NEW
    assert len(alb.api.calls_of(LIST_LISTENERS)) == 1


def test_pages_through_the_load_balancers_listeners_until_it_finds_the_port(
    alb: AlbCloud, deployer: AlbDeployer
) -> None:
    alb.listeners.update({f"lsn-{index:03}": AlbListener(LOAD_BALANCER, 10_000 + index) for index in range(120)})

    deployer.bind(_resource(listener_id=None), _certificate())

    assert alb.listeners[LISTENER].certificate_id == NEW
    assert len(alb.api.calls_of(LIST_LISTENERS)) == 2


def test_a_listener_being_configured_is_a_transient_failure_without_a_write(
    alb: AlbCloud, deployer: AlbDeployer
) -> None:
    alb.listeners[LISTENER].status = "Configuring"

    with pytest.raises(TransientDeployFailure) as failure:
        deployer.bind(_resource(), _certificate())

    assert failure.value.code == "IncorrectStatus.Listener"
    assert alb.api.calls_of(UPDATE_LISTENER) == []


def test_a_stopped_listener_takes_the_certificate_and_stays_stopped(alb: AlbCloud, deployer: AlbDeployer) -> None:
    alb.listeners[LISTENER].status = "Stopped"

    deployer.bind(_resource(), _certificate())

    assert alb.listeners[LISTENER].certificate_id == NEW
    assert deployer.current_binding(_resource()).cas_cert_id == NEW_CAS_ID
    assert alb.listeners[LISTENER].status == "Stopped"


def test_a_load_balancer_being_changed_is_transient(alb: AlbCloud, deployer: AlbDeployer) -> None:
    alb.busy_load_balancers.add(alb.listeners[LISTENER].load_balancer_id)

    with pytest.raises(TransientDeployFailure) as failure:
        deployer.bind(_resource(), _certificate())

    assert failure.value.code == "IncorrectBusinessStatus.LoadBalancer"


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("Throttling.User", 400),
        ("Conflict.Lock", 409),
        # Retried on UpdateListenerAttribute by terraform-provider-alicloud alicloud/resource_alicloud_alb_listener.go.
        ("IdempotenceProcessing", 400),
        ("VipStatusNotSupport", 400),
        ("-22001", 400),
        ("SystemBusy", 400),
    ],
)
def test_throttling_and_albs_busy_codes_are_transient(
    alb: AlbCloud, deployer: AlbDeployer, code: str, status: int
) -> None:
    alb.api.fail_next(UPDATE_LISTENER, code=code, message="Try again later.", status=status)

    with pytest.raises(TransientDeployFailure) as failure:
        deployer.bind(_resource(), _certificate())

    assert failure.value.code == code
    assert alb.listeners[LISTENER].certificate_id == OLD


def test_an_unknown_certificate_is_permanent_with_albs_cause(alb: AlbCloud, deployer: AlbDeployer) -> None:
    alb.cas_identifiers.discard(NEW)

    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource(), _certificate())

    assert failure.value.code == "ResourceNotFound.Certificate"
    assert NEW in failure.value.message


def test_a_gone_listener_is_permanent(deployer: AlbDeployer) -> None:
    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.current_binding(_resource(listener_id="lsn-gone@443"))

    assert failure.value.code == "ResourceNotFound.Listener"


def test_a_certificate_outside_cas_cannot_be_bound(alb: AlbCloud, deployer: AlbDeployer) -> None:
    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource(), _certificate(cas_cert_id=None))

    assert failure.value.code == "CertificateNotInCas"
    assert alb.api.calls == []


def test_an_http_listener_serves_no_certificate(deployer: AlbDeployer) -> None:
    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource(listener_id="lsn-bp1plain@80", port=80), _certificate())

    assert failure.value.code == "HttpsDisabled"


def test_restoring_no_certificate_onto_a_listener_that_has_one_is_refused(alb: AlbCloud, deployer: AlbDeployer) -> None:
    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.restore(_resource(), Binding(domain="www.example.com"))

    assert failure.value.code == "PreviousCertificateUnavailable"
    assert alb.listeners[LISTENER].certificate_id == OLD
