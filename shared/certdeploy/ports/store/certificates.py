"""Certificates of an account: their parsed facts, PEM and encrypted private keys."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from certdeploy.domain.models import Certificate, CertificateInfo, CertificateTag, CertOrigin
from certdeploy.ports.store.paging import Page


@dataclass(frozen=True)
class EncryptionPair:
    """The encryption certificate and key an SM2 certificate may have beside its signing pair (SM2 TLS uses both)."""

    cert_pem: str
    private_key_pem: str = field(repr=False)


class Certificates(Protocol):
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
        """The private keys are stored encrypted. Raises `AlreadyExists` if the account has a certificate of that name,
        or one with that `cas_cert_id`. A CAS certificate may come without content yet: `cert_pem` "" and no key."""
        ...

    def by_cas_ids(self, account_id: int, cas_cert_ids: Collection[int]) -> list[Certificate]:
        """The account's certificates mirrored from CAS with one of `cas_cert_ids`, by id."""
        ...

    def fill_content(
        self, account_id: int, cert_id: int, *, info: CertificateInfo, cert_pem: str, private_key_pem: str | None
    ) -> Certificate:
        """Store the content of a certificate that has none yet (PEM, parsed facts, key encrypted); returns the
        certificate as stored. A certificate that has its content already keeps it (the first fill wins)."""
        ...

    def get(self, account_id: int, cert_id: int) -> Certificate: ...

    def get_many(self, account_id: int, cert_ids: Collection[int]) -> list[Certificate]:
        """The account's certificates among `cert_ids`, by id; ids it does not own are simply absent."""
        ...

    def search(
        self,
        account_id: int,
        *,
        origin: CertOrigin | None = None,
        keyword: str | None = None,
        page: int = 1,
        page_size: int = 50,
    ) -> Page[Certificate]:
        """Newest first. `keyword` matches the name or any covered domain, case-insensitively."""
        ...

    def private_key(self, account_id: int, cert_id: int) -> str | None:
        """The decrypted PEM key (None for official certificates). Raises `KeyDecryptionFailed` on a wrong key."""
        ...

    def encryption_pair(self, account_id: int, cert_id: int) -> EncryptionPair | None:
        """The SM2 encryption certificate and its decrypted key, if it was uploaded with one. Raises `NotFound`."""
        ...

    def delete(self, account_id: int, cert_id: int) -> None: ...
