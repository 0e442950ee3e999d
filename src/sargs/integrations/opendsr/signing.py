"""The processor's X.509 signature of OpenDSR callbacks and responses (OpenDSR 4.1, 8.6): a key and a
CA-issued certificate for the processor's domain, read once at start; each body is signed with
SHA-256 (RSA PKCS#1 v1.5 or ECDSA), base64 in `X-OpenDSR-Signature`, the domain in
`X-OpenDSR-Processor-Domain`. Receivers check it against the certificate that `/discovery` names."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from sargs.core.errors import ConfigurationError
from sargs.domains.dsr.callbacks import DOMAIN_HEADER, SIGNATURE_HEADER

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _sign(key: SigningKey, body: bytes) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(body, padding.PKCS1v15(), hashes.SHA256())
    return key.sign(body, ec.ECDSA(hashes.SHA256()))


def verify(certificate: x509.Certificate, body: bytes, signature_b64: str) -> bool:
    """Whether `signature_b64` is the certificate holder's signature of `body` (a receiver's check)."""
    public = certificate.public_key()
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, body, ec.ECDSA(hashes.SHA256()))
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


def domain_of(certificate: x509.Certificate) -> str | None:
    """The certificate's first DNS name (subjectAltName), else its common name."""
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        dns = names.value.get_values_for_type(x509.DNSName)
        if dns:
            return str(dns[0]).lower()
    except x509.ExtensionNotFound:
        pass
    common = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(common[0].value).lower() if common else None


@dataclass(frozen=True)
class ProcessorSigner:
    key: SigningKey
    certificate: x509.Certificate
    chain_pem: bytes  # the certificate file as given (leaf first), served at /discovery's URL
    domain: str

    @classmethod
    def load(cls, key_path: Path, certificate_path: Path) -> ProcessorSigner:
        """Refuses, naming the setting, a missing or unreadable file, a key that is not the
        certificate's, a self-signed certificate (the spec forbids one) and one naming no domain."""
        what = "SARGS_OPENDSR_SIGNING_KEY / SARGS_OPENDSR_CERTIFICATE"
        try:
            chain_pem = certificate_path.read_bytes()
            certificate = x509.load_pem_x509_certificates(chain_pem)[0]
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        except OSError as exc:
            raise ConfigurationError(f"{what}: cannot read {exc.filename}: {exc.strerror}") from exc
        except ValueError as exc:
            raise ConfigurationError(f"{what}: not a PEM key and certificate ({exc})") from exc
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ConfigurationError(f"{what}: the key must be RSA or EC")
        if key.public_key().public_numbers() != certificate.public_key().public_numbers():  # type: ignore[union-attr]
            raise ConfigurationError(f"{what}: the key is not the certificate's")
        if certificate.issuer == certificate.subject:
            raise ConfigurationError(
                f"{what}: the certificate is self-signed; OpenDSR needs one issued by a certification authority"
            )
        domain = domain_of(certificate)
        if not domain:
            raise ConfigurationError(f"{what}: the certificate names no domain (subjectAltName DNS or CN)")
        return cls(key=key, certificate=certificate, chain_pem=chain_pem, domain=domain)

    def sign(self, body: bytes) -> str:
        return base64.b64encode(_sign(self.key, body)).decode()

    def headers(self, body: bytes) -> dict[str, str]:
        return {DOMAIN_HEADER: self.domain, SIGNATURE_HEADER: self.sign(body)}
