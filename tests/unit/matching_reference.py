"""The obvious pairwise matcher: every certificate name against every resource, O(certificates × resources).

It states the rules of `certdeploy.domain.matching` as plainly as possible, so property tests can check the indexed
matcher against it and the benchmark can show what the index saves. Never use it in production code.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from certdeploy.domain.matching import Assignment, Exclusion, ExclusionReason, MatchResult
from certdeploy.domain.models import SM_PRODUCTS, CertAlgorithm, Certificate, Resource
from certdeploy.domain.names import covers, try_normalise_name


def _why_unusable(certificate: Certificate, resource: Resource, at: datetime) -> ExclusionReason | None:
    if certificate.algorithm is CertAlgorithm.SM2 and resource.product not in SM_PRODUCTS:
        return ExclusionReason.SM_NOT_SUPPORTED
    if not certificate.not_before <= at <= certificate.not_after:
        return ExclusionReason.CERTIFICATE_NOT_VALID
    return None


def reference_match(
    certificates: Sequence[Certificate],
    resources: Sequence[Resource],
    at: datetime,
    account_id: int | None = None,
) -> MatchResult:
    assignments: list[Assignment] = []
    exclusions: list[Exclusion] = []
    for resource in sorted(resources, key=lambda resource: resource.id):
        if account_id is not None and resource.account_id != account_id:
            exclusions.append(Exclusion(resource.id, resource.product, ExclusionReason.OTHER_ACCOUNT))
            continue
        if not resource.https_enabled:
            exclusions.append(Exclusion(resource.id, resource.product, ExclusionReason.HTTPS_DISABLED))
            continue
        domain = try_normalise_name(resource.domain)
        covering = [
            (certificate, domain in certificate.names)
            for certificate in certificates
            if domain is not None and any(covers(name, domain) for name in certificate.names)
        ]
        # Stable sorts, least significant key first: lower id, then later NotAfter, then exact before wildcard.
        covering.sort(key=lambda pair: pair[0].id)
        covering.sort(key=lambda pair: pair[0].not_after, reverse=True)
        covering.sort(key=lambda pair: not pair[1])
        usable = [
            (certificate, exact) for certificate, exact in covering if _why_unusable(certificate, resource, at) is None
        ]
        if usable:
            certificate, exact = usable[0]
            assignments.append(Assignment(resource.id, resource.product, certificate.id, exact))
        elif covering:
            best = covering[0][0]
            reason = _why_unusable(best, resource, at)
            assert reason is not None
            exclusions.append(Exclusion(resource.id, resource.product, reason, best.id))
        else:
            exclusions.append(Exclusion(resource.id, resource.product, ExclusionReason.NO_MATCH))
    return MatchResult(tuple(assignments), tuple(exclusions))
