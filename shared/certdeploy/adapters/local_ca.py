"""The local certificate authority of the embedded runtime: it issues the "official" certificates
(`certdeploy cert issue`) that stand in for CAS's bought and free ones.

Its CA keys live in the data directory, created on first use and readable by their owner only. Each CA is one file
holding its key and certificate, published with `os.link` so two processes that start at once end up with one CA.
RSA and ECC certificates are made with `cryptography`, under an ECDSA P-256 CA. `cryptography` cannot sign with
SM2, so SM2 certificates (SM2 key, SM3-with-SM2 signature) come from the `openssl` command (OpenSSL 3), under a
separate SM2 CA; tests/fixtures/sm2/README.md shows the commands this follows.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certdeploy.domain.models import CertAlgorithm
from certdeploy.domain.names import normalise_name
from certdeploy.ports.clock import Clock, SystemClock

CA_NAME = "certdeploy local CA"
SM2_CA_NAME = "certdeploy local SM2 CA"
MAX_DAYS = 3650
_CA_DAYS = 3650
_OPENSSL_TIMEOUT_SECONDS = 30


class LocalCaError(RuntimeError):
    """The local CA cannot issue: bad request, unreadable CA files, or no usable `openssl` for SM2."""


@dataclass(frozen=True)
class IssuedCertificate:
    """A certificate with its chain (leaf first, then the CA) and the leaf's private key, both PEM."""

    cert_pem: str
    key_pem: str = field(repr=False)


