"""Certificates; private keys sealed under a context naming their account and fingerprint."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Row, Text, delete, insert, or_, select, type_coerce, update

from certdeploy.adapters.sql.repository import SqlRepository
from certdeploy.adapters.sql.schema import certificates
from certdeploy.domain.errors import NotFound, Thing
from certdeploy.domain.models import CertAlgorithm, Certificate, CertificateInfo, CertificateTag, CertOrigin
from certdeploy.ports.store.certificates import EncryptionPair
from certdeploy.ports.store.paging import Page


def _private_key_context(account_id: int, fingerprint: str) -> str:
    return f"certdeploy:private-key:{account_id}:{fingerprint}"


def _encrypt_private_key_context(account_id: int, fingerprint: str) -> str:
    # Its own label: the signing key's ciphertext cannot be passed off as the encryption key's, nor the reverse.
    return f"certdeploy:encrypt-private-key:{account_id}:{fingerprint}"


def _certificate(row: Row[Any]) -> Certificate:
    return Certificate(
        id=row.id,
        account_id=row.account_id,
        name=row.name,
        origin=CertOrigin(row.origin),
        common_name=row.common_name,
        sans=tuple(row.sans),
        names=tuple(row.names),
        not_before=row.not_before,
        not_after=row.not_after,
        serial=row.serial,
        fingerprint_sha256=row.fingerprint_sha256,
        issuer=row.issuer,
        issuer_common_name=row.issuer_common_name,
        algorithm=CertAlgorithm(row.algorithm),
        chain_length=row.chain_length,
        cert_pem=row.cert_pem,
        created_at=row.created_at,
        cas_cert_id=row.cas_cert_id,
        tags=tuple(CertificateTag(**tag) for tag in row.tags),
    )


class SqlCertificates(SqlRepository):
    """The `Certificates` port."""

    def add(
        self,
        account_id: int,
        *,
        name: str,
        origin: CertOrigin,
        info: CertificateInfo,
        cert_pem: str,
        private_key_pem: str | None,
        cas_cert_id: int | None = None,
        tags: Sequence[CertificateTag] = (),
        encryption_pair: EncryptionPair | None = None,
    ) -> Certificate:
        if encryption_pair is not None and private_key_pem is None:
            raise ValueError("An encryption pair is kept only beside a signing certificate and its key.")
        # Built first so the model's limits (name length, …) hold before anything is written, on every database.
        cert = Certificate(
            id=0,
            account_id=account_id,
            name=name,
            origin=origin,
            cert_pem=cert_pem,
            created_at=self._now(),
            cas_cert_id=cas_cert_id,
            tags=tuple(tags),
            **dict(info),
        )
        values = {
            **cert.model_dump(exclude={"id"}),
            "origin": str(origin),
            "algorithm": str(info.algorithm),
            "private_key_sealed": self._sealed_private_key(account_id, info, private_key_pem),
            "encrypt_cert_pem": None if encryption_pair is None else encryption_pair.cert_pem,
            "encrypt_private_key_sealed": self._sealed_encryption_key(account_id, info, encryption_pair),
        }
        conflict = f"A certificate named '{name}' exists." + (
            "" if cas_cert_id is None else f" (or one mirroring CAS certificate {cas_cert_id})"
        )
        with self._connection(write=True) as conn:
            self._require_account(conn, account_id)
            result = self._insert_unique(conn, insert(certificates).values(values), conflict)
        return cert.model_copy(update={"id": result.inserted_primary_key[0]})

    def by_cas_ids(self, account_id: int, cas_cert_ids: Collection[int]) -> list[Certificate]:
        return [
            _certificate(row)
            for row in self._owned_rows(certificates, certificates.c.cas_cert_id, account_id, cas_cert_ids)
        ]

    def fill_content(
        self, account_id: int, cert_id: int, *, info: CertificateInfo, cert_pem: str, private_key_pem: str | None
    ) -> Certificate:
        if not cert_pem:
            raise ValueError("A certificate's content cannot be empty.")
        # The key is sealed under the fingerprint written with it, so it opens with the row's new fingerprint.
        values = {
            **info.model_dump(),
            "algorithm": str(info.algorithm),
            "cert_pem": cert_pem,
            "private_key_sealed": self._sealed_private_key(account_id, info, private_key_pem),
        }
        mine = (certificates.c.id == cert_id, certificates.c.account_id == account_id)
        with self._connection(write=True) as conn:
            conn.execute(update(certificates).where(*mine, certificates.c.cert_pem == "").values(values))
            row = conn.execute(select(certificates).where(*mine)).one_or_none()
        if row is None:
            raise NotFound.of(Thing.CERTIFICATE, cert_id)
        return _certificate(row)

    def get(self, account_id: int, cert_id: int) -> Certificate:
        with self._connection(write=False) as conn:
            row = conn.execute(
                select(certificates).where(certificates.c.id == cert_id, certificates.c.account_id == account_id)
            ).one_or_none()
        if row is None:
            raise NotFound.of(Thing.CERTIFICATE, cert_id)
        return _certificate(row)

    def get_many(self, account_id: int, cert_ids: Collection[int]) -> list[Certificate]:
        return [_certificate(row) for row in self._owned_rows(certificates, certificates.c.id, account_id, cert_ids)]

    def search(
        self,
        account_id: int,
        *,
        origin: CertOrigin | None = None,
        keyword: str | None = None,
        page: int = 1,
        page_size: int = 50,
    ) -> Page[Certificate]:
        query = select(certificates).where(certificates.c.account_id == account_id)
        if origin is not None:
            query = query.where(certificates.c.origin == str(origin))
        if keyword:
            query = query.where(
                or_(
                    certificates.c.name.icontains(keyword, autoescape=True),
                    type_coerce(certificates.c.names, Text).icontains(keyword, autoescape=True),
                )
            )
        with self._connection(write=False) as conn:
            total, rows = self._page(conn, query, [certificates.c.id.desc()], page, page_size)
        return Page(items=[_certificate(row) for row in rows], total=total)

    def private_key(self, account_id: int, cert_id: int) -> str | None:
        with self._connection(write=False) as conn:
            row = conn.execute(
                select(certificates.c.private_key_sealed, certificates.c.fingerprint_sha256).where(
                    certificates.c.id == cert_id, certificates.c.account_id == account_id
                )
            ).one_or_none()
        if row is None:
            raise NotFound.of(Thing.CERTIFICATE, cert_id)
        if row.private_key_sealed is None:
            return None
        return self._cipher.open(row.private_key_sealed, _private_key_context(account_id, row.fingerprint_sha256))

    def encryption_pair(self, account_id: int, cert_id: int) -> EncryptionPair | None:
        columns = (certificates.c.encrypt_cert_pem, certificates.c.encrypt_private_key_sealed)
        query = select(*columns, certificates.c.fingerprint_sha256).where(
            certificates.c.id == cert_id, certificates.c.account_id == account_id
        )
        with self._connection(write=False) as conn:
            row = conn.execute(query).one_or_none()
        if row is None:
            raise NotFound.of(Thing.CERTIFICATE, cert_id)
        if row.encrypt_cert_pem is None:
            return None
        context = _encrypt_private_key_context(account_id, row.fingerprint_sha256)
        return EncryptionPair(
            cert_pem=row.encrypt_cert_pem, private_key_pem=self._cipher.open(row.encrypt_private_key_sealed, context)
        )

    def delete(self, account_id: int, cert_id: int) -> None:
        with self._connection(write=True) as conn:
            result = conn.execute(
                delete(certificates).where(certificates.c.id == cert_id, certificates.c.account_id == account_id)
            )
        if result.rowcount == 0:
            raise NotFound.of(Thing.CERTIFICATE, cert_id)

    def _sealed_private_key(self, account_id: int, info: CertificateInfo, private_key_pem: str | None) -> bytes | None:
        if private_key_pem is None:
            return None
        return self._cipher.seal(private_key_pem, _private_key_context(account_id, info.fingerprint_sha256))

    def _sealed_encryption_key(
        self, account_id: int, info: CertificateInfo, encryption_pair: EncryptionPair | None
    ) -> bytes | None:
        if encryption_pair is None:
            return None
        context = _encrypt_private_key_context(account_id, info.fingerprint_sha256)
        return self._cipher.seal(encryption_pair.private_key_pem, context)
