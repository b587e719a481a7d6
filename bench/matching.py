"""Certificate → resource matching: the indexed matcher on 100,000 resources × 1,000 certificates, against the
pairwise reference measured on a slice and scaled linearly.

The reference lives in `tests/unit/matching_reference.py`, next to the property test that checks the two agree; it is
imported from there (`tests` is a package at the repository root, and `python -m bench` runs from the root) so that
test-only code never enters the production package.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from tests.unit.matching_reference import reference_match

from certdeploy.domain.matching import match
from certdeploy.domain.models import CertAlgorithm, Certificate, CertOrigin, Product, Resource

CERTIFICATE_COUNT = 1_000
RESOURCE_COUNT = 100_000
REFERENCE_SLICE = 2_000
INDEX_RUNS = 5
REFERENCE_RUNS = 2
ZONE_COUNT = 400
ACCOUNT_ID = 1
SEED = 20250601
AT = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)


def _zones() -> list[str]:
    return [f"shop{zone}.brand{zone % 60}.com" for zone in range(ZONE_COUNT)]


def _certificate(cert_id: int, names: list[str], rng: random.Random) -> Certificate:
    roll = rng.random()
    # About 3% expired and 1% not yet valid at run time; NotAfter in whole days, so ties happen.
    if roll < 0.03:
        not_before, not_after = AT - timedelta(days=400), AT - timedelta(days=rng.randint(1, 30))
    elif roll < 0.04:
        not_before, not_after = AT + timedelta(days=1), AT + timedelta(days=365)
    else:
        not_before, not_after = AT - timedelta(days=rng.randint(1, 300)), AT + timedelta(days=rng.randint(1, 300))
    return Certificate(
        id=cert_id,
        account_id=ACCOUNT_ID,
        name=f"cert-{cert_id}",
        origin=CertOrigin.UPLOAD,
        cert_pem="benchmark: not parsed",
        common_name=names[0],
        sans=tuple(names),
        names=tuple(names),
        not_before=not_before,
        not_after=not_after,
        serial=f"{cert_id:x}",
        fingerprint_sha256=f"{cert_id:064x}",
        issuer="CN=Benchmark CA",
        algorithm=CertAlgorithm.SM2 if rng.random() < 0.02 else rng.choice([CertAlgorithm.RSA, CertAlgorithm.ECC]),
    )


def generate_certificates(rng: random.Random) -> list[Certificate]:
    """Half single host names, 30% `*.zone` + `zone`, 20% multi-domain (2–6 hosts, sometimes a wildcard)."""
    zones = _zones()
    certificates = []
    for cert_id in range(1, CERTIFICATE_COUNT + 1):
        zone = rng.choice(zones)
        kind = rng.random()
        if kind < 0.5:
            names = [f"h{rng.randrange(100)}.{zone}"]
        elif kind < 0.8:
            names = [f"*.{zone}", zone]
        else:
            names = list({f"h{rng.randrange(100)}.{rng.choice(zones)}" for _ in range(rng.randint(2, 6))})
            if rng.random() < 0.3:
                names.append(f"*.{zone}")
        certificates.append(_certificate(cert_id, names, rng))
    return certificates


def _resource_domain(rng: random.Random, zones: list[str]) -> str:
    zone = rng.choice(zones)
    kind = rng.random()
    if kind < 0.45:
        domain = f"h{rng.randrange(100)}.{zone}"  # the host names certificates list
    elif kind < 0.80:
        domain = f"r{rng.randrange(200)}.{zone}"  # covered only where the zone has a wildcard certificate
    elif kind < 0.88:
        domain = zone
    elif kind < 0.92:
        domain = f"a.r{rng.randrange(200)}.{zone}"  # two labels below the zone: no wildcard covers it
    elif kind < 0.94:
        domain = f"*.{zone}"
    else:
        domain = f"site{rng.randrange(5_000)}.other{rng.randrange(300)}.net"
    spelling = rng.random()
    if spelling < 0.02:
        return domain.upper()
    if spelling < 0.04:
        return domain + "."
    return domain


def generate_resources(rng: random.Random) -> list[Resource]:
    """Resources across all twelve products; 5% with HTTPS disabled, 1% of another account."""
    zones = _zones()
    products = list(Product)
    return [
        Resource(
            id=resource_id,
            account_id=ACCOUNT_ID if rng.random() >= 0.01 else ACCOUNT_ID + 1,
            product=rng.choice(products),
            region="cn-hangzhou",
            instance_id=f"i-{resource_id}",
            domain=_resource_domain(rng, zones),
            https_enabled=rng.random() >= 0.05,
        )
        for resource_id in range(1, RESOURCE_COUNT + 1)
    ]


def _best_seconds(runs: int, function: Callable[[], object]) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return min(timings)


def run() -> dict[str, object]:
    rng = random.Random(SEED)
    certificates = generate_certificates(rng)
    resources = generate_resources(rng)
    reference_slice = resources[:REFERENCE_SLICE]

    result = match(certificates, resources, AT, ACCOUNT_ID)
    agrees = match(certificates, reference_slice, AT, ACCOUNT_ID) == reference_match(
        certificates, reference_slice, AT, ACCOUNT_ID
    )
    index_seconds = _best_seconds(INDEX_RUNS, lambda: match(certificates, resources, AT, ACCOUNT_ID))
    reference_slice_seconds = _best_seconds(
        REFERENCE_RUNS, lambda: reference_match(certificates, reference_slice, AT, ACCOUNT_ID)
    )
    scale = RESOURCE_COUNT / REFERENCE_SLICE
    reference_seconds = reference_slice_seconds * scale
    return {
        "certificates": CERTIFICATE_COUNT,
        "resources": RESOURCE_COUNT,
        "index_seconds": index_seconds,
        "index_timing": f"best of {INDEX_RUNS} runs over all resources",
        "reference_seconds_on_slice": reference_slice_seconds,
        "reference_seconds_scaled": reference_seconds,
        "reference_timing": (
            f"best of {REFERENCE_RUNS} runs on the first {REFERENCE_SLICE:,} resources × all "
            f"{CERTIFICATE_COUNT:,} certificates, × {scale:g} (the pairwise loop is linear in resources)"
        ),
        "ratio_reference_over_index": reference_seconds / index_seconds,
        "index_agrees_with_reference_on_slice": agrees,
        "workers": len(result.assignments),
        "matched_certificates": len(result.matched_cert_ids),
        "exclusions": {str(reason): count for reason, count in Counter(e.reason for e in result.exclusions).items()},
    }
