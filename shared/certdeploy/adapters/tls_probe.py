"""Reads the chain a server presents for a name (TLS with SNI), for the verification of deployments.

The chain is read as sent, without trusting it: judging it is the domain's work (`domain/verification.py`). Python
makes the unverified chain public only from 3.13 (`SSLSocket.get_unverified_chain`); before, the same method exists on
the socket's `_sslobj` (CPython 3.10+), which is what this falls back to.

Where the operator asks for it, an address guard applies as for webhooks (`adapters/notify/webhook.py`): the name is
resolved once, every address must pass (public, or inside an allowed range; never inside a denied one), and the socket
is connected to one of exactly those checked addresses.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from certdeploy.adapters.notify.webhook import is_public_address, resolve_host
from certdeploy.ports.verify import Unreachable

HTTPS_PORT = 443
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_ranges(entries: Sequence[str]) -> tuple[Network, ...]:
    """CIDR ranges (`10.0.0.0/8`, `::1/128`) or single addresses; `ValueError` names a bad one."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())


@dataclass(frozen=True)
class AddressGuard:
    """Which addresses a check may connect to: none in `deny`; with `public_only`, only public ones or those in
    `allow`."""

    allow: tuple[Network, ...] = ()
    deny: tuple[Network, ...] = ()
    public_only: bool = False

    def refusal(self, text: str) -> str | None:
        """Why `text` may not be connected to; None when it may."""
        address: Address = ipaddress.ip_address(text)
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.deny):
            return f"{text} is in a denied range"
        if self.public_only and not is_public_address(address) and not any(address in n for n in self.allow):
            return f"{text} is not a public address and not in an allowed range"
        return None


Resolver = Callable[[str, int], list[str]]


def _chain_der(tls: ssl.SSLSocket) -> list[bytes]:
    reader = getattr(tls, "get_unverified_chain", None) or tls._sslobj.get_unverified_chain  # type: ignore[attr-defined]
    chain = reader() or []
    return [item if isinstance(item, bytes) else item.public_bytes(ssl._ssl.ENCODING_DER) for item in chain]  # type: ignore[attr-defined]


class TlsProbe:
    """The `ServedChains` port over real TLS. `connect_to` sends every check to one address (the local cloud's SNI
    router, a test server); otherwise the name is resolved and checked on its port (443 by default)."""

    def __init__(
        self,
        *,
        guard: AddressGuard | None = None,
        connect_to: tuple[str, int] | None = None,
        resolver: Resolver = resolve_host,
        timeout_seconds: float = 5.0,
    ) -> None:
        self._guard = guard or AddressGuard()
        self._connect_to = connect_to
        self._resolve = resolver
        self._timeout = timeout_seconds
        self._tls = ssl.create_default_context()
        self._tls.check_hostname = False
        self._tls.verify_mode = ssl.CERT_NONE  # read what is served as it is; the domain judges it

    def served_chain(self, server_name: str, port: int | None) -> list[bytes]:
        if self._connect_to is not None:
            host, port = self._connect_to
            addresses = [host]
        else:
            port = port or HTTPS_PORT
            try:
                addresses = self._resolve(server_name, port)
            except OSError as error:
                raise Unreachable(f"cannot resolve {server_name}: {error}") from error
        if not addresses:
            raise Unreachable(f"{server_name} resolves to no address")
        for address in addresses:
            refused = self._guard.refusal(address)
            if refused is not None:
                raise Unreachable(f"refused by the address guard: {refused}")
        errors: list[str] = []
        for address in addresses:
            try:
                with (
                    socket.create_connection((address, port), self._timeout) as raw,
                    self._tls.wrap_socket(raw, server_hostname=server_name) as tls,
                ):
                    return _chain_der(tls)
            except (OSError, ssl.SSLError) as error:
                errors.append(f"{address}:{port}: {error}")
        raise Unreachable("; ".join(errors))
