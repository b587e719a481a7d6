"""NLB deployer over the wire: the real `alibabacloud-nlb20220430` client against the NLB test server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from certdeploy.adapters.cloud.nlb import NlbDeployer
from certdeploy.domain.deployment import DeployableCertificate, PermanentDeployFailure, TransientDeployFailure
from certdeploy.domain.models import CertAlgorithm, Product, Resource
from tests.contract.deployer_support import cas_certificate, resource
from tests.servers.nlb import LIST_LISTENERS, UPDATE_LISTENER, NlbCloud, NlbListener

LOAD_BALANCER = "nlb-83ckzc8d4xlp8o"
OLD = "8697931-cn-hangzhou"
NEW_CAS_ID = 8697932
NEW = f"{NEW_CAS_ID}-cn-hangzhou"


@pytest.fixture
def nlb() -> Iterator[NlbCloud]:
    cloud = NlbCloud()
    cloud.cas_identifiers |= {OLD, NEW}
    cloud.listeners["lsn-short"] = NlbListener(LOAD_BALANCER, 443, certificate_ids=(OLD,))
    cloud.listeners["lsn-suffixed@8443"] = NlbListener(LOAD_BALANCER, 8443, certificate_ids=(OLD,))
    cloud.listeners["lsn-tcp"] = NlbListener(LOAD_BALANCER, 80, protocol="TCP")
    yield from cloud.serving()


@pytest.fixture
def deployer(nlb: NlbCloud) -> NlbDeployer:
    return NlbDeployer(nlb.api.credentials(), nlb.api.target())


def _resource(listener_id: str | None, port: int = 443) -> Resource:
    return resource(Product.NLB, LOAD_BALANCER, "mqtt.example.com", port=port, listener_id=listener_id)


def _certificate(cas_cert_id: int | None = NEW_CAS_ID) -> DeployableCertificate:
    return cas_certificate(cas_cert_id, name="mqtt-2026", algorithm=CertAlgorithm.ECC)


@pytest.mark.parametrize(
    ("listener_id", "port", "nlb_listener_id"),
    [
        ("lsn-short@443", 443, "lsn-short"),
        ("lsn-suffixed@8443", 8443, "lsn-suffixed@8443"),
        (None, 8443, "lsn-suffixed@8443"),
    ],
    ids=["id-before-at", "id-with-port", "by-port"],
)
def test_binds_reads_back_and_restores_whatever_form_the_listener_id_has(
    nlb: NlbCloud, deployer: NlbDeployer, listener_id: str | None, port: int, nlb_listener_id: str
) -> None:
    resource = _resource(listener_id, port)
    previous = deployer.current_binding(resource)

    deployer.bind(resource, _certificate())
    bound = deployer.current_binding(resource)
    deployer.restore(resource, previous)

    assert (previous.cas_cert_id, bound.cas_cert_id) == (8697931, NEW_CAS_ID)
    assert nlb.listeners[nlb_listener_id].certificate_ids == (OLD,)
    updates = nlb.api.calls_of(UPDATE_LISTENER)
    assert [(call.parameters["ListenerId"], call.parameters["CertificateIds.1"]) for call in updates] == [
        (nlb_listener_id, NEW),
        (nlb_listener_id, OLD),
    ]
    assert {name for call in updates for name in call.parameters} == {"ListenerId", "CertificateIds.1", "RegionId"}
    assert nlb.listeners[nlb_listener_id].idle_timeout == 900


def test_binding_what_is_already_bound_makes_no_write(nlb: NlbCloud, deployer: NlbDeployer) -> None:
    deployer.bind(_resource("lsn-short@443"), _certificate())
    nlb.api.clear_calls()

    deployer.bind(_resource("lsn-short@443"), _certificate())

    assert nlb.api.actions() == [LIST_LISTENERS]


def test_pages_through_the_load_balancers_listeners_until_it_finds_the_listener(
    nlb: NlbCloud, deployer: NlbDeployer
) -> None:
    nlb.listeners.update({f"lsn-{index:03}": NlbListener(LOAD_BALANCER, 10_000 + index) for index in range(120)})

    deployer.bind(_resource("lsn-short@443"), _certificate())

    assert nlb.listeners["lsn-short"].certificate_ids == (NEW,)
    assert len(nlb.api.calls_of(LIST_LISTENERS)) == 2


def test_a_stopped_listener_takes_the_certificate_and_stays_stopped(nlb: NlbCloud, deployer: NlbDeployer) -> None:
    nlb.listeners["lsn-short"].status = "Stopped"

    deployer.bind(_resource("lsn-short@443"), _certificate())

    assert nlb.listeners["lsn-short"].certificate_ids == (NEW,)
    assert deployer.current_binding(_resource("lsn-short@443")).cas_cert_id == NEW_CAS_ID
    assert nlb.listeners["lsn-short"].status == "Stopped"


def test_a_load_balancer_being_configured_is_transient(nlb: NlbCloud, deployer: NlbDeployer) -> None:
    nlb.busy_load_balancers.add(LOAD_BALANCER)

    with pytest.raises(TransientDeployFailure) as failure:
        deployer.bind(_resource("lsn-short@443"), _certificate())

    assert failure.value.code == "OperationFailed.ResourceIsConfiguring"
    assert nlb.listeners["lsn-short"].certificate_ids == (OLD,)


@pytest.mark.parametrize("code", ["Throttling.User", "Conflict.Lock", "SystemBusy"])
def test_throttling_and_a_locked_load_balancer_are_transient(nlb: NlbCloud, deployer: NlbDeployer, code: str) -> None:
    nlb.api.fail_next(UPDATE_LISTENER, code=code, message="Try again later.")

    with pytest.raises(TransientDeployFailure) as failure:
        deployer.bind(_resource("lsn-short@443"), _certificate())

    assert failure.value.code == code
    assert nlb.listeners["lsn-short"].certificate_ids == (OLD,)


def test_a_server_error_is_transient(nlb: NlbCloud, deployer: NlbDeployer) -> None:
    nlb.api.fail_next(LIST_LISTENERS, code="ServiceUnavailable", message="The service is unavailable.", status=503)

    with pytest.raises(TransientDeployFailure):
        deployer.current_binding(_resource("lsn-short@443"))


def test_a_listener_being_configured_is_a_transient_failure_without_a_write(
    nlb: NlbCloud, deployer: NlbDeployer
) -> None:
    nlb.listeners["lsn-short"].status = "Configuring"
    nlb.listeners["lsn-short"].lists_until_settled = 5

    with pytest.raises(TransientDeployFailure) as failure:
        deployer.bind(_resource("lsn-short@443"), _certificate())

    assert failure.value.code == "IncorrectStatus.Listener"
    assert nlb.api.calls_of(UPDATE_LISTENER) == []


def test_an_unknown_certificate_is_permanent_with_nlbs_cause(nlb: NlbCloud, deployer: NlbDeployer) -> None:
    nlb.cas_identifiers.discard(NEW)

    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource("lsn-short@443"), _certificate())

    assert failure.value.code == "ResourceNotFound.Certificate"
    assert NEW in failure.value.message


def test_a_missing_listener_is_permanent(deployer: NlbDeployer) -> None:
    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.current_binding(_resource("lsn-gone@443"))

    assert failure.value.code == "ResourceNotFound.Listener"


def test_a_tcp_listener_serves_no_certificate(deployer: NlbDeployer) -> None:
    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource("lsn-tcp@80", 80), _certificate())

    assert failure.value.code == "HttpsDisabled"


def test_a_certificate_outside_cas_cannot_be_bound(nlb: NlbCloud, deployer: NlbDeployer) -> None:
    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource("lsn-short@443"), _certificate(cas_cert_id=None))

    assert failure.value.code == "CertificateNotInCas"
    assert nlb.api.calls == []
