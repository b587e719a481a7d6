"""The local cloud: an inventory file of resources that deployments really rebind."""

import dataclasses
import sqlite3
from pathlib import Path

import pytest
from pydantic import SecretStr

from certdeploy.adapters import local_cloud
from certdeploy.adapters.local_cloud import LocalCloud
from certdeploy.adapters.local_inventory import InventoryError, read_inventory
from certdeploy.domain.deployment import (
    Binding,
    DeployableCertificate,
    PermanentDeployFailure,
    TransientDeployFailure,
)
from certdeploy.domain.models import CertAlgorithm, Product, Resource

ACCOUNT = 7
INVENTORY = """
resources:
  - product: CDN
    region: cn-hangzhou
    instance: www-cdn
    domain: www.example.com
    cert: legacy-www
  - product: ALB
    region: cn-shanghai
    instance: alb-1
    domain: api.example.com
    port: 443
  - product: NLB
    region: cn-shanghai
    instance: nlb-1
    domain: tcp.example.com
    port: 8443
    fail: "listener is locked"
  - product: OSS
    region: cn-beijing
    instance: bucket-a
    domain: static.example.com
    https: false
  - product: WAF
    region: cn-hangzhou
    instance: waf-1
    domain: shop.example.com
    flaky: 2
"""

CERT = DeployableCertificate(
    cert_id=41,
    name="www-2026",
    algorithm=CertAlgorithm.RSA,
    cert_pem="-----BEGIN CERTIFICATE-----",
    key_pem=SecretStr("-----BEGIN PRIVATE KEY-----"),
)


@pytest.fixture
def cloud(tmp_path: Path) -> LocalCloud:
    path = tmp_path / "inventory.yaml"
    path.write_text(INVENTORY)
    cloud = LocalCloud(tmp_path / "cloud.sqlite")
    cloud.load(ACCOUNT, read_inventory(path))
    yield cloud
    cloud.close()


def _resource(cloud: LocalCloud, product: Product) -> Resource:
    found = next(r for r in cloud.discover(ACCOUNT) if r.product is product)
    fields = {name: value for name, value in dataclasses.asdict(found).items() if name in Resource.model_fields}
    return Resource(id=1, account_id=ACCOUNT, **fields)


def test_the_inventory_lists_what_the_file_describes(cloud: LocalCloud) -> None:
    resources = {r.product: r for r in cloud.discover(ACCOUNT)}
    assert set(resources) == {Product.CDN, Product.ALB, Product.NLB, Product.OSS, Product.WAF}
    assert resources[Product.CDN].bound_cert_name == "legacy-www"
    assert resources[Product.CDN].bound_cert_id is None
    assert resources[Product.ALB].port == 443 and resources[Product.ALB].listener_id == "lsn-alb-1@443"
    assert resources[Product.OSS].https_enabled is False
    assert list(cloud.discover(ACCOUNT + 1)) == []


def test_the_inventory_is_read_in_key_order_a_page_at_a_time(
    cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    every = list(cloud.discover(ACCOUNT))
    monkeypatch.setattr(local_cloud, "DISCOVER_PAGE", 2)

    paged = list(cloud.discover(ACCOUNT))

    assert paged == every and len(paged) == 5
    keys = [(str(r.product), r.region, r.instance_id, r.domain, r.port or 0) for r in paged]
    assert keys == sorted(keys)


def test_deploying_really_rebinds_the_resource(cloud: LocalCloud) -> None:
    cdn = _resource(cloud, Product.CDN)
    assert cloud.current_binding(cdn) == Binding(cert_name="legacy-www", domain="www.example.com")
    cloud.bind(cdn, CERT)
    assert cloud.current_binding(cdn) == Binding(cert_id=41, cert_name="www-2026", domain="www.example.com")
    assert _resource(cloud, Product.CDN).bound_cert_id == 41
    assert cloud.deploy_count(cdn) == 1


def test_binding_what_is_already_bound_succeeds_without_a_second_deploy(cloud: LocalCloud) -> None:
    cdn = _resource(cloud, Product.CDN)
    cloud.bind(cdn, CERT)
    cloud.bind(cdn, CERT)
    assert cloud.deploy_count(cdn) == 1


def test_restore_puts_the_previous_certificate_back(cloud: LocalCloud) -> None:
    cdn = _resource(cloud, Product.CDN)
    before = cloud.current_binding(cdn)
    cloud.bind(cdn, CERT)
    cloud.restore(cdn, before)
    assert cloud.current_binding(cdn).cert_name == "legacy-www"
    assert cloud.current_binding(cdn).cert_id is None


def test_a_failing_resource_fails_permanently_with_its_message(cloud: LocalCloud) -> None:
    nlb = _resource(cloud, Product.NLB)
    with pytest.raises(PermanentDeployFailure) as caught:
        cloud.bind(nlb, CERT)
    assert caught.value.message == "listener is locked"
    assert cloud.current_binding(nlb).is_empty


def test_https_disabled_refuses_a_certificate(cloud: LocalCloud) -> None:
    with pytest.raises(PermanentDeployFailure, match="HTTPS is disabled"):
        cloud.bind(_resource(cloud, Product.OSS), CERT)


def test_a_flaky_resource_throttles_then_succeeds(cloud: LocalCloud) -> None:
    waf = _resource(cloud, Product.WAF)
    for _ in range(2):
        with pytest.raises(TransientDeployFailure) as caught:
            cloud.bind(waf, CERT)
        assert caught.value.code == "Throttling.User"
    cloud.bind(waf, CERT)
    assert cloud.current_binding(waf).cert_id == 41


def test_reloading_keeps_deployed_bindings_and_drops_removed_resources(cloud: LocalCloud, tmp_path: Path) -> None:
    cloud.bind(_resource(cloud, Product.CDN), CERT)
    smaller = tmp_path / "smaller.yaml"
    smaller.write_text(INVENTORY.split("  - product: ALB")[0])
    assert cloud.load(ACCOUNT, read_inventory(smaller)) == 1
    (cdn,) = cloud.discover(ACCOUNT)
    assert cdn.bound_cert_id == 41


def test_a_file_refused_part_way_through_changes_nothing(cloud: LocalCloud, tmp_path: Path) -> None:
    before = list(cloud.discover(ACCOUNT))
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "resources:\n"
        "  - {product: CDN, region: r, instance: new, domain: new.example.com}\n"
        "  - {product: SLB, region: r, instance: i, domain: d.example.com}\n"
    )

    with pytest.raises(InventoryError, match=r"resources\[1\]"):
        cloud.load(ACCOUNT, read_inventory(broken))

    assert list(cloud.discover(ACCOUNT)) == before


