"""The local cloud's TLS: one SNI router on a loopback port serving, for each HTTPS resource, the certificate bound
to it now (docs/verification.md#local-tls).

A client names the resource's domain in SNI (`openssl s_client -connect 127.0.0.1:<port> -servername <domain>`);
the router's SNI callback switches the handshake to a context holding that resource's chain and key. It answers no
requests: the handshake is what deployments and their verification look at, so a connection is closed once the
handshake is done (or failed).
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

# The certificate (PEM chain, PEM key) to serve for a server name, or None.
CertificateLookup = Callable[[str], tuple[str, str] | None]
_HANDSHAKE_TIMEOUT_SECONDS = 5.0


def _context(cert_pem: str, key_pem: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # `load_cert_chain` reads files only: the pair goes through a private temporary file, removed at once.
    descriptor, path = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(cert_pem.strip() + "\n" + key_pem.strip() + "\n")
        context.load_cert_chain(path)
    finally:
        os.unlink(path)
    return context


class LocalTlsRouter:
    """Listens on `host:port` (0: a free port) from construction; `start()` serves in a thread, `close()` stops."""

    def __init__(self, lookup: CertificateLookup, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lookup = lookup
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()
        self._front = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._front.sni_callback = self._select
        self._socket = socket.create_server((host, port))
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._socket.getsockname()[:2]
        return str(host), int(port)

    def _select(self, connection: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> int | None:
        if not server_name:
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        try:
            found = self._lookup(server_name)
        except Exception:
            log.exception("local TLS: cannot look up %s", server_name)
            return ssl.ALERT_DESCRIPTION_INTERNAL_ERROR
        if found is None:
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        digest = hashlib.sha256("\n".join(found).encode()).hexdigest()
        with self._lock:
            context = self._contexts.get(digest)
            if context is None:
                context = self._contexts[digest] = _context(*found)
        connection.context = context
        return None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="certdeploy-local-tls", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self._socket.settimeout(0.5)
        while not self._stopping.is_set():
            try:
                client, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed
            threading.Thread(target=self._handshake, args=(client,), daemon=True).start()

    def _handshake(self, client: socket.socket) -> None:
        client.settimeout(_HANDSHAKE_TIMEOUT_SECONDS)
        try:
            with self._front.wrap_socket(client, server_side=True):
                pass
        except (OSError, ssl.SSLError) as error:
            log.debug("local TLS handshake failed: %s", error)
        finally:
            client.close()

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5.0)
        self._socket.close()
