"""Certificate → resource matching, by the rules of docs/decisions.md#matching.

Every resource gets exactly one outcome: an `Assignment` (one worker: this certificate onto this resource) or an
`Exclusion` with the reason the preview shows. Reasons, in the order they are checked:

1. `other_account`: the resource belongs to another account (only when an account id is given). Checked before
   anything else so nothing about another account's resource (not even its HTTPS state) is reported.
2. `https_disabled`: resources with HTTPS disabled are never matched.
3. Coverage. The certificates covering the resource's domain are ranked: exact name before wildcard, then the later
   NotAfter, then the lower certificate id. The best-ranked *usable* certificate is assigned. When covering
   certificates exist but none is usable, the exclusion carries the reason and id of the best-ranked covering
   certificate, i.e. the one that would have been deployed: `sm_not_supported` (an SM2 certificate on a product other
   than CDN/DCDN/DDOS; checked first because renewing would not help) or `certificate_not_valid` (expired or not yet
   valid at the given time; NotBefore and NotAfter themselves are valid moments).
4. `no_match`: no certificate name covers the domain, or the domain is not a valid host name.

Runs on an index (certificate names keyed by exact name and by wildcard parent domain), so its cost grows with
certificates + resources, never with their product.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import NamedTuple, Protocol

from certdeploy.domain.models import SM_PRODUCTS, CertAlgorithm, Certificate, Product
from certdeploy.domain.names import is_wildcard, parent_domain, try_normalise_name
from certdeploy.domain.text_enum import TextEnum


class ExclusionReason(TextEnum):
    OTHER_ACCOUNT = "other_account"
    HTTPS_DISABLED = "https_disabled"
    SM_NOT_SUPPORTED = "sm_not_supported"
    CERTIFICATE_NOT_VALID = "certificate_not_valid"
    NO_MATCH = "no_match"

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS: dict[ExclusionReason, str] = {
    ExclusionReason.OTHER_ACCOUNT: "the resource belongs to another account",
    ExclusionReason.HTTPS_DISABLED: "HTTPS is disabled on the resource",
    ExclusionReason.SM_NOT_SUPPORTED: "SM certificates deploy only to CDN, DCDN and Anti-DDoS",
    ExclusionReason.CERTIFICATE_NOT_VALID: "the certificate is expired or not yet valid at deployment time",
    ExclusionReason.NO_MATCH: "no name of the chosen certificates covers the resource's domain",
}


# Slotted frozen dataclasses, not pydantic models: a match builds up to one result per resource, and pydantic
# construction cost (~3 µs each) would dominate matching 100,000 resources.
@dataclass(frozen=True, slots=True)
class Assignment:
    """One worker: certificate `cert_id` goes onto resource `resource_id`."""

    resource_id: int
    product: Product
    cert_id: int
    exact: bool


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A resource left out, and why; `cert_id` is the certificate the reason is about, when there is one."""

    resource_id: int
    product: Product
    reason: ExclusionReason
    cert_id: int | None = None


@dataclass(frozen=True, slots=True)
class MatchResult:
    """Assignments and exclusions, each ordered by resource id; every resource given is in exactly one of them."""

    assignments: tuple[Assignment, ...]
    exclusions: tuple[Exclusion, ...]

    @property
    def matched_cert_ids(self) -> tuple[int, ...]:
        """Certificates that got at least one worker, ascending (the preview's CertCount is its length)."""
        return tuple(sorted({assignment.cert_id for assignment in self.assignments}))

    @property
    def matched_resource_ids(self) -> tuple[int, ...]:
        return tuple(assignment.resource_id for assignment in self.assignments)

    @property
    def workers_per_product(self) -> dict[Product, int]:
        """Worker count per product, for the products that have any."""
        return dict(Counter(assignment.product for assignment in self.assignments))


class _Refusal(NamedTuple):
    """Why the best-ranked covering certificate cannot be deployed, when no covering certificate can."""

    reason: ExclusionReason
    cert_id: int


# What one index entry means for one kind of product: the id of the best-ranked usable certificate, or a refusal.
_Outcome = int | _Refusal
# Per index entry: the outcome on products without SM support, then with it (indexed by that bool).
_Entry = tuple[_Outcome, _Outcome]


def _unusable_reason(certificate: Certificate, at: datetime, sm_supported: bool) -> ExclusionReason | None:
    if certificate.algorithm is CertAlgorithm.SM2 and not sm_supported:
        return ExclusionReason.SM_NOT_SUPPORTED
    if not certificate.is_valid_at(at):
        return ExclusionReason.CERTIFICATE_NOT_VALID
    return None


def _outcome(ranked: Sequence[Certificate], at: datetime, sm_supported: bool) -> _Outcome:
    best = ranked[0]
    best_reason = _unusable_reason(best, at, sm_supported)
    if best_reason is None:
        return best.id
    usable = next((cert.id for cert in ranked[1:] if _unusable_reason(cert, at, sm_supported) is None), None)
    return _Refusal(best_reason, best.id) if usable is None else usable