class LocalCa:
    def __init__(self, directory: Path, *, clock: Clock | None = None, openssl: str = "openssl") -> None:
        self.directory = directory
        self._clock = clock or SystemClock()
        self._openssl = openssl

    @property
    def certificate_path(self) -> Path:
        """The CA certificate alone, for whoever wants to trust what this CA issues."""
        return self.directory / "ca.crt"

    def issue(
        self, domains: Sequence[str], *, days: int = 90, algorithm: CertAlgorithm = CertAlgorithm.RSA
    ) -> IssuedCertificate:
        """A certificate for `domains` (the first is the CN; all are SANs), valid from now for `days` days."""
        names = _names(domains)
        if not 1 <= days <= MAX_DAYS:
            raise LocalCaError(f"--days must be between 1 and {MAX_DAYS}, not {days}.")
        if algorithm is CertAlgorithm.SM2:
            return self._issue_sm2(names, days)
        return self._issue(names, days, algorithm)

    # ------------------------------------------------------------------------------------------ RSA / ECC

    def _issue(self, names: list[str], days: int, algorithm: CertAlgorithm) -> IssuedCertificate:
        ca_key, ca_cert = self._ca()
        leaf_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if algorithm is CertAlgorithm.RSA
            else ec.generate_private_key(ec.SECP256R1())
        )
        now = self._now()
        leaf = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_cert.subject)
            .public_key(leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        key_pem = leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")
        chain = leaf.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM)
        return IssuedCertificate(cert_pem=chain.decode("ascii"), key_pem=key_pem)

    def _ca(self) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        path = self.directory / "ca.key.pem"
        if not path.exists():
            _publish(path, self._new_ca_bundle())
        text = path.read_bytes()
        try:
            key = serialization.load_pem_private_key(text, password=None)
            cert = x509.load_pem_x509_certificate(text)
        except ValueError as exc:
            raise LocalCaError(f"{path} does not hold the local CA's key and certificate: {exc}") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise LocalCaError(f"{path} does not hold an ECDSA CA key.")
        self._write_public(self.certificate_path, cert.public_bytes(serialization.Encoding.PEM))
        return key, cert

    def _new_ca_bundle(self) -> bytes:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
        now = self._now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=_CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return key_pem + cert.public_bytes(serialization.Encoding.PEM)

    # ------------------------------------------------------------------------------------------ SM2 via openssl

    def _issue_sm2(self, names: list[str], days: int) -> IssuedCertificate:
        bundle = self.directory / "sm2-ca.key.pem"
        with tempfile.TemporaryDirectory(prefix="certdeploy-ca-") as scratch_dir:
            scratch = Path(scratch_dir)
            if not bundle.exists():
                _publish(bundle, self._new_sm2_ca_bundle(scratch))
            ca_text = bundle.read_text(encoding="ascii")
            ca_cert = ca_text[ca_text.index("-----BEGIN CERTIFICATE-----") :]
            self._write_public(self.directory / "sm2-ca.crt", ca_cert.encode("ascii"))
            (scratch / "leaf.ext").write_text(
                f"subjectAltName={','.join('DNS:' + name for name in names)}\n"
                "basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n",
                encoding="ascii",
            )
            self._run_openssl(
                scratch, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2", "-out", "leaf.key"
            )
            self._run_openssl(
                scratch, "req", "-new", "-key", "leaf.key", "-sm3", "-subj", f"/CN={names[0]}", "-out", "leaf.csr"
            )
            serial = f"0x{x509.random_serial_number():x}"
            self._run_openssl(
                scratch,
                "x509",
                "-req",
                "-in",
                "leaf.csr",
                "-CA",
                str(bundle),
                "-CAkey",
                str(bundle),
                "-sm3",
                "-days",
                str(days),
                "-set_serial",
                serial,
                "-extfile",
                "leaf.ext",
                "-out",
                "leaf.pem",
            )
            leaf = (scratch / "leaf.pem").read_text(encoding="ascii")
            key_pem = (scratch / "leaf.key").read_text(encoding="ascii")
        return IssuedCertificate(cert_pem=leaf + ca_cert, key_pem=key_pem)

    def _new_sm2_ca_bundle(self, scratch: Path) -> bytes:
        self._run_openssl(scratch, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2", "-out", "ca.key")
        self._run_openssl(
            scratch,
            "req",
            "-new",
            "-x509",
            "-key",
            "ca.key",
            "-sm3",
            "-subj",
            f"/CN={SM2_CA_NAME}",
            "-days",
            str(_CA_DAYS),
            "-addext",
            "basicConstraints=critical,CA:TRUE,pathlen:0",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-out",
            "ca.pem",
        )
        return (scratch / "ca.key").read_bytes() + (scratch / "ca.pem").read_bytes()

    def _run_openssl(self, cwd: Path, *arguments: str) -> None:
        executable = shutil.which(self._openssl)
        if executable is None:
            raise LocalCaError(
                f"SM2 certificates need the '{self._openssl}' command (OpenSSL 3), which is not on the PATH; "
                "install OpenSSL 3 or issue an RSA/ECC certificate."
            )
        try:
            subprocess.run(
                [executable, *arguments],
                cwd=cwd,
                check=True,
                capture_output=True,
                text=True,
                timeout=_OPENSSL_TIMEOUT_SECONDS,
            )
        except subprocess.CalledProcessError as exc:
            detail = (exc.stderr or exc.stdout or "").strip().splitlines()
            raise LocalCaError(
                f"openssl {arguments[0]} failed (SM2 needs OpenSSL 3): {detail[-1] if detail else exc}"
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise LocalCaError(f"openssl {arguments[0]} did not finish in {_OPENSSL_TIMEOUT_SECONDS} s") from exc

    # ------------------------------------------------------------------------------------------ helpers

    def _now(self) -> datetime:
        # X.509 times have whole seconds; rounding down keeps NotBefore at or before now.
        return self._clock.now().replace(microsecond=0)

    def _write_public(self, path: Path, content: bytes) -> None:
        if not path.exists() or path.read_bytes() != content:
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(content)
            tmp.replace(path)


def _names(domains: Sequence[str]) -> list[str]:
    names: list[str] = []
    for domain in domains:
        name = normalise_name(domain)
        if name not in names:
            names.append(name)
    if not names:
        raise LocalCaError("Give at least one domain name.")
    return names


def _publish(path: Path, content: bytes) -> None:
    """Write `content` to `path` (mode 0600) unless the file exists; the first of several racing writers wins."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def stand_in_certificate(name: str, domain: str) -> tuple[str, str]:
    """A self-signed certificate (PEM, key PEM) named `name` for `domain`: what the local cloud serves for a
    certificate its inventory names but whose content it never saw (it was there before certdeploy)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name[:64])])
    now = datetime.now().astimezone()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()
