"""Names are compared lower-cased, IDNA encoded, without a trailing dot; wildcards cover exactly one label."""

import pytest

from certdeploy.domain.errors import InvalidParameter
from certdeploy.domain.names import covers, normalise_name, try_normalise_name


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("www.example.com", "www.example.com"),
        ("WWW.Example.COM", "www.example.com"),
        ("www.example.com.", "www.example.com"),
        ("  www.example.com ", "www.example.com"),
        ("*.Example.com", "*.example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("例子.测试.com", "xn--fsqu00a.xn--0zwm56d.com"),
        ("_acme.example.com", "_acme.example.com"),
    ],
)
def test_normalisation(raw: str, normalised: str) -> None:
    assert normalise_name(raw) == normalised


@pytest.mark.parametrize(
    "bad", ["", ".", "a..example.com", "*.com", "a.*.example.com", "-a.example.com", "a b.com", "*"]
)
def test_what_is_not_a_host_name_is_refused(bad: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        normalise_name(bad)
    assert caught.value.code == "InvalidParameter.Domain"
    assert try_normalise_name(bad) is None


def test_a_name_longer_than_253_characters_is_refused() -> None:
    with pytest.raises(InvalidParameter, match="longer than 253"):
        normalise_name(".".join(["a" * 60] * 5))


@pytest.mark.parametrize(
    ("certificate_name", "resource_domain", "covered"),
    [
        ("example.com", "example.com", True),
        ("example.com", "www.example.com", False),
        ("*.example.com", "a.example.com", True),
        ("*.example.com", "example.com", False),
        ("*.example.com", "a.b.example.com", False),
        ("*.example.com", "*.example.com", True),
        ("a.example.com", "*.example.com", False),
        ("*.a.example.com", "*.example.com", False),
        ("*.example.com", "*.a.example.com", False),
        ("*.example.com", "a.example.org", False),
    ],
)
def test_coverage(certificate_name: str, resource_domain: str, covered: bool) -> None:
    assert covers(certificate_name, resource_domain) is covered
