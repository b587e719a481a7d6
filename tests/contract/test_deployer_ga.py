"""GA deployer over the wire: the real `alibabacloud-ga20191120` client against the GA test server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from certdeploy.adapters.cloud.ga import GaDeployer
from certdeploy.domain.deployment import DeployableCertificate, PermanentDeployFailure, TransientDeployFailure
from certdeploy.domain.models import CertAlgorithm, Product, Resource
from tests.contract.deployer_support import cas_certificate, resource
from tests.servers.ga import DESCRIBE_LISTENER, LIST_LISTENERS, UPDATE_LISTENER, GaCloud, GaListener

ACCELERATOR = "ga-bp1odcab8tmno0hdq"
LISTENER = "lsr-bp1bpn0kn908w4nbw"
OLD = "6092001-cn-hangzhou"
NEW_CAS_ID = 6092002
NEW = f"{NEW_CAS_ID}-cn-hangzhou"


@pytest.fixture
def ga() -> Iterator[GaCloud]:
    cloud = GaCloud()
    cloud.cas_identifiers |= {OLD, NEW}
    cloud.listeners[LISTENER] = GaListener(ACCELERATOR, ((443, 443),), certificate_id=OLD)
    cloud.listeners["lsr-range"] = GaListener(ACCELERATOR, ((8000, 8100),), certificate_id=OLD)
    cloud.listeners["lsr-udp"] = GaListener(ACCELERATOR, ((53, 53),), protocol="udp")
    yield from cloud.serving()


@pytest.fixture
def deployer(ga: GaCloud) -> GaDeployer:
    return GaDeployer(ga.api.credentials(), ga.api.target())


def _resource(listener_id: str | None = f"{LISTENER}@443", port: int = 443) -> Resource:
    # The resource lists its own region; GA is still called in cn-hangzhou.
    return resource(
        Product.GA, ACCELERATOR, "www.example.com", region="ap-southeast-1", port=port, listener_id=listener_id
    )


def _certificate(cas_cert_id: int | None = NEW_CAS_ID) -> DeployableCertificate:
    return cas_certificate(cas_cert_id, name="site-2026", algorithm=CertAlgorithm.RSA)


def test_binds_reads_back_and_restores_the_default_certificate(ga: GaCloud, deployer: GaDeployer) -> None:
    resource = _resource()
    previous = deployer.current_binding(resource)

    deployer.bind(resource, _certificate())
    bound = deployer.current_binding(resource)
    deployer.restore(resource, previous)

    assert (previous.cas_cert_id, bound.cas_cert_id) == (6092001, NEW_CAS_ID)
    assert ga.listeners[LISTENER].certificate_id == OLD
    updates = ga.api.calls_of(UPDATE_LISTENER)
    assert [call.parameters["Certificates.1.Id"] for call in updates] == [NEW, OLD]
    sent = {name.split(".")[0] for call in updates for name in call.parameters}
    assert sent == {"ListenerId", "RegionId", "Certificates", "XForwardedForConfig", "ProxyProtocol"}
    assert (ga.listeners[LISTENER].name, ga.listeners[LISTENER].request_timeout) == ("web", 60)


def test_a_bind_keeps_the_listeners_forwarded_headers_and_proxy_protocol(ga: GaCloud, deployer: GaDeployer) -> None:
    listener = ga.listeners[LISTENER]
    listener.forwarded_for.update(XForwardedForGaIdEnabled=True, XForwardedForGaApEnabled=True, XRealIpEnabled=True)
    listener.proxy_protocol = True
    kept = dict(listener.forwarded_for)

    deployer.bind(_resource(), _certificate())

    assert (listener.certificate_id, listener.forwarded_for, listener.proxy_protocol) == (NEW, kept, True)


def test_binding_what_is_already_bound_makes_no_write(ga: GaCloud, deployer: GaDeployer) -> None:
    deployer.bind(_resource(), _certificate())
    ga.listeners[LISTENER].state = "active"
    ga.api.clear_calls()

    deployer.bind(_resource(), _certificate())

    assert ga.api.actions() == [DESCRIBE_LISTENER]


def test_finds_the_https_listener_whose_port_range_holds_the_port(ga: GaCloud, deployer: GaDeployer) -> None:
    ga.listeners.update({f"lsr-{index:03}": GaListener("ga-other", ((index, index),)) for index in range(60)})

    deployer.bind(_resource(listener_id=None, port=8080), _certificate())

    assert ga.listeners["lsr-range"].certificate_id == NEW
    assert ga.listeners[LISTENER].certificate_id == OLD
    assert len(ga.api.calls_of(LIST_LISTENERS)) == 1


def test_pages_through_the_accelerators_listeners_until_it_finds_the_port(ga: GaCloud, deployer: GaDeployer) -> None:
    ga.listeners.update(
        {f"lsr-{index:03}": GaListener(ACCELERATOR, ((9000 + index, 9000 + index),)) for index in range(60)}
    )

    deployer.bind(_resource(listener_id=None, port=8080), _certificate())

    assert ga.listeners["lsr-range"].certificate_id == NEW
    assert len(ga.api.calls_of(LIST_LISTENERS)) == 2


def test_an_updating_listener_is_a_transient_failure_without_a_write(ga: GaCloud, deployer: GaDeployer) -> None:
    ga.listeners[LISTENER].state = "updating"
    ga.listeners[LISTENER].reads_until_settled = 5

    with pytest.raises(TransientDeployFailure) as failure:
        deployer.bind(_resource(), _certificate())

    assert failure.value.code == "StateError.Listener"
    assert ga.api.calls_of(UPDATE_LISTENER) == []


@pytest.mark.parametrize(
    ("action", "code"),
    [
        (DESCRIBE_LISTENER, "Throttling"),
        # Retried on UpdateListener by terraform-provider-alicloud alicloud/resource_alicloud_ga_listener.go.
        (UPDATE_LISTENER, "NotActive.Listener"),
        (UPDATE_LISTENER, "StateError.Accelerator"),
    ],
)
def test_throttling_and_a_busy_listener_or_accelerator_are_transient(
    ga: GaCloud, deployer: GaDeployer, action: str, code: str
) -> None:
    ga.api.fail_next(action, code=code, message="Try again later.")

    with pytest.raises(TransientDeployFailure) as failure:
        deployer.bind(_resource(), _certificate())

    assert failure.value.code == code


def test_an_unknown_certificate_is_permanent_with_gas_cause(ga: GaCloud, deployer: GaDeployer) -> None:
    ga.cas_identifiers.discard(NEW)

    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource(), _certificate())

    assert failure.value.code == "NotExist.Certificate"
    assert NEW in failure.value.message


def test_a_listener_of_another_accelerator_is_refused(ga: GaCloud, deployer: GaDeployer) -> None:
    ga.listeners[LISTENER].accelerator_id = "ga-someone-else"

    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource(), _certificate())

    assert failure.value.code == "ResourceNotFound.Listener"
    assert ga.api.calls_of(UPDATE_LISTENER) == []


def test_a_udp_listener_serves_no_certificate(deployer: GaDeployer) -> None:
    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource(listener_id="lsr-udp@53", port=53), _certificate())

    assert failure.value.code == "HttpsDisabled"


def test_a_certificate_outside_cas_cannot_be_bound(ga: GaCloud, deployer: GaDeployer) -> None:
    with pytest.raises(PermanentDeployFailure) as failure:
        deployer.bind(_resource(), _certificate(cas_cert_id=None))

    assert failure.value.code == "CertificateNotInCas"
    assert ga.api.calls == []
