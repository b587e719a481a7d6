"""Certificates and private keys from PEM text: what a certificate says, whether a key belongs to it, expiry.

Pure: no I/O and no clock (the caller passes `now`). RSA and ECC go through `cryptography`. SM2 (ShangMi) does not:
`cryptography` loads an SM2 certificate but cannot give its public key ("Curve 1.2.156.10197.1.301 is not supported")
nor load an SM2 private key, so SM2 keys are read with `asn1crypto` and matched by their public point, computed
here on the SM2 curve.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from certdeploy.domain.errors import CertificateError, CertificateExpired, InvalidKey, InvalidPem, KeyMismatch
from certdeploy.domain.models import CertAlgorithm, CertificateInfo
from certdeploy.domain.names import covered_names
from certdeploy.domain.pem import PemBlock, pem_blocks

SM2_CURVE_OID = "1.2.156.10197.1.301"
SM2_WITH_SM3_OID = "1.2.156.10197.1.501"
_EC_PUBLIC_KEY_OID = "1.2.840.10045.2.1"

# The keys CAS takes for an uploaded certificate (README "Limits"): RSA of 2048 to 4096 bits, ECC on P-256 or P-384,
# and SM2.
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 4096
ECC_CURVES = frozenset({"secp256r1", "secp384r1"})
# Public CAs issue at most a few hundred names; the bound keeps one upload's matching work small (README "Limits").
MAX_CERTIFICATE_NAMES = 10_000

_CERTIFICATE_LABEL = "CERTIFICATE"
_PKCS8_LABEL = "PRIVATE KEY"
_ENCRYPTED_PKCS8_LABEL = "ENCRYPTED PRIVATE KEY"
_SM2_SEC1_LABEL = "SM2 PRIVATE KEY"  # what OpenSSL 3 writes for an SM2 key in SEC1 form
_EC_SEC1_LABELS = frozenset({"EC PRIVATE KEY", _SM2_SEC1_LABEL})
_RSA_LABEL = "RSA PRIVATE KEY"
_KEY_LABELS = frozenset({_PKCS8_LABEL, _RSA_LABEL, *_EC_SEC1_LABELS})
# `openssl ecparam -genkey` without -noout writes the curve in its own block before the key.
_IGNORED_KEY_LABELS = frozenset({"EC PARAMETERS"})

_SUPPORTED_KEY_FORMATS = "PKCS#8 (BEGIN PRIVATE KEY), BEGIN RSA PRIVATE KEY or BEGIN EC PRIVATE KEY"
_ENCRYPTED_KEY_MESSAGE = (
    "The private key is protected by a password; upload it without one "
    "(for example: openssl pkey -in encrypted.key -out plain.key)."
)


def _load_chain(pem: str) -> list[tuple[x509.Certificate, bytes]]:
    """The certificates of a PEM chain with their DER, leaf first; `InvalidPem` for anything else."""
    if not pem.strip():
        raise InvalidPem("The certificate is empty: paste the PEM text that starts with -----BEGIN CERTIFICATE-----.")
    blocks = pem_blocks(pem, InvalidPem, "certificate")
    if any("PRIVATE KEY" in block.label for block in blocks):
        raise InvalidPem(
            "The certificate text contains a private key: put only the certificate (and its chain) here "
            "and the private key in its own field."
        )
    if not blocks:
        raise InvalidPem("The certificate is not PEM text: it must start with -----BEGIN CERTIFICATE-----.")
    for block in blocks:
        if block.label != _CERTIFICATE_LABEL:
            raise InvalidPem(f"The certificate text contains a {block.label} block; only certificates are accepted.")
    chain = []
    for position, block in enumerate(blocks, start=1):
        try:
            chain.append((x509.load_der_x509_certificate(block.der), block.der))
        except ValueError as exc:
            raise InvalidPem(f"Certificate {position} in the text is not a valid X.509 certificate.") from exc
    _ensure_chain_order([certificate for certificate, _ in chain])
    return chain


def _ensure_chain_order(chain: list[x509.Certificate]) -> None:
    # "Each following certificate MUST directly certify the one preceding it" (RFC 5246 §7.4.2); compared by name
    # because SM2 signatures cannot be verified with `cryptography`.
    for position, (child, parent) in enumerate(pairwise(chain), start=1):
        if child.issuer != parent.subject:
            raise InvalidPem(
                f"Certificate {position + 1} in the chain is not the issuer of certificate {position}: "
                "put the server certificate first, then each issuing CA certificate in order."
            )


def _last_common_name(name: x509.Name) -> str | None:
    # "the (most specific) Common Name field" (RFC 2818 §3.1): the last one in DER order.
    values = [attribute.value for attribute in name.get_attributes_for_oid(NameOID.COMMON_NAME)]
    text_values = [value for value in values if isinstance(value, str)]
    return text_values[-1] if text_values else None


def _dns_sans(certificate: x509.Certificate) -> tuple[str, ...]:
    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ()
    except (ValueError, x509.DuplicateExtension) as exc:
        raise InvalidPem(f"The certificate's extensions cannot be read: {exc}") from exc
    sans = tuple(extension.value.get_values_for_type(x509.DNSName))
    if len(sans) > MAX_CERTIFICATE_NAMES:
        raise InvalidPem(
            f"The certificate has {len(sans):,} names; at most {MAX_CERTIFICATE_NAMES:,} names are accepted."
        )
    return sans


def _subject_public_key_info(certificate_der: bytes) -> asn1_keys.PublicKeyInfo:
    try:
        return asn1_x509.Certificate.load(certificate_der)["tbs_certificate"]["subject_public_key_info"]
    except ValueError as exc:
        raise InvalidPem(f"The certificate's public key cannot be read: {exc}") from exc


def _is_sm2_public_key(public_key_info: asn1_keys.PublicKeyInfo) -> bool:
    algorithm = public_key_info["algorithm"]
    if algorithm["algorithm"].dotted != _EC_PUBLIC_KEY_OID:
        return False
    parameters = algorithm["parameters"]
    return parameters.name == "named" and parameters.chosen.dotted == SM2_CURVE_OID


def _check_key_size(
    key: asn1_keys.PublicKeyInfo | asn1_keys.PrivateKeyInfo, error: type[CertificateError], what: str
) -> None:
    """Refuse an RSA or ECC key of a size the products do not take (README "Limits"), read from its encoding alone."""
    if key.algorithm == "rsa":
        numbers = key["private_key" if isinstance(key, asn1_keys.PrivateKeyInfo) else "public_key"].parsed
        bits = numbers["modulus"].native.bit_length()
        if not MIN_RSA_BITS <= bits <= MAX_RSA_BITS:
            raise error(
                f"The {what} has a {bits}-bit RSA key; RSA keys of {MIN_RSA_BITS} to {MAX_RSA_BITS} bits are accepted."
            )
        return
    kind, curve = key.curve
    if kind != "named" or curve not in ECC_CURVES:
        named = curve if kind == "named" else "a curve given by its parameters"
        raise error(f"The {what} has an ECC key on {named}; ECC keys on P-256 or P-384 are accepted.")


def _algorithm(certificate: x509.Certificate, certificate_der: bytes) -> CertAlgorithm:
    is_sm2_signed = certificate.signature_algorithm_oid.dotted_string == SM2_WITH_SM3_OID
    public_key_info = _subject_public_key_info(certificate_der)
    if is_sm2_signed or _is_sm2_public_key(public_key_info):
        return CertAlgorithm.SM2
    public_key = _certificate_public_key(certificate)
    if isinstance(public_key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
        _check_key_size(public_key_info, InvalidPem, "certificate")
        return CertAlgorithm.RSA if isinstance(public_key, rsa.RSAPublicKey) else CertAlgorithm.ECC
    raise InvalidPem("The certificate's key is neither RSA, ECC nor SM2; only those certificates can be deployed.")


def _certificate_public_key(certificate: x509.Certificate) -> x509.CertificatePublicKeyTypes:
    try:
        return certificate.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise InvalidPem(
            f"The certificate's public key is of a kind that is not supported ({exc}); use RSA, ECC or SM2."
        ) from exc


def _serial_hex(serial: int) -> str:
    digits = format(serial, "x")
    # Whole bytes, as `openssl x509 -serial` prints it.
    return digits.zfill(len(digits) + len(digits) % 2)


def parse_certificate(pem: str) -> CertificateInfo:
    """What a PEM certificate says; the text may hold a chain, leaf first. Raises `InvalidPem` for anything else."""
    chain = _load_chain(pem)
    leaf, leaf_der = chain[0]
    common_name = _last_common_name(leaf.subject)
    sans = _dns_sans(leaf)
    return CertificateInfo(
        common_name=common_name,
        sans=sans,
        names=covered_names(sans, common_name),
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
        serial=_serial_hex(leaf.serial_number),
        fingerprint_sha256=leaf.fingerprint(hashes.SHA256()).hex(),
        issuer=leaf.issuer.rfc4514_string(),
        issuer_common_name=_last_common_name(leaf.issuer),
        algorithm=_algorithm(leaf, leaf_der),
        chain_length=len(chain),
    )


def ensure_not_expired(info: CertificateInfo, now: datetime) -> None:
    """Raise `CertificateExpired` once `now` is past NotAfter; a certificate is still valid at NotAfter itself."""
    if now > info.not_after:
        raise CertificateExpired(
            f"The certificate expired on {info.not_after:%Y-%m-%d %H:%M:%S} UTC; upload one that is still valid."
        )


# The SM2 curve, recommended parameters of GB/T 32918.5-2017 §4 (the same values as
# `openssl ecparam -name SM2 -param_enc explicit -text`). Short Weierstrass form y² = x³ + ax + b over F_p.
_SM2_P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
_SM2_A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
_SM2_B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
_SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
_SM2_G = (
    0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
    0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0,
)
_SM2_COORDINATE_BYTES = 32

_Point = tuple[int, int]


def _sm2_add(first: _Point | None, second: _Point | None) -> _Point | None:
    """Affine point addition on the SM2 curve; None is the point at infinity."""
    if first is None:
        return second
    if second is None:
        return first
    (x1, y1), (x2, y2) = first, second
    if x1 == x2:
        if (y1 + y2) % _SM2_P == 0:
            return None
        slope = (3 * x1 * x1 + _SM2_A) * pow(2 * y1, -1, _SM2_P) % _SM2_P
    else:
        slope = (y2 - y1) * pow(x2 - x1, -1, _SM2_P) % _SM2_P
    x3 = (slope * slope - x1 - x2) % _SM2_P
    return x3, (slope * (x1 - x3) - y1) % _SM2_P


def _sm2_public_point_of(scalar: int) -> _Point:
    """scalar·G by double-and-add. Not constant-time: it only checks a key its own owner has just sent us."""
    result: _Point | None = None
    addend: _Point | None = _SM2_G
    while scalar:
        if scalar & 1:
            result = _sm2_add(result, addend)
        addend = _sm2_add(addend, addend)
        scalar >>= 1
    if result is None:
        raise InvalidKey("The SM2 private key is not a valid key.")
    return result


def _decode_sm2_point(encoded: bytes) -> _Point | None:
    """An uncompressed (04) or compressed (02/03) SEC1 point on the SM2 curve; None if it is not one."""
    size = _SM2_COORDINATE_BYTES
    if len(encoded) == 1 + 2 * size and encoded[0] == 4:
        x = int.from_bytes(encoded[1 : 1 + size], "big")
        y = int.from_bytes(encoded[1 + size :], "big")
    elif len(encoded) == 1 + size and encoded[0] in (2, 3):
        x = int.from_bytes(encoded[1:], "big")
        # p ≡ 3 (mod 4), so a square root of v is v^((p+1)/4).
        root = pow((x**3 + _SM2_A * x + _SM2_B) % _SM2_P, (_SM2_P + 1) // 4, _SM2_P)
        y = root if root % 2 == encoded[0] % 2 else _SM2_P - root
    else:
        return None
    if x >= _SM2_P or y >= _SM2_P or (y * y - (x**3 + _SM2_A * x + _SM2_B)) % _SM2_P != 0:
        return None
    return x, y


@dataclass(frozen=True)
class _Sm2KeyPair:
    """An SM2 private key reduced to what matching needs: its public point. The scalar is not kept."""

    public_point: _Point


# An SM2 key is matched by its point; an RSA or ECC key is compared as read, then loaded (`_read_private_key`).
_PrivateKey = _Sm2KeyPair | asn1_keys.PrivateKeyInfo


def _sm2_key_pair(ec_private_key: asn1_keys.ECPrivateKey) -> _Sm2KeyPair:
    """The key's public point, always computed from its scalar, so a key whose embedded public part was tampered
    with is caught rather than matched on the copy."""
    scalar = ec_private_key["private_key"].native
    if not 1 <= scalar < _SM2_N:
        raise InvalidKey("The SM2 private key is not a valid key: its value is out of range.")
    point = _sm2_public_point_of(scalar)
    embedded = ec_private_key["public_key"].native
    if embedded is not None and _decode_sm2_point(embedded) != point:
        raise InvalidKey("The SM2 private key is damaged: its embedded public key does not belong to it.")
    return _Sm2KeyPair(point)


def _named_curve_oid(parameters: asn1_keys.ECDomainParameters) -> str | None:
    return parameters.chosen.dotted if parameters.name == "named" else None


def _sm2_private_key(block: PemBlock) -> asn1_keys.ECPrivateKey | None:
    """The SEC1 structure of an SM2 key in a PKCS#8 or SEC1 block; None for any other key."""
    if block.label == _PKCS8_LABEL:
        info = asn1_keys.PrivateKeyInfo.load(block.der)
        algorithm = info["private_key_algorithm"]
        if algorithm["algorithm"].dotted != _EC_PUBLIC_KEY_OID:
            return None
        if _named_curve_oid(algorithm["parameters"]) != SM2_CURVE_OID:
            return None
        return info["private_key"].parsed
    if block.label in _EC_SEC1_LABELS:
        sec1 = asn1_keys.ECPrivateKey.load(block.der)
        parameters = sec1["parameters"]
        curve_oid = None if parameters.native is None else _named_curve_oid(parameters)
        is_sm2 = curve_oid == SM2_CURVE_OID or (block.label == _SM2_SEC1_LABEL and curve_oid is None)
        return sec1 if is_sm2 else None
    return None


