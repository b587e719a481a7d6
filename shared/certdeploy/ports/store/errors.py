"""Failures every repository of the store reports, besides the domain's `NotFound`, `InvalidStatus` and
`QuotaExceeded`."""

from __future__ import annotations


class StoreError(Exception):
    """Base of every failure the store reports besides the domain's `NotFound`, `InvalidStatus` and `QuotaExceeded`."""


class StaleState(StoreError):
    """A conditional update lost: the row is no longer in the expected status or version. Re-read and decide again."""

    def __init__(self, entity: str, entity_id: int, actual_status: str, actual_version: int) -> None:
        super().__init__(f"{entity} {entity_id} changed meanwhile: now '{actual_status}' at version {actual_version}.")
        self.entity = entity
        self.entity_id = entity_id
        self.actual_status = actual_status
        self.actual_version = actual_version


class AlreadyExists(StoreError):
    """A unique name is taken: account name, AccessKeyId, certificate name in the account, worker (job, resource),
    a contact's email or mobile in the account (`ContactTaken`)."""


class KeyDecryptionFailed(StoreError):
    """Stored ciphertext cannot be decrypted: the key-encryption key is not the one it was written with."""


class StoreUnavailable(StoreError):
    """The database could not be reached, or gave up on a lock or deadlock; the whole operation may be retried."""
