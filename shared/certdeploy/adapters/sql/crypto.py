"""Encryption at rest of private keys and AccessKey secrets: AES-256-GCM under one key-encryption key (KEK).

A sealed value is `version (1 byte) | KEK id (8 bytes) | nonce (12 bytes) | ciphertext + tag`. The KEK id (a hash
prefix of the key, not the key) lets a wrong key fail with a clear message instead of an opaque tag error, and the
associated data binds each ciphertext to the row it belongs to, so ciphertexts cannot be swapped between rows.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from functools import cached_property
from typing import TYPE_CHECKING

from certdeploy.ports.store.errors import KeyDecryptionFailed

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_FORMAT_VERSION = b"\x01"
_KEY_ID_BYTES = 8
_NONCE_BYTES = 12
_KEY_BYTES = 32


def generate_key_encryption_key() -> str:
    """A new random KEK in the text form settings carry (URL-safe Base64 of 32 bytes)."""
    return base64.urlsafe_b64encode(os.urandom(_KEY_BYTES)).decode("ascii")


def parse_key_encryption_key(key: str | bytes) -> bytes:
    """Accept the raw 32 bytes or their URL-safe Base64 text; anything else is a configuration error."""
    if isinstance(key, bytes) and len(key) == _KEY_BYTES:
        return key
    text = key.decode("ascii", errors="replace") if isinstance(key, bytes) else key
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError("The key-encryption key must be URL-safe Base64 of 32 random bytes.") from exc
    if len(raw) != _KEY_BYTES:
        raise ValueError(f"The key-encryption key must be 32 bytes; it decodes to {len(raw)}.")
    return raw


class KeyCipher:
    """Seals and opens small secrets with one KEK."""

    def __init__(self, key_encryption_key: str | bytes) -> None:
        self._key = parse_key_encryption_key(key_encryption_key)
        self.key_id = hashlib.sha256(self._key).digest()[:_KEY_ID_BYTES]

    @cached_property
    def _aead(self) -> AESGCM:
        # Loaded on the first secret sealed or opened: the cryptography library's ~7 MiB are not every cold start's.
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        return AESGCM(self._key)

    def seal(self, plaintext: str, associated_data: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), associated_data.encode("utf-8"))
        return _FORMAT_VERSION + self.key_id + nonce + sealed

    def open(self, blob: bytes, associated_data: str) -> str:
        header = len(_FORMAT_VERSION) + _KEY_ID_BYTES
        if len(blob) < header + _NONCE_BYTES or blob[:1] != _FORMAT_VERSION:
            raise KeyDecryptionFailed("The stored secret is not in a format this version can read.")
        key_id = blob[1:header]
        if key_id != self.key_id:
            raise KeyDecryptionFailed(
                f"The stored secret was encrypted with key-encryption key {key_id.hex()}, but the store was given key "
                f"{self.key_id.hex()}: configure the key it was written with."
            )
        nonce, sealed = blob[header : header + _NONCE_BYTES], blob[header + _NONCE_BYTES :]
        from cryptography.exceptions import InvalidTag

        try:
            return self._aead.decrypt(nonce, sealed, associated_data.encode("utf-8")).decode("utf-8")
        except InvalidTag as exc:
            raise KeyDecryptionFailed("The stored secret fails authentication: it was altered or moved.") from exc
