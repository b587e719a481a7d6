"""Reading the certificate chain a server presents, for the verification of deployments."""

from __future__ import annotations

from typing import Protocol


class Unreachable(Exception):
    """No TLS handshake with the server (refused, timed out, refused by the address guard, no certificate for the
    name); the message says which."""


class ServedChains(Protocol):
    def served_chain(self, server_name: str, port: int | None) -> list[bytes]:
        """The chain (DER, leaf first) served for `server_name` (SNI) on `port` (None: the HTTPS default), as sent,
        without trusting it; `Unreachable` when there is no handshake."""
        ...