def test_a_deploy_to_a_resource_that_is_gone_fails_permanently(cloud: LocalCloud) -> None:
    gone = Resource(
        id=9, account_id=ACCOUNT, product=Product.CDN, region="cn-hangzhou", instance_id="x", domain="x.example.com"
    )
    with pytest.raises(PermanentDeployFailure) as caught:
        cloud.bind(gone, CERT)
    assert caught.value.code == "ResourceNotFound"


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("resources:\n  - product: SLB\n    region: r\n    instance: i\n    domain: d\n", "product"),
        ("resources:\n  - product: CDN\n    region: r\n    instance: i\n    domain: d\n    colour: red\n", "colour"),
        ("resources: [\n", "while parsing"),
        ("", "empty"),
        ("- product: CDN\n", "not a mapping"),
        ("resources: {product: CDN}\n", "not a list"),
        ("resources: []\nextra: 1\n", "unexpected key 'extra'"),
        ("other: []\n", "unexpected key 'other'"),
        ("resources:\n  - &a {product: CDN, region: r, instance: i, domain: d}\n  - *a\n", "aliases"),
        ("resources:\n  - product: ALB\n    region: r\n    instance: i\n    domain: d\n    port: 70000\n", "port"),
        (
            "resources:\n  - product: CDN\n    region: r\n    instance: i\n    domain: d\n    namespace: r:n\n",
            "namespace",
        ),
    ],
)
def test_a_bad_inventory_file_is_refused_with_the_reason(tmp_path: Path, text: str, complaint: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InventoryError, match=complaint):
        list(read_inventory(path))


def test_an_sae_ingress_has_the_namespace_the_inventory_gives(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(
        "resources:\n"
        "  - {product: SAE, region: r, instance: '1', domain: a.example.com, namespace: 'cn-hangzhou:prod'}\n"
    )
    cloud = LocalCloud(tmp_path / "cloud.sqlite")
    cloud.load(ACCOUNT, read_inventory(path))
    [sae] = cloud.discover(ACCOUNT)
    cloud.close()
    assert sae.namespace_id == "cn-hangzhou:prod"


def test_a_local_cloud_file_from_before_namespaces_still_opens(tmp_path: Path) -> None:
    file = tmp_path / "cloud.sqlite"
    with sqlite3.connect(file) as connection:
        connection.execute(
            "CREATE TABLE cloud_resource (account_id INTEGER, product VARCHAR(16), region VARCHAR(64),"
            " instance_id VARCHAR(128), domain VARCHAR(255), port INTEGER, https_enabled BOOLEAN NOT NULL,"
            " cert_id INTEGER, cert_name VARCHAR(255), fail TEXT, flaky_remaining INTEGER NOT NULL,"
            " deploy_count INTEGER NOT NULL,"
            " PRIMARY KEY (account_id, product, region, instance_id, domain, port))"
        )
        connection.execute(
            "INSERT INTO cloud_resource VALUES (1, 'CDN', 'r', 'cdn-1', 'a.example.com', 0, 1, NULL, NULL, NULL, 0, 0)"
        )
    cloud = LocalCloud(file)
    [cdn] = cloud.discover(1)
    cloud.close()
    assert (cdn.domain, cdn.namespace_id) == ("a.example.com", None)


def test_the_key_never_shows_in_a_repr() -> None:
    assert "PRIVATE" not in repr(CERT)
    assert "PRIVATE" not in str(CERT.model_dump())


def test_after_a_bind_a_slow_resource_serves_the_previous_certificate_until_its_delay_passed(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(INVENTORY.replace("    cert: legacy-www\n", "    cert: legacy-www\n    serve_old: 20\n", 1))
    clock = [1000.0]
    cloud = LocalCloud(tmp_path / "cloud.sqlite", now=lambda: clock[0])
    cloud.load(ACCOUNT, read_inventory(path))
    cdn = _resource(cloud, Product.CDN)
    waf = _resource(cloud, Product.WAF)

    cloud.bind(cdn, CERT)
    with pytest.raises(TransientDeployFailure):
        cloud.bind(waf, CERT)  # throttled: nothing bound, nothing recorded as changed

    legacy = cloud.served_certificate("www.example.com")
    assert legacy is not None and legacy != (CERT.cert_pem, CERT.key_pem.get_secret_value())
    clock[0] += 21
    assert cloud.served_certificate("www.example.com") == (CERT.cert_pem, CERT.key_pem.get_secret_value())
    assert cloud.served_certificate("shop.example.com") is None
    cloud.close()