class _Index:
    """Covering certificates by exact name and by wildcard parent, each list already in rank order."""

    def __init__(self, certificates: Sequence[Certificate], at: datetime) -> None:
        # Two stable sorts give the rank within a tier: later NotAfter first, then lower id.
        ranked = sorted(certificates, key=attrgetter("id"))
        ranked.sort(key=attrgetter("not_after"), reverse=True)
        by_name: defaultdict[str, list[Certificate]] = defaultdict(list)
        by_wildcard_parent: defaultdict[str, list[Certificate]] = defaultdict(list)
        for certificate in ranked:
            for name in set(certificate.names):
                by_name[name].append(certificate)
                if is_wildcard(name):
                    by_wildcard_parent[name[2:]].append(certificate)
        self._exact = {name: self._entry(ranked_here, at) for name, ranked_here in by_name.items()}
        self._wildcard = {parent: self._entry(ranked_here, at) for parent, ranked_here in by_wildcard_parent.items()}
        self._by_domain: dict[str, tuple[_Entry | None, _Entry | None]] = {}

    @staticmethod
    def _entry(ranked: Sequence[Certificate], at: datetime) -> _Entry:
        return _outcome(ranked, at, sm_supported=False), _outcome(ranked, at, sm_supported=True)

    def lookup(self, raw_domain: str) -> tuple[_Entry | None, _Entry | None]:
        """(exact entry, wildcard entry) for a resource domain as stored. Memoised: normalising is most of the cost of
        a match, and one domain often appears on several products."""
        found = self._by_domain.get(raw_domain)
        if found is not None:
            return found
        domain = try_normalise_name(raw_domain)
        if domain is None:
            found = (None, None)
        elif is_wildcard(domain):
            # A wildcard resource domain is covered only by the same wildcard, listed as a name.
            found = (self._exact.get(domain), None)
        else:
            parent = parent_domain(domain)
            found = (self._exact.get(domain), None if parent is None else self._wildcard.get(parent))
        self._by_domain[raw_domain] = found
        return found


class Matchable(Protocol):
    """What matching reads of a resource: a `Resource`, or the few columns a store reads for matching alone."""

    @property
    def id(self) -> int: ...

    @property
    def account_id(self) -> int: ...

    @property
    def product(self) -> Product: ...

    @property
    def domain(self) -> str: ...

    @property
    def https_enabled(self) -> bool: ...


def _require_unique_ids(kind: str, ids: Iterable[int]) -> None:
    duplicated = sorted(identifier for identifier, count in Counter(ids).items() if count > 1)
    if duplicated:
        raise ValueError(f"{kind} ids must be unique; repeated: {duplicated}")


def match(
    certificates: Sequence[Certificate],
    resources: Sequence[Matchable],
    at: datetime,
    account_id: int | None = None,
) -> MatchResult:
    """Match `certificates` to `resources` as of `at` (the run time: now, or the job's ScheduleTime).

    With `account_id`, resources of other accounts are excluded. Certificates' `names` must be normalised (they are
    when parsed); resource domains are normalised here. Raises ValueError for a naive `at` or repeated ids.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("at must be timezone-aware")
    _require_unique_ids("certificate", (certificate.id for certificate in certificates))
    _require_unique_ids("resource", (resource.id for resource in resources))
    index = _Index(certificates, at)
    assignments: list[Assignment] = []
    exclusions: list[Exclusion] = []
    for resource in sorted(resources, key=attrgetter("id")):
        resource_id = resource.id
        product = resource.product
        if account_id is not None and resource.account_id != account_id:
            exclusions.append(Exclusion(resource_id, product, ExclusionReason.OTHER_ACCOUNT))
            continue
        if not resource.https_enabled:
            exclusions.append(Exclusion(resource_id, product, ExclusionReason.HTTPS_DISABLED))
            continue
        exact_entry, wildcard_entry = index.lookup(resource.domain)
        sm_supported = product in SM_PRODUCTS
        exact = None if exact_entry is None else exact_entry[sm_supported]
        wildcard = None if wildcard_entry is None else wildcard_entry[sm_supported]
        # Ranking: every exact-name certificate before every wildcard one.
        if isinstance(exact, int):
            assignments.append(Assignment(resource_id, product, exact, True))
        elif isinstance(wildcard, int):
            assignments.append(Assignment(resource_id, product, wildcard, False))
        elif exact is not None:
            exclusions.append(Exclusion(resource_id, product, exact.reason, exact.cert_id))
        elif wildcard is not None:
            exclusions.append(Exclusion(resource_id, product, wildcard.reason, wildcard.cert_id))
        else:
            exclusions.append(Exclusion(resource_id, product, ExclusionReason.NO_MATCH))
    return MatchResult(tuple(assignments), tuple(exclusions))
