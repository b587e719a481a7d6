"""Certificates: upload (checked and parsed), list, show, delete; and the event that a certificate was issued.

Uploading raises the "certificate issued" event through the certificate_issued queue, as EventBridge does for
CAS in the cloud, so hosted accounts get their renewals deployed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from certdeploy.app.deps import Deps
from certdeploy.app.hosting import certificate_issued_event
from certdeploy.app.unit_of_work import Step, run_step
from certdeploy.domain.errors import CertificateError, DomainError, InvalidParameter, InvalidStatus
from certdeploy.domain.models import (
    MAX_CERTIFICATE_TAGS,
    CertAlgorithm,
    Certificate,
    CertificateInfo,
    CertificateTag,
    CertOrigin,
)
from certdeploy.domain.states import JOB_FINISHED, JobStatus
from certdeploy.ports.store.certificates import EncryptionPair
from certdeploy.ports.store.errors import AlreadyExists


class CertificateUpload(BaseModel):
    """UploadUserCertificate. `cert`/`key` for RSA/ECC; the SM pairs otherwise (ignored when cert and key are given):
    the signing pair, and optionally the encryption pair SM2 TLS uses beside it."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    name: str = Field(min_length=1, max_length=63)
    cert: str | None = None
    key: SecretStr | None = None
    sign_cert: str | None = None
    sign_private_key: SecretStr | None = None
    encrypt_cert: str | None = None
    encrypt_private_key: SecretStr | None = None
    tags: tuple[CertificateTag, ...] = Field((), max_length=MAX_CERTIFICATE_TAGS)


def _pair(upload: CertificateUpload) -> tuple[str, str]:
    if upload.cert and upload.key:
        return upload.cert, upload.key.get_secret_value()
    if upload.sign_cert and upload.sign_private_key:
        return upload.sign_cert, upload.sign_private_key.get_secret_value()
    raise InvalidParameter(
        "Cert", "Give Cert and Key (RSA/ECC), or SignCert and SignPrivateKey (SM) with the certificate and its key."
    )


def _encryption_pair(upload: CertificateUpload) -> EncryptionPair | None:
    if upload.cert and upload.key:
        return None
    if bool(upload.encrypt_cert) != bool(upload.encrypt_private_key):
        raise InvalidParameter("EncryptCert", "EncryptCert and EncryptPrivateKey go together.")
    if upload.encrypt_cert and upload.encrypt_private_key:
        return EncryptionPair(
            cert_pem=upload.encrypt_cert, private_key_pem=upload.encrypt_private_key.get_secret_value()
        )
    return None


def _check_encryption_pair(pair: EncryptionPair, signing: CertificateInfo, now: datetime) -> None:
    """An encryption pair goes with an SM2 signing certificate, and is itself an SM2 certificate with its key."""
    if signing.algorithm is not CertAlgorithm.SM2:
        raise InvalidParameter("EncryptCert", "An encryption certificate goes only with an SM2 signing certificate.")
    from certdeploy.domain.certificates import check_key_matches, ensure_not_expired, parse_certificate

    try:
        info = parse_certificate(pair.cert_pem)
        if info.algorithm is not CertAlgorithm.SM2:
            raise InvalidParameter("EncryptCert", f"The encryption certificate is {info.algorithm}, not SM2.")
        check_key_matches(pair.cert_pem, pair.private_key_pem)
        ensure_not_expired(info, now)
    except CertificateError as error:
        # The checks speak of "the certificate"; say which one.
        raise DomainError(f"EncryptCert/EncryptPrivateKey: {error.message}", code=error.code) from error


def add_certificate(
    deps: Deps,
    account_id: int,
    *,
    name: str,
    origin: CertOrigin,
    cert_pem: str,
    key_pem: str,
    tags: Sequence[CertificateTag] = (),
    encryption_pair: EncryptionPair | None = None,
) -> Certificate:
    """Check, parse and store a certificate with its key (and an SM2 certificate's encryption pair, if given); then
    raise the certificate-issued event."""
    # Imported here, not with the module: X.509 parsing (cryptography, asn1crypto) is an upload's, and the API
    # function's cold start should not pay for it on every other call.
    from certdeploy.domain.certificates import check_key_matches, ensure_not_expired, parse_certificate

    info = parse_certificate(cert_pem)
    check_key_matches(cert_pem, key_pem)
    ensure_not_expired(info, deps.clock.now())
    if encryption_pair is not None:
        _check_encryption_pair(encryption_pair, info, deps.clock.now())

    def step(unit: Step) -> Certificate:
        try:
            cert = unit.ops.certificates.add(
                account_id,
                name=name,
                origin=origin,
                info=info,
                cert_pem=cert_pem,
                private_key_pem=key_pem,
                tags=tags,
                encryption_pair=encryption_pair,
            )
        except AlreadyExists as exc:
            raise DomainError(f"A certificate named '{name}' already exists.", code="NameAlreadyExist") from exc
        unit.send(certificate_issued_event(deps, cert))
        return cert

    return run_step(deps, step)


def upload_certificate(deps: Deps, account_id: int, upload: CertificateUpload) -> Certificate:
    cert_pem, key_pem = _pair(upload)
    return add_certificate(
        deps,
        account_id,
        name=upload.name,
        origin=CertOrigin.UPLOAD,
        cert_pem=cert_pem,
        key_pem=key_pem,
        tags=upload.tags,
        encryption_pair=_encryption_pair(upload),
    )


def delete_certificate(deps: Deps, account_id: int, cert_id: int) -> None:
    """DeleteUserCertificate: refused while a job that has not finished would deploy it."""

    def step(unit: Step) -> None:
        ops = unit.ops
        ops.certificates.get(account_id, cert_id)
        for status in JobStatus:
            if status in JOB_FINISHED:
                continue
            page = 1
            while True:
                jobs = ops.jobs.search(account_id, status=status, page=page, page_size=500)
                for job in jobs.items:
                    if cert_id in job.cert_ids:
                        raise InvalidStatus(
                            f"Certificate {cert_id} is in job {job.id} ('{job.status}'); "
                            "delete or finish the job first."
                        )
                if page * 500 >= jobs.total:
                    break
                page += 1
        ops.certificates.delete(account_id, cert_id)

    run_step(deps, step)
