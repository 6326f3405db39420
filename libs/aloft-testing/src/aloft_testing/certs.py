"""A throwaway PKI for TLS tests (``cryptography``): a CA, a certificate for the services (server and client use,
SAN 127.0.0.1 and localhost), and a stranger's certificate from another CA; and the session's token signing key."""

from __future__ import annotations

import atexit
import datetime
import functools
import ipaddress
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Pki:
    ca: Path
    cert: Path  # the services' certificate (server and client), signed by ca
    key: Path
    stranger_cert: Path  # signed by another CA
    stranger_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _ca(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    common_name: str, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    san = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    usage = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _write(directory: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | None) -> None:
    (directory / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path = directory / f"{name}.key"
        path.write_bytes(pem)
        path.chmod(0o600)


def make_pki(directory: Path) -> Pki:
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = _ca("aloft test CA")
    service, service_key = _leaf("aloft-service", ca, ca_key)
    other_ca, other_key = _ca("someone else's CA")
    stranger, stranger_key = _leaf("stranger", other_ca, other_key)
    _write(directory, "ca", ca, None)
    _write(directory, "service", service, service_key)
    _write(directory, "stranger", stranger, stranger_key)
    return Pki(
        directory / "ca.pem",
        directory / "service.pem",
        directory / "service.key",
        directory / "stranger.pem",
        directory / "stranger.key",
    )


@functools.cache
def token_signing_key() -> Path:
    """One RSA key (PEM, mode 0600) per test session for admin's authorization server to sign tokens with: a 2048-bit
    key costs about 0.1 s to make, and every admin started with auth on and no key would make its own. Admins get it
    as ``selfAuthServer.tokenSigningRSAKeyFile`` or copied into ``<dataDir>/auth/`` (where admin keeps its key)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    directory = Path(tempfile.mkdtemp(prefix="aloft-token-key-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    path = directory / "token_rsa_key.pem"
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return path
