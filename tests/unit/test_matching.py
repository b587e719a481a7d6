"""Certificate → resource matching: the user-visible rules, and the indexed matcher against the pairwise reference."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certdeploy.domain.matching import Assignment, Exclusion, ExclusionReason, MatchResult, match
from certdeploy.domain.models import SM_PRODUCTS, CertAlgorithm, Certificate, CertOrigin, Product, Resource
from certdeploy.domain.names import covers, try_normalise_name
from tests.conftest import examples
from tests.unit.matching_reference import reference_match

Matcher = Callable[..., MatchResult]

AT = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)
ONE_SECOND = timedelta(seconds=1)


def make_certificate(
    cert_id: int,
    *names: str,
    not_before: datetime = AT - timedelta(days=30),
    not_after: datetime = AT + timedelta(days=60),
    algorithm: CertAlgorithm = CertAlgorithm.RSA,
) -> Certificate:
    return Certificate(
        id=cert_id,
        account_id=1,
        name=f"cert-{cert_id}",
        origin=CertOrigin.UPLOAD,
        cert_pem="-----BEGIN CERTIFICATE-----\nnot parsed here\n-----END CERTIFICATE-----\n",
        common_name=names[0] if names else None,
        sans=names,
        names=names,
        not_before=not_before,
        not_after=not_after,
        serial=f"{cert_id:x}",
        fingerprint_sha256=f"{cert_id:064x}",
        issuer="CN=Test CA",
        algorithm=algorithm,
    )


def make_resource(
    resource_id: int,
    domain: str,
    product: Product = Product.CDN,
    *,
    https_enabled: bool = True,
    account_id: int = 1,
) -> Resource:
    return Resource(
        id=resource_id,
        account_id=account_id,
        product=product,
        region="cn-hangzhou",
        instance_id=f"i-{resource_id}",
        domain=domain,
        https_enabled=https_enabled,
    )


@pytest.fixture(params=[match, reference_match], ids=["index", "reference"])
def matcher(request: pytest.FixtureRequest) -> Matcher:
    """The rules hold for both implementations, so the reference the property test trusts is itself checked."""
    matcher_function: Matcher = request.param
    return matcher_function


def outcome(result: MatchResult, resource_id: int) -> Assignment | Exclusion:
    found = [item for item in (*result.assignments, *result.exclusions) if item.resource_id == resource_id]
    assert len(found) == 1
    return found[0]


# --- coverage -------------------------------------------------------------------------------------------------


def test_wildcard_covers_exactly_one_label(matcher: Matcher) -> None:
    wildcard = make_certificate(7, "*.example.com")
    resources = [
        make_resource(1, "example.com"),
        make_resource(2, "a.example.com"),
        make_resource(3, "a.b.example.com"),
    ]

    result = matcher([wildcard], resources, AT)

    assert result.assignments == (Assignment(2, Product.CDN, 7, exact=False),)
    assert result.exclusions == (
        Exclusion(1, Product.CDN, ExclusionReason.NO_MATCH),
        Exclusion(3, Product.CDN, ExclusionReason.NO_MATCH),
    )


def test_exact_name_covers_only_itself(matcher: Matcher) -> None:
    apex = make_certificate(7, "example.com")

    result = matcher([apex], [make_resource(1, "example.com"), make_resource(2, "www.example.com")], AT)

    assert result.matched_resource_ids == (1,)
    assert outcome(result, 2) == Exclusion(2, Product.CDN, ExclusionReason.NO_MATCH)


@pytest.mark.parametrize("domain", ["WWW.Example.COM", "www.example.com.", " www.example.com ", "Www.Example.Com."])
def test_resource_domains_are_compared_lower_cased_without_trailing_dot(matcher: Matcher, domain: str) -> None:
    result = matcher([make_certificate(7, "www.example.com")], [make_resource(1, domain)], AT)

    assert result.assignments == (Assignment(1, Product.CDN, 7, exact=True),)


@pytest.mark.parametrize("domain", ["bücher.example", "BÜCHER.example.", "xn--bcher-kva.example"])
def test_idn_resource_domain_matches_punycode_certificate_name(matcher: Matcher, domain: str) -> None:
    result = matcher([make_certificate(7, "xn--bcher-kva.example")], [make_resource(1, domain)], AT)

    assert result.assignments == (Assignment(1, Product.CDN, 7, exact=True),)


def test_idn_resource_domain_under_a_punycode_wildcard(matcher: Matcher) -> None:
    result = matcher([make_certificate(7, "*.xn--bcher-kva.example")], [make_resource(1, "Shop.Bücher.example")], AT)

    assert result.assignments == (Assignment(1, Product.CDN, 7, exact=False),)


@pytest.mark.parametrize("domain", ["", "a..example.com", "-a.example.com", "*.com", "*.*.example.com", "a b.com"])
def test_a_domain_that_is_no_host_name_is_never_matched(matcher: Matcher, domain: str) -> None:
    certificates = [make_certificate(7, "*.example.com"), make_certificate(8, "example.com")]

    result = matcher(certificates, [make_resource(1, domain)], AT)

    assert result.exclusions == (Exclusion(1, Product.CDN, ExclusionReason.NO_MATCH),)


def test_wildcard_resource_domain_is_covered_only_by_the_same_wildcard(matcher: Matcher) -> None:
    certificates = [make_certificate(7, "a.example.com", "example.com"), make_certificate(8, "*.b.example.com")]
    resources = [make_resource(1, "*.example.com"), make_resource(2, "*.B.Example.com")]

    result = matcher(certificates, resources, AT)

    assert result.assignments == (Assignment(2, Product.CDN, 8, exact=True),)
    assert result.exclusions == (Exclusion(1, Product.CDN, ExclusionReason.NO_MATCH),)

    covered = matcher([*certificates, make_certificate(9, "*.example.com")], resources, AT)
    assert outcome(covered, 1) == Assignment(1, Product.CDN, 9, exact=True)


# --- SM certificates ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("product", list(Product))
def test_sm2_certificate_deploys_only_to_cdn_dcdn_and_anti_ddos(matcher: Matcher, product: Product) -> None:
    sm2 = make_certificate(7, "www.example.com", algorithm=CertAlgorithm.SM2)

    result = matcher([sm2], [make_resource(1, "www.example.com", product)], AT)

    if product in {Product.CDN, Product.DCDN, Product.DDOS}:
        assert result.assignments == (Assignment(1, product, 7, exact=True),)
    else:
        assert result.exclusions == (Exclusion(1, product, ExclusionReason.SM_NOT_SUPPORTED, 7),)


def test_sm2_on_nlb_leaves_the_resource_to_an_rsa_certificate(matcher: Matcher) -> None:
    sm2 = make_certificate(7, "www.example.com", algorithm=CertAlgorithm.SM2, not_after=AT + timedelta(days=300))
    rsa_wildcard = make_certificate(8, "*.example.com")
    resources = [make_resource(1, "www.example.com", Product.NLB), make_resource(2, "www.example.com", Product.CDN)]

    result = matcher([sm2, rsa_wildcard], resources, AT)

    assert result.assignments == (
        Assignment(1, Product.NLB, 8, exact=False),
        Assignment(2, Product.CDN, 7, exact=True),
    )


# --- validity at run time -------------------------------------------------------------------------------------


def test_certificate_expiring_one_second_before_the_scheduled_time_is_excluded(matcher: Matcher) -> None:
    scheduled = AT + timedelta(days=10)
    expiring = make_certificate(7, "www.example.com", not_after=scheduled - ONE_SECOND)

    result = matcher([expiring], [make_resource(1, "www.example.com")], scheduled)

    assert result.exclusions == (Exclusion(1, Product.CDN, ExclusionReason.CERTIFICATE_NOT_VALID, 7),)
    assert matcher([expiring], [make_resource(1, "www.example.com")], scheduled - ONE_SECOND).matched_cert_ids == (7,)


def test_certificate_not_yet_valid_at_run_time_is_excluded(matcher: Matcher) -> None:
    future = make_certificate(7, "www.example.com", not_before=AT + ONE_SECOND)

    result = matcher([future], [make_resource(1, "www.example.com")], AT)

    assert result.exclusions == (Exclusion(1, Product.CDN, ExclusionReason.CERTIFICATE_NOT_VALID, 7),)
    assert matcher([future], [make_resource(1, "www.example.com")], AT + ONE_SECOND).matched_cert_ids == (7,)


def test_run_time_in_another_timezone_is_the_same_moment(matcher: Matcher) -> None:
    expiring = make_certificate(7, "www.example.com", not_after=AT)
    beijing = timezone(timedelta(hours=8))

    on_time = matcher([expiring], [make_resource(1, "www.example.com")], AT.astimezone(beijing))
    late = matcher([expiring], [make_resource(1, "www.example.com")], (AT + ONE_SECOND).astimezone(beijing))

    assert on_time.matched_cert_ids == (7,)
    assert late.exclusions == (Exclusion(1, Product.CDN, ExclusionReason.CERTIFICATE_NOT_VALID, 7),)


# --- one worker per resource: tie-breaks ----------------------------------------------------------------------


def test_exact_name_beats_wildcard_even_with_earlier_not_after_and_higher_id(matcher: Matcher) -> None:
    wildcard = make_certificate(1, "*.example.com", not_after=AT + timedelta(days=300))
    exact = make_certificate(2, "www.example.com", not_after=AT + timedelta(days=10))

    result = matcher([wildcard, exact], [make_resource(1, "www.example.com")], AT)

    assert result.assignments == (Assignment(1, Product.CDN, 2, exact=True),)


def test_later_not_after_wins_between_equally_exact_certificates(matcher: Matcher) -> None:
    older = make_certificate(1, "www.example.com", not_after=AT + timedelta(days=10))
    newer = make_certificate(2, "www.example.com", not_after=AT + timedelta(days=10, seconds=1))
    older_wildcard = make_certificate(3, "*.example.com", not_after=AT + timedelta(days=10))
    newer_wildcard = make_certificate(4, "*.example.com", not_after=AT + timedelta(days=11))
    resources = [make_resource(1, "www.example.com"), make_resource(2, "api.example.com")]

    result = matcher([older, newer, older_wildcard, newer_wildcard], resources, AT)

    assert result.assignments == (
        Assignment(1, Product.CDN, 2, exact=True),
        Assignment(2, Product.CDN, 4, exact=False),
    )


@pytest.mark.parametrize("listed_first", ["lower id", "higher id"])
def test_lower_certificate_id_wins_on_equal_not_after(matcher: Matcher, listed_first: str) -> None:
    certificates = [make_certificate(5, "www.example.com"), make_certificate(9, "www.example.com")]
    if listed_first == "higher id":
        certificates.reverse()

    result = matcher(certificates, [make_resource(1, "www.example.com")], AT)

    assert result.assignments == (Assignment(1, Product.CDN, 5, exact=True),)


def test_certificate_listing_both_exact_and_wildcard_counts_as_exact(matcher: Matcher) -> None:
    both = make_certificate(1, "*.example.com", "www.example.com", not_after=AT + timedelta(days=10))
    wildcard_only = make_certificate(2, "*.example.com", not_after=AT + timedelta(days=90))

    result = matcher([both, wildcard_only], [make_resource(1, "www.example.com")], AT)

    assert result.assignments == (Assignment(1, Product.CDN, 1, exact=True),)


def test_unusable_best_candidate_gives_way_to_the_next_usable_one(matcher: Matcher) -> None:
    expired_exact = make_certificate(1, "www.example.com", not_after=AT - ONE_SECOND)
    sm2_wildcard = make_certificate(2, "*.example.com", algorithm=CertAlgorithm.SM2, not_after=AT + timedelta(days=90))
    rsa_wildcard = make_certificate(3, "*.example.com", not_after=AT + timedelta(days=30))

    result = matcher(
        [expired_exact, sm2_wildcard, rsa_wildcard], [make_resource(1, "www.example.com", Product.WAF)], AT
    )

    assert result.assignments == (Assignment(1, Product.WAF, 3, exact=False),)


def test_resource_covered_only_by_unusable_certificates_reports_the_best_ranked_one(matcher: Matcher) -> None:
    sm2_exact = make_certificate(9, "www.example.com", algorithm=CertAlgorithm.SM2, not_after=AT + timedelta(days=5))
    expired_wildcard = make_certificate(1, "*.example.com", not_after=AT - ONE_SECOND)
    later_expired_wildcard = make_certificate(2, "*.example.com", not_after=AT - ONE_SECOND / 2)
    resources = [make_resource(1, "www.example.com", Product.ALB), make_resource(2, "api.example.com", Product.ALB)]

    result = matcher([sm2_exact, expired_wildcard, later_expired_wildcard], resources, AT)

    assert result.exclusions == (
        Exclusion(1, Product.ALB, ExclusionReason.SM_NOT_SUPPORTED, 9),
        Exclusion(2, Product.ALB, ExclusionReason.CERTIFICATE_NOT_VALID, 2),
    )


def test_expired_sm2_certificate_on_an_unsupported_product_reports_sm_first(matcher: Matcher) -> None:
    expired_sm2 = make_certificate(7, "www.example.com", algorithm=CertAlgorithm.SM2, not_after=AT - ONE_SECOND)

    result = matcher([expired_sm2], [make_resource(1, "www.example.com", Product.FC)], AT)

    assert result.exclusions == (Exclusion(1, Product.FC, ExclusionReason.SM_NOT_SUPPORTED, 7),)


# --- resources never matched ----------------------------------------------------------------------------------


def test_https_disabled_resource_is_never_matched(matcher: Matcher) -> None:
    result = matcher(
        [make_certificate(7, "www.example.com")], [make_resource(1, "www.example.com", https_enabled=False)], AT
    )

    assert result.assignments == ()
    assert result.exclusions == (Exclusion(1, Product.CDN, ExclusionReason.HTTPS_DISABLED),)


def test_resource_of_another_account_is_excluded_when_an_account_is_given(matcher: Matcher) -> None:
    certificates = [make_certificate(7, "www.example.com")]
    resources = [
        make_resource(1, "www.example.com", account_id=2),
        make_resource(2, "www.example.com", account_id=2, https_enabled=False),
        make_resource(3, "www.example.com", account_id=1),
    ]

    result = matcher(certificates, resources, AT, account_id=1)

    assert result.assignments == (Assignment(3, Product.CDN, 7, exact=True),)
    assert result.exclusions == (
        Exclusion(1, Product.CDN, ExclusionReason.OTHER_ACCOUNT),
        Exclusion(2, Product.CDN, ExclusionReason.OTHER_ACCOUNT),
    )
    assert matcher(certificates, resources, AT).matched_resource_ids == (1, 3)


# --- the result -------------------------------------------------------------------------------------------------


def test_result_is_ordered_by_resource_id_with_preview_counts(matcher: Matcher) -> None:
    certificates = [make_certificate(3, "*.example.com"), make_certificate(4, "www.example.com")]
    resources = [
        make_resource(30, "www.example.com", Product.WAF),
        make_resource(10, "api.example.com", Product.CDN),
        make_resource(20, "www.example.com", Product.CDN),
        make_resource(15, "unrelated.example.org", Product.CDN),
        make_resource(5, "shop.example.com", Product.CDN, https_enabled=False),
    ]

    result = matcher(certificates, resources, AT)

    assert result.matched_resource_ids == (10, 20, 30)
    assert [exclusion.resource_id for exclusion in result.exclusions] == [5, 15]
    assert result.matched_cert_ids == (3, 4)
    assert result.workers_per_product == {Product.CDN: 2, Product.WAF: 1}


def test_nothing_to_match_gives_an_empty_result(matcher: Matcher) -> None:
    result = matcher([], [], AT)

    assert result == MatchResult((), ())
    assert result.matched_cert_ids == ()
    assert result.workers_per_product == {}


@pytest.mark.parametrize("reason", list(ExclusionReason))
def test_every_exclusion_reason_has_a_description_for_the_preview(reason: ExclusionReason) -> None:
    assert reason.description
    assert str(reason) == reason.value


def test_naive_run_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        match([make_certificate(7, "www.example.com")], [make_resource(1, "www.example.com")], datetime(2025, 6, 1))


@pytest.mark.parametrize(
    ("certificates", "resources", "message"),
    [
        ([make_certificate(7, "a.example.com"), make_certificate(7, "b.example.com")], [], r"certificate ids.*\[7\]"),
        ([], [make_resource(4, "a.example.com"), make_resource(4, "b.example.com")], r"resource ids.*\[4\]"),
    ],
)
def test_repeated_ids_are_refused(certificates: list[Certificate], resources: list[Resource], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        match(certificates, resources, AT)


# --- the index agrees with the pairwise reference ---------------------------------------------------------------

# Few parents, so certificates and resources share them; a child parent (b.example.com) and an IDN one.
PARENTS = ("example.com", "b.example.com", "example.org", "xn--bcher-kva.example")
HOSTS = tuple(f"{label}.{parent}" for label in ("a", "b", "www") for parent in PARENTS)
WILDCARDS = tuple(f"*.{parent}" for parent in PARENTS)
CERTIFICATE_NAMES = (*PARENTS, *HOSTS, *WILDCARDS)
UNCOVERED_DOMAINS = ("", "a..example.com", "*.com", "*.*.example.com", "-a.example.com", "c.a.b.example.com")
# Run time fixed; validity bounds fall on, just around and far from it, so NotAfter ties are common.
OFFSETS = tuple(timedelta(seconds=seconds) for seconds in (-86_400, -1, 0, 1, 86_400))
BEIJING = timezone(timedelta(hours=8))


def respell(name: str, spelling: str) -> str:
    """The same domain as a user or a cloud API might write it."""
    if spelling == "upper":
        return name.upper()
    if spelling == "trailing dot":
        return name + "."
    if spelling == "unicode":
        return name.replace("xn--bcher-kva", "BÜcher")
    return name


resource_domains = st.one_of(
    st.builds(
        respell,
        st.sampled_from(CERTIFICATE_NAMES),
        st.sampled_from(["as written", "upper", "trailing dot", "unicode"]),
    ),
    st.sampled_from(UNCOVERED_DOMAINS),
)


@st.composite
def certificates(draw: st.DrawFn, cert_id: int) -> Certificate:
    return make_certificate(
        cert_id,
        *draw(st.lists(st.sampled_from(CERTIFICATE_NAMES), min_size=1, max_size=3)),
        not_before=AT + draw(st.sampled_from(OFFSETS)),
        not_after=AT + draw(st.sampled_from(OFFSETS)),
        algorithm=draw(st.sampled_from(list(CertAlgorithm))),
    )


@st.composite
def resources(draw: st.DrawFn, resource_id: int) -> Resource:
    return make_resource(
        resource_id,
        draw(resource_domains),
        draw(st.sampled_from(list(Product))),
        https_enabled=draw(st.booleans()),
        account_id=draw(st.sampled_from([1, 2])),
    )


@st.composite
def matching_inputs(draw: st.DrawFn) -> tuple[list[Certificate], list[Resource], datetime, int | None]:
    cert_ids = draw(st.lists(st.integers(1, 40), max_size=8, unique=True))
    resource_ids = draw(st.lists(st.integers(1, 1000), max_size=15, unique=True))
    at = draw(st.sampled_from([AT, AT.astimezone(BEIJING)]))
    account_id = draw(st.sampled_from([None, 1]))
    return (
        [draw(certificates(cert_id)) for cert_id in cert_ids],
        [draw(resources(resource_id)) for resource_id in resource_ids],
        at,
        account_id,
    )


@settings(max_examples=examples(400), deadline=None)
@given(matching_inputs())
def test_index_agrees_with_pairwise_reference(
    inputs: tuple[Sequence[Certificate], Sequence[Resource], datetime, int | None],
) -> None:
    certificate_list, resource_list, at, account_id = inputs

    assert match(certificate_list, resource_list, at, account_id) == reference_match(
        certificate_list, resource_list, at, account_id
    )


@settings(max_examples=examples(150), deadline=None)
@given(matching_inputs())
def test_every_resource_gets_one_outcome_and_every_worker_is_deployable(
    inputs: tuple[Sequence[Certificate], Sequence[Resource], datetime, int | None],
) -> None:
    certificate_list, resource_list, at, account_id = inputs

    result = match(certificate_list, resource_list, at, account_id)

    outcome_ids = [item.resource_id for item in (*result.assignments, *result.exclusions)]
    assert sorted(outcome_ids) == sorted(resource.id for resource in resource_list)
    by_id = {certificate.id: certificate for certificate in certificate_list}
    resource_by_id = {resource.id: resource for resource in resource_list}
    for assignment in result.assignments:
        certificate, resource = by_id[assignment.cert_id], resource_by_id[assignment.resource_id]
        domain = try_normalise_name(resource.domain)
        assert domain is not None
        assert any(covers(name, domain) for name in certificate.names)
        assert resource.https_enabled
        assert certificate.is_valid_at(at)
        assert certificate.algorithm is not CertAlgorithm.SM2 or resource.product in SM_PRODUCTS
