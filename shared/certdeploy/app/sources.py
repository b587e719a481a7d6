"""Certificates from the cloud's certificate source (CAS): mirrored into the account the source describes, keyed by
their CAS CertId, their content fetched the first time a deployment needs it and kept in the store from then on.

Rules (docs/decisions.md#cas-certificates-and-resources):
- Every certificate CAS lists becomes one of ours once: an official one with origin `buy` (`free` when CAS says so),
  one uploaded to CAS with origin `upload` (so it consumes deployment quota, as an upload here does). Its names come
  from the listed `CommonName` and `Sans`, its validity from the listed dates; PEM and key stay empty until a
  deployment to a product that takes PEM (FC, API Gateway) needs them. Products that bind by CAS id never need them.
- A CAS certificate never changes under its CertId (a renewal is a new certificate with a new id), so one mirrored
  already is not rewritten by later syncs. One that leaves the listing (deleted in CAS, or expired: CAS lists the
  valid ones) stays here as it is: jobs may refer to it, matching skips it once expired, and deploying one that was
  deleted from CAS fails with CAS's own cause.
- A newly mirrored certificate raises the certificate-issued event, as an upload does, so hosted accounts get their
  renewals deployed. A name the account uses already gets the CAS id appended.
"""

from __future__ import annotations

import logging

from certdeploy.app.deps import Deps
from certdeploy.app.hosting import certificate_issued_event
from certdeploy.app.unit_of_work import Step, run_step
from certdeploy.domain.deployment import PermanentDeployFailure
from certdeploy.domain.errors import NotFound
from certdeploy.domain.models import CertAlgorithm, Certificate, CertificateInfo, CertOrigin
from certdeploy.domain.names import covered_names
from certdeploy.ports.cloud import SourceCertificate
from certdeploy.ports.store.accounts import Account
from certdeploy.ports.store.errors import AlreadyExists

log = logging.getLogger(__name__)

_MAX_NAME_LENGTH = 128


def source_accounts(deps: Deps) -> list[Account]:
    """The accounts whose certificates and resources the sources describe: the one named `deps.source_account`, or
    every account when the sources answer for each (the local cloud)."""
    if deps.source_account is None:
        return deps.store.accounts.all()
    try:
        return [deps.store.accounts.find(deps.source_account)]
    except NotFound:
        log.warning(
            "no account named %r to mirror the cloud's certificates and resources into; create it "
            "(certdeploy account create %s) or set CERTDEPLOY_CAS_ACCOUNT",
            deps.source_account,
            deps.source_account,
        )
        return []


def listed_info(listed: SourceCertificate) -> CertificateInfo | None:
    """What the listing says of a certificate, as parsed facts; None when it names no host or has no dates.

    Serial and fingerprint stay empty when CAS does not list them, and the algorithm is RSA when CAS does not say:
    the content replaces all of them once it is fetched."""
    names = covered_names(listed.sans, listed.common_name)
    if not names or listed.not_before is None or listed.not_after is None:
        return None
    return CertificateInfo(
        common_name=listed.common_name,
        sans=listed.sans,
        names=names,
        not_before=listed.not_before,
        not_after=listed.not_after,
        serial=listed.serial or "",
        fingerprint_sha256=listed.fingerprint_sha256 or "",
        issuer=listed.issuer or "",
        algorithm=listed.algorithm or CertAlgorithm.RSA,
    )


def _origin(listed: SourceCertificate) -> CertOrigin:
    if listed.uploaded:
        return CertOrigin.UPLOAD
    return CertOrigin.FREE if listed.free else CertOrigin.BUY


def _names_to_try(listed: SourceCertificate) -> tuple[str, str]:
    suffix = f"-{listed.cas_cert_id}"
    return listed.name[:_MAX_NAME_LENGTH], listed.name[: _MAX_NAME_LENGTH - len(suffix)] + suffix


def _mirror(deps: Deps, account_id: int, listed: SourceCertificate, info: CertificateInfo) -> bool:
    """Add one listed certificate with its issued event; False when a concurrent sync added it first."""
    for name in _names_to_try(listed):

        def step(unit: Step, name: str = name) -> None:
            cert = unit.ops.certificates.add(
                account_id,
                name=name,
                origin=_origin(listed),
                info=info,
                cert_pem="",
                private_key_pem=None,
                cas_cert_id=listed.cas_cert_id,
            )
            unit.send(certificate_issued_event(deps, cert))

        try:
            run_step(deps, step)
        except AlreadyExists:
            if deps.store.certificates.by_cas_ids(account_id, [listed.cas_cert_id]):
                return False
            continue
        return True
    log.warning("CAS certificate %s: the names %s are taken in account %s", listed.cas_cert_id, listed.name, account_id)
    return False


def sync_certificates(deps: Deps, account_id: int) -> int:
    """Mirror the certificate source's certificates into the account; returns how many were new."""
    source = deps.certificate_source
    if source is None:
        return 0
    listed = [entry for entry in source.list_certificates() if not entry.expired]
    known = deps.store.certificates.by_cas_ids(account_id, [entry.cas_cert_id for entry in listed])
    mirrored = {cert.cas_cert_id for cert in known}
    added = 0
    for entry in listed:
        if entry.cas_cert_id in mirrored:
            continue
        info = listed_info(entry)
        if info is None:
            log.warning("CAS certificate %s lists no host name or no dates; it is not mirrored", entry.cas_cert_id)
            continue
        added += _mirror(deps, account_id, entry, info)
        mirrored.add(entry.cas_cert_id)
    return added


def certificate_with_content(deps: Deps, cert: Certificate) -> Certificate:
    """`cert` with its PEM: a CAS certificate whose content was never needed gets it from the source now (GetUser-
    CertificateDetail), kept in the store with its key encrypted, and the exact facts of its PEM."""
    if cert.has_pem or cert.cas_cert_id is None:
        return cert
    if deps.certificate_source is None:
        raise PermanentDeployFailure(
            "CertificateContentUnavailable",
            f"Certificate '{cert.name}' ({cert.id}) is kept in CAS and no CAS source is configured to read it.",
        )
    content = deps.certificate_source.certificate(cert.cas_cert_id)
    return deps.store.certificates.fill_content(
        cert.account_id,
        cert.id,
        info=content.info,
        cert_pem=content.cert_pem,
        private_key_pem=content.key_pem.get_secret_value() if content.key_pem is not None else None,
    )


def cas_identifier(deps: Deps, cert: Certificate) -> str | None:
    """CAS's `CertIdentifier` of a CAS certificate (GetUserCertificateDetail, cached by the source); None for a
    certificate outside CAS or without a CAS source."""
    if cert.cas_cert_id is None or deps.certificate_source is None:
        return None
    return deps.certificate_source.certificate(cert.cas_cert_id).identifier
