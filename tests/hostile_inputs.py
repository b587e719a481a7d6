"""Hostile inputs of issue 10 "Hostile clients", built cheaply for tests and bench/hostile.py.

A 16,384-bit RSA key takes minutes to generate, so none is: the huge key and certificate here carry an arbitrary
odd 16,384-bit modulus. They are not valid keys, which is the point of the tests that use them: a key must be refused
for its size before any check that would find it invalid (or, for a real key, take seconds).
"""

from __future__ import annotations

from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.certgen import DEFAULT_NOT_AFTER, DEFAULT_NOT_BEFORE, cert_to_pem, make_key

PUBLIC_EXPONENT = 65537


def repeated_begin_lines(size: int) -> str:
    """`-----BEGIN A-----` lines up to `size` characters: quadratic for a backtracking PEM regex."""
    line = "-----BEGIN A-----\n"
    return line * (size // len(line))


def huge_modulus(bits: int) -> int:
    """An odd number of exactly `bits` bits; not a product of two primes."""
    return (1 << (bits - 1)) | 0xF00D | 1


def huge_rsa_key_pem(modulus: int) -> str:
    """A PKCS#8 RSA private key with this modulus and arbitrary private numbers (not a valid key)."""
    private = asn1_keys.RSAPrivateKey(
        {
            "version": 0,
            "modulus": modulus,
            "public_exponent": PUBLIC_EXPONENT,
            "private_exponent": modulus // 3,
            "prime1": (modulus >> (modulus.bit_length() // 2)) | 1,
            "prime2": (modulus >> (modulus.bit_length() // 2)) | 3,
            "exponent1": 3,
            "exponent2": 5,
            "coefficient": 7,
        }
    )
    info = asn1_keys.PrivateKeyInfo(
        {
            "version": 0,
            "private_key_algorithm": asn1_keys.PrivateKeyAlgorithm({"algorithm": "rsa", "parameters": None}),
            "private_key": private,
        }
    )
    return asn1_pem.armor("PRIVATE KEY", info.dump()).decode("ascii")


def rsa_certificate_with_modulus(modulus: int) -> str:
    """The PEM of a self-issued certificate, signed by a real 2048-bit key, whose subject key has this modulus."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "huge.example.com")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(rsa.RSAPublicNumbers(PUBLIC_EXPONENT, modulus).public_key())
        .serial_number(1)
        .not_valid_before(DEFAULT_NOT_BEFORE)
        .not_valid_after(DEFAULT_NOT_AFTER)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("huge.example.com")]), critical=False)
        .sign(make_key("rsa"), hashes.SHA256())
    )
    return cert_to_pem(certificate)
