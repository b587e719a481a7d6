"""The judgement of a served chain, the names and schedule of checks, and the address guard of outbound checks."""

from __future__ import annotations

import ipaddress

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from certdeploy.adapters.tls_probe import AddressGuard, TlsProbe, parse_ranges
from certdeploy.domain.models import Product
from certdeploy.domain.served_chain import judge
from certdeploy.domain.verification import VerifyStatus, concrete_name, next_recheck
from certdeploy.ports.verify import Unreachable
from tests.certgen import GeneratedCert, make_ca, make_cert


def _der(*certs: GeneratedCert) -> list[bytes]:
    return [cert.certificate.public_bytes(Encoding.DER) for cert in certs]


@pytest.fixture(scope="module")
def root() -> GeneratedCert:
    return make_ca("Judge Root")


@pytest.fixture(scope="module")
def leaf(root: GeneratedCert) -> GeneratedCert:
    return make_cert(["www.example.com"], common_name="www.example.com", issuer=root)


def test_the_certificate_with_its_issuer_is_verified(root, leaf) -> None:
    assert judge(_der(leaf, root), leaf.chain_pem).status is VerifyStatus.VERIFIED


def test_another_certificate_is_a_mismatch_that_says_what_was_served(root, leaf) -> None:
    other = make_cert(["www.example.com"], common_name="legacy-www", issuer=root)
    judgement = judge(_der(other, root), leaf.chain_pem)
    assert judgement.status is VerifyStatus.MISMATCH
    assert judgement.served is not None and judgement.served.subject == "CN=legacy-www"
    assert judgement.served.not_after == other.certificate.not_valid_after_utc


def test_the_right_leaf_without_its_issuer_is_an_incomplete_chain(root, leaf) -> None:
    judgement = judge(_der(leaf), leaf.chain_pem)
    assert (judgement.status, "incomplete chain" in (judgement.detail or "")) == (VerifyStatus.MISMATCH, True)


def test_a_certificate_uploaded_without_its_chain_and_served_so_is_verified_with_a_note(leaf) -> None:
    judgement = judge(_der(leaf), leaf.cert_pem)
    assert judgement.status is VerifyStatus.VERIFIED
    assert "only the leaf" in (judgement.detail or "")


def test_an_issuer_of_the_same_name_with_another_key_does_not_validate(leaf) -> None:
    impostor = make_ca("Judge Root")
    judgement = judge(_der(leaf, impostor), leaf.chain_pem)
    assert judgement.status is VerifyStatus.MISMATCH


def test_a_self_signed_certificate_validates_alone() -> None:
    alone = make_cert(["www.example.com"], common_name="www.example.com")
    assert judge(_der(alone), alone.cert_pem).status is VerifyStatus.VERIFIED


def test_no_certificate_is_unreachable(leaf) -> None:
    assert judge([], leaf.chain_pem).status is VerifyStatus.UNREACHABLE


@pytest.mark.parametrize(
    ("domain", "names", "expected"),
    [
        ("www.example.com", ["*.example.com"], "www.example.com"),
        ("*.example.com", ["*.example.com", "shop.example.com"], "shop.example.com"),
        ("*.example.com", ["*.example.com", "a.b.example.com", "example.com"], None),
        ("*.Example.com", ["WWW.example.com"], "www.example.com"),
    ],
)
def test_a_wildcard_domain_is_checked_through_a_concrete_name(domain, names, expected) -> None:
    assert concrete_name(domain, names) == expected


def test_only_slow_products_are_checked_again_until_the_schedule_is_spent() -> None:
    schedule = (30, 120, 600)
    assert [next_recheck(Product.CDN, done, schedule) for done in (1, 2, 3, 4)] == [30, 120, 600, None]
    assert next_recheck(Product.ALB, 1, schedule) is None


def test_the_guard_refuses_private_addresses_unless_allowed_and_denied_ranges_always() -> None:
    guard = AddressGuard(
        allow=parse_ranges(["127.0.0.0/8"]), deny=parse_ranges(["127.0.0.9", "203.0.113.0/24"]), public_only=True
    )
    assert guard.refusal("127.0.0.1") is None
    assert guard.refusal("10.1.2.3") is not None
    assert guard.refusal("::ffff:10.1.2.3") is not None  # IPv4-mapped IPv6 is judged as IPv4
    assert guard.refusal("127.0.0.9") is not None
    assert guard.refusal("8.8.8.8") is None
    assert AddressGuard().refusal("10.1.2.3") is None  # no guard unless the operator asks
    with pytest.raises(ValueError):
        parse_ranges(["not-a-range"])
    assert parse_ranges([" 10.0.0.0/8 "]) == (ipaddress.ip_network("10.0.0.0/8"),)


def test_a_guarded_check_never_connects_to_a_refused_address() -> None:
    probe = TlsProbe(guard=AddressGuard(public_only=True), resolver=lambda host, port: ["8.8.8.8", "192.168.1.1"])
    with pytest.raises(Unreachable, match=r"address guard: 192\.168\.1\.1"):
        probe.served_chain("www.example.com", None)