def _private_key_block(key_pem: str) -> PemBlock:
    if not key_pem.strip():
        raise InvalidKey("The private key is empty: paste the PEM text that starts with -----BEGIN PRIVATE KEY-----.")
    blocks = [
        block for block in pem_blocks(key_pem, InvalidKey, "private key") if block.label not in _IGNORED_KEY_LABELS
    ]
    if not blocks:
        raise InvalidKey(f"The private key is not PEM text: use {_SUPPORTED_KEY_FORMATS}.")
    for block in blocks:
        if block.label == _ENCRYPTED_PKCS8_LABEL or any("ENCRYPTED" in header for header in block.headers):
            raise InvalidKey(_ENCRYPTED_KEY_MESSAGE)
        if block.label == _CERTIFICATE_LABEL:
            raise InvalidKey("The private key field holds a certificate, not a private key.")
        if block.label not in _KEY_LABELS:
            raise InvalidKey(f"A {block.label} block is not a supported private key: use {_SUPPORTED_KEY_FORMATS}.")
    if len(blocks) > 1:
        raise InvalidKey(f"The private key text holds {len(blocks)} keys; give exactly one.")
    return blocks[0]


def _private_key_info(block: PemBlock) -> asn1_keys.PrivateKeyInfo:
    """An RSA or ECC key as PKCS#8 (a PKCS#1 or SEC1 key wrapped), read without any arithmetic."""
    if block.label == _PKCS8_LABEL:
        return asn1_keys.PrivateKeyInfo.load(block.der)
    if block.label == _RSA_LABEL:
        return asn1_keys.PrivateKeyInfo.wrap(asn1_keys.RSAPrivateKey.load(block.der), "rsa")
    return asn1_keys.PrivateKeyInfo.wrap(asn1_keys.ECPrivateKey.load(block.der), "ec")


