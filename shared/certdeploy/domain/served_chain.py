"""Judging a served chain against the job's certificate (docs/verification.md).

A check reads the chain a resource serves for a name (TLS with SNI) and judges it against the worker's certificate:
- `verified`: the served leaf is the job's certificate (same SHA-256 fingerprint of the DER) and the served chain
  validates to that certificate's issuer: every served certificate's signature verifies with the public key of the
  next one, the leaf's issuer is served (unless the leaf is self-signed), and when the job's own chain names the
  issuer, the served issuer is that certificate. A certificate uploaded without its chain and served alone is what
  was deployed: `verified`, with a note that only the leaf was compared. SM2 signatures cannot be verified with
  `cryptography`; for them the links are checked by name, as at upload.
- `mismatch`: something else is served (its fingerprint, subject and expiry are kept), or the chain does not validate;
- `unreachable`: no TLS handshake (the error is kept); `skipped`: nothing to check (the reason is kept).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes

from certdeploy.domain.verification import Judgement, ServedCertificate, VerifyStatus

_NO_CHAIN = "the certificate was deployed without its issuer (uploaded alone), so only the leaf was compared"


def fingerprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex()


def _served(certificate: x509.Certificate) -> ServedCertificate:
    return ServedCertificate(
        fingerprint_sha256=fingerprint(certificate),
        subject=certificate.subject.rfc4514_string(),
        not_after=certificate.not_valid_after_utc,
    )


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    if child.issuer != parent.subject:
        return False
    try:
        child.verify_directly_issued_by(parent)
    except UnsupportedAlgorithm:
        return True  # SM2: the name link above is all `cryptography` can check
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def _chain_problem(served: list[x509.Certificate], expected: list[x509.Certificate]) -> str | None:
    leaf = served[0]
    for position, (child, parent) in enumerate(pairwise(served), start=1):
        if not _issued_by(child, parent):
            return f"served certificate {position + 1} did not issue certificate {position}"
    if leaf.issuer == leaf.subject:
        return None if _issued_by(leaf, leaf) else "the self-signed leaf's signature does not verify"
    if len(served) == 1:
        return f"the issuer ({leaf.issuer.rfc4514_string()}) is not served: incomplete chain"
    if len(expected) == 1:
        return None  # the served issuer signed the leaf; the job's PEM names no issuer to compare it with
    if len(expected) > 1 and fingerprint(served[1]) != fingerprint(expected[1]):
        return "the served issuer is not the certificate's issuer"
    return None


def judge(served_der: Sequence[bytes], expected_pem: str) -> Judgement:
    """Judge a served chain (DER, leaf first) against the job's certificate chain (PEM, leaf first)."""
    if not served_der:
        return Judgement(status=VerifyStatus.UNREACHABLE, detail="the server sent no certificate")
    try:
        served = [x509.load_der_x509_certificate(der) for der in served_der]
    except ValueError as exc:
        return Judgement(status=VerifyStatus.MISMATCH, detail=f"the server sent an unreadable certificate: {exc}")
    expected = x509.load_pem_x509_certificates(expected_pem.encode())
    if fingerprint(served[0]) != fingerprint(expected[0]):
        return Judgement(
            status=VerifyStatus.MISMATCH, detail="another certificate is served", served=_served(served[0])
        )
    if len(served) == 1 and len(expected) == 1 and served[0].issuer != served[0].subject:
        # Served exactly as deployed: the certificate was uploaded without its chain, so none can be checked.
        return Judgement(status=VerifyStatus.VERIFIED, detail=_NO_CHAIN)
    problem = _chain_problem(served, expected)
    if problem is not None:
        return Judgement(status=VerifyStatus.MISMATCH, detail=problem, served=_served(served[0]))
    return Judgement(status=VerifyStatus.VERIFIED)
