"""`init-certs`: a self-signed CA and a serving certificate it signs, for the webhook's Service DNS names."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT = "ca.crt"
SERVER_CERT = "tls.crt"
SERVER_KEY = "tls.key"
VALIDITY = datetime.timedelta(days=365 * 10)  # as Flyte's: the Job runs once per install


@dataclass(frozen=True)
class WebhookCerts:
    ca_cert: bytes
    server_cert: bytes
    server_key: bytes

    def as_secret_data(self) -> dict[str, bytes]:
        return {CA_CERT: self.ca_cert, SERVER_CERT: self.server_cert, SERVER_KEY: self.server_key}

    @classmethod
    def from_secret_data(cls, data: dict[str, bytes]) -> WebhookCerts:
        missing = [k for k in (CA_CERT, SERVER_CERT, SERVER_KEY) if not data.get(k)]
        if missing:
            raise ValueError(f"the certificate secret lacks {', '.join(missing)} (run `aloft-webhook init-certs`)")
        return cls(data[CA_CERT], data[SERVER_CERT], data[SERVER_KEY])


def service_dns_names(service: str, namespace: str) -> list[str]:
    return [service, f"{service}.{namespace}", f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local"]


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def generate(service: str, namespace: str) -> WebhookCerts:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = _key()
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "aloft"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{service}-ca"),
        ]
    )
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = _key()
    names = service_dns_names(service, namespace)
    server = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "aloft"),
                    x509.NameAttribute(NameOID.COMMON_NAME, names[2]),
                ]
            )
        )
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = server_key.private_bytes(
        pem, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return WebhookCerts(ca.public_bytes(pem), server.public_bytes(pem), key_pem)