def _read_private_key(block: PemBlock) -> _PrivateKey:
    """The key, its size checked; an RSA or ECC key is not loaded yet (`_load_checked_key` does, once it matched)."""
    try:
        sm2_key = _sm2_private_key(block)
        if sm2_key is not None:
            return _sm2_key_pair(sm2_key)
        info = _private_key_info(block)
        if info.algorithm not in ("rsa", "ec"):
            raise InvalidKey("The private key is neither RSA, ECC nor SM2; only those are supported.")
        _check_key_size(info, InvalidKey, "private key")
    # asn1crypto parses lazily: a part it cannot read is a ValueError, an absent optional part read as present
    # (e.g. the curve of a key without one) an AttributeError of its `Void`.
    except (ValueError, TypeError, AttributeError) as exc:
        raise InvalidKey(f"The private key cannot be read: it is not a valid {block.label}.") from exc
    return info


def _load_checked_key(block: PemBlock) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    """The RSA or ECC key loaded by `cryptography`, which checks that its numbers are consistent."""
    try:
        private_key = serialization.load_der_private_key(block.der, password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidKey(f"The private key cannot be read: it is not a valid {block.label}.") from exc
    except UnsupportedAlgorithm as exc:
        raise InvalidKey(f"The private key uses an algorithm that is not supported ({exc}).") from exc
    if not isinstance(private_key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise InvalidKey("The private key is neither RSA, ECC nor SM2; only those are supported.")
    return private_key


def _key_kind(private_key: _PrivateKey) -> CertAlgorithm:
    if isinstance(private_key, _Sm2KeyPair):
        return CertAlgorithm.SM2
    return CertAlgorithm.RSA if private_key.algorithm == "rsa" else CertAlgorithm.ECC


def _same_public_parameters(private_key: asn1_keys.PrivateKeyInfo, certificate_key: asn1_keys.PublicKeyInfo) -> bool:
    """What can be compared without arithmetic: an RSA key's modulus and exponent, an ECC key's curve."""
    if private_key.algorithm != "rsa":
        return private_key.curve == certificate_key.curve
    numbers = private_key["private_key"].parsed
    public = certificate_key["public_key"].parsed
    return (numbers["modulus"].native, numbers["public_exponent"].native) == (
        public["modulus"].native,
        public["public_exponent"].native,
    )


def _subject_public_key_bytes(public_key: x509.CertificatePublicKeyTypes) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def check_key_matches(cert_pem: str, key_pem: str) -> None:
    """Raise unless the private key belongs to the (leaf) certificate.

    `InvalidPem` for a bad certificate, `InvalidKey` for a key that cannot be used (unreadable, encrypted, of an
    unsupported kind or size), `KeyMismatch` for a good key that is not the certificate's. The key's size and public
    numbers are compared before `cryptography` loads it: loading checks the key, which takes seconds for a large one.
    """
    leaf, leaf_der = _load_chain(cert_pem)[0]
    block = _private_key_block(key_pem)
    private_key = _read_private_key(block)
    public_key_info = _subject_public_key_info(leaf_der)
    if _is_sm2_public_key(public_key_info):
        if not isinstance(private_key, _Sm2KeyPair):
            raise KeyMismatch(f"The certificate has an SM2 key but the private key is an {_key_kind(private_key)} key.")
        certificate_point = _decode_sm2_point(public_key_info["public_key"].native)
        if certificate_point is None:
            raise InvalidPem("The certificate's SM2 public key is not a point on the SM2 curve.")
        if certificate_point != private_key.public_point:
            raise KeyMismatch("The private key does not belong to the certificate.")
        return
    if isinstance(private_key, _Sm2KeyPair):
        raise KeyMismatch("The private key is an SM2 key but the certificate's key is not SM2.")
    certificate_public_key = _certificate_public_key(leaf)
    certificate_kind = CertAlgorithm.RSA if isinstance(certificate_public_key, rsa.RSAPublicKey) else CertAlgorithm.ECC
    if _key_kind(private_key) is not certificate_kind:
        raise KeyMismatch(
            f"The certificate has an {certificate_kind} key but the private key is an {_key_kind(private_key)} key."
        )
    if not _same_public_parameters(private_key, public_key_info):
        raise KeyMismatch("The private key does not belong to the certificate.")
    loaded = _load_checked_key(block)
    if _subject_public_key_bytes(loaded.public_key()) != _subject_public_key_bytes(certificate_public_key):
        raise KeyMismatch("The private key does not belong to the certificate.")
