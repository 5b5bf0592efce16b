"""The webhook's CA and serving certificate: generation and renewal decisions. Pure (no I/O).
(``generate_client`` makes client certificates, e.g. the local control plane's API server →
node agent certificate.)

The API server calls the webhook over TLS and trusts only the ``caBundle`` of the
ValidatingWebhookConfiguration. Without cert-manager, zenflow keeps its own small CA: a
self-signed CA (10 years) signs a serving certificate (1 year) for the webhook Service's DNS names
(and any extra SANs, e.g. 127.0.0.1 for a local apiserver). Both live in one Secret shared by
every replica (``zenflow.webhook.certstore`` does that I/O).

Invariants:
- A bundle is renewed when anything is missing, when the CA or the serving certificate expires
  within ``renew_before``, when the serving certificate does not cover the required hosts, or when
  it is not signed by the bundle's CA.
- A renewal keeps a still-valid CA (so the caBundle does not change); a new CA keeps the old one in
  ``previous_ca_pem`` while it is unexpired, and the trust bundle holds both, so replicas still
  serving the old certificate stay trusted until they pick up the new one.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_VALIDITY: Final = dt.timedelta(days=3650)
SERVING_VALIDITY: Final = dt.timedelta(days=365)
DEFAULT_RENEW_BEFORE: Final = dt.timedelta(days=30)
# Certificates are valid from a little before "now" so a peer whose clock lags still accepts them.
CLOCK_SKEW: Final = dt.timedelta(minutes=5)

KEY_CA_CERT: Final = "ca.crt"
KEY_CA_KEY: Final = "ca.key"
KEY_TLS_CERT: Final = "tls.crt"
KEY_TLS_KEY: Final = "tls.key"
KEY_PREVIOUS_CA: Final = "ca-previous.crt"


def service_hosts(service: str, namespace: str, extra: Iterable[str] = ()) -> list[str]:
    """The names a webhook Service is reached by, plus ``extra`` SANs (DNS names or IPs)."""
    hosts = [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
    ]
    return hosts + [h for h in extra if h and h not in hosts]


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _san(hosts: Sequence[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


@dataclass(frozen=True)
class CertBundle:
    """PEM bytes of a CA and the serving certificate it signed."""

    ca_cert_pem: bytes
    ca_key_pem: bytes
    cert_pem: bytes
    key_pem: bytes
    previous_ca_pem: bytes = b""

    def trust_bundle(self, *, now: dt.datetime) -> bytes:
        """The caBundle: the CA, plus the previous CA while it is still valid."""
        bundle = self.ca_cert_pem
        if self.previous_ca_pem:
            previous = x509.load_pem_x509_certificate(self.previous_ca_pem)
            if previous.not_valid_after_utc > now:
                bundle = bundle.rstrip(b"\n") + b"\n" + self.previous_ca_pem
        return bundle

    def serving_not_after(self) -> dt.datetime:
        return x509.load_pem_x509_certificate(self.cert_pem).not_valid_after_utc

    def to_secret_data(self) -> dict[str, str]:
        data = {
            KEY_CA_CERT: self.ca_cert_pem,
            KEY_CA_KEY: self.ca_key_pem,
            KEY_TLS_CERT: self.cert_pem,
            KEY_TLS_KEY: self.key_pem,
        }
        if self.previous_ca_pem:
            data[KEY_PREVIOUS_CA] = self.previous_ca_pem
        return {k: base64.b64encode(v).decode() for k, v in data.items()}

    @classmethod
    def from_secret_data(cls, data: Mapping[str, str] | None) -> CertBundle | None:
        """Decode a Secret's ``data``; None when a key is missing or not base64."""
        data = data or {}
        try:
            decoded = {k: base64.b64decode(v, validate=True) for k, v in data.items()}
            return cls(
                ca_cert_pem=decoded[KEY_CA_CERT],
                ca_key_pem=decoded[KEY_CA_KEY],
                cert_pem=decoded[KEY_TLS_CERT],
                key_pem=decoded[KEY_TLS_KEY],
                previous_ca_pem=decoded.get(KEY_PREVIOUS_CA, b""),
            )
        except (KeyError, ValueError):
            return None


def generate_ca(
    *,
    now: dt.datetime,
    validity: dt.timedelta = CA_VALIDITY,
    common_name: str = "zenflow-webhook-ca",
) -> tuple[bytes, bytes]:
    """A self-signed CA certificate and key, as PEM."""
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
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
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def generate_serving(
    *,
    ca_cert_pem: bytes,
    ca_key_pem: bytes,
    hosts: Sequence[str],
    now: dt.datetime,
    validity: dt.timedelta = SERVING_VALIDITY,
) -> tuple[bytes, bytes]:
    """A serving certificate for ``hosts`` signed by the CA, and its key, as PEM."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    return _issue(
        ca_cert_pem=ca_cert_pem,
        ca_key_pem=ca_key_pem,
        subject=subject,
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        san=_san(hosts),
        now=now,
        validity=validity,
    )


def generate_client(
    *,
    ca_cert_pem: bytes,
    ca_key_pem: bytes,
    common_name: str,
    organizations: Sequence[str] = (),
    now: dt.datetime,
    validity: dt.timedelta = SERVING_VALIDITY,
) -> tuple[bytes, bytes]:
    """A client certificate (CN = user, O = groups, as Kubernetes reads them) signed by the CA,
    and its key, as PEM."""
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    attributes += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
    return _issue(
        ca_cert_pem=ca_cert_pem,
        ca_key_pem=ca_key_pem,
        subject=x509.Name(attributes),
        usage=ExtendedKeyUsageOID.CLIENT_AUTH,
        san=None,
        now=now,
        validity=validity,
    )


def _issue(
    *,
    ca_cert_pem: bytes,
    ca_key_pem: bytes,
    subject: x509.Name,
    usage: x509.ObjectIdentifier,
    san: x509.SubjectAlternativeName | None,
    now: dt.datetime,
    validity: dt.timedelta,
) -> tuple[bytes, bytes]:
    """A leaf certificate for ``subject`` with one extended key usage, signed by the CA."""
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError("the CA key must be an EC private key")
    key = _new_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(min(now + validity, ca_cert.not_valid_after_utc))
    )
    if san is not None:
        builder = builder.add_extension(san, critical=False)
    cert = (
        builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def _covers(cert: x509.Certificate, hosts: Sequence[str]) -> bool:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have = {str(v) for v in san.get_values_for_type(x509.DNSName)} | {
        str(v) for v in san.get_values_for_type(x509.IPAddress)
    }
    wanted = {str(ipaddress.ip_address(h)) if _is_ip(h) else h for h in hosts}
    return wanted <= have


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def renewal_reason(
    bundle: CertBundle | None,
    *,
    hosts: Sequence[str],
    now: dt.datetime,
    renew_before: dt.timedelta = DEFAULT_RENEW_BEFORE,
) -> str | None:
    """Why ``bundle`` must be renewed, or None when it is good to keep."""
    if bundle is None:
        return "no certificate yet"
    try:
        ca = x509.load_pem_x509_certificate(bundle.ca_cert_pem)
        cert = x509.load_pem_x509_certificate(bundle.cert_pem)
        serialization.load_pem_private_key(bundle.key_pem, password=None)
        serialization.load_pem_private_key(bundle.ca_key_pem, password=None)
    except ValueError as exc:
        return f"unreadable certificate or key: {exc}"
    if ca.not_valid_after_utc - now < renew_before:
        return f"CA expires at {ca.not_valid_after_utc.isoformat()}"
    if cert.not_valid_after_utc - now < renew_before:
        return f"serving certificate expires at {cert.not_valid_after_utc.isoformat()}"
    if not _covers(cert, hosts):
        return "serving certificate does not cover " + ", ".join(hosts)
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return "serving certificate is not signed by the CA"
    return None


def renew(
    bundle: CertBundle | None,
    *,
    hosts: Sequence[str],
    now: dt.datetime,
    renew_before: dt.timedelta = DEFAULT_RENEW_BEFORE,
    ca_validity: dt.timedelta = CA_VALIDITY,
    serving_validity: dt.timedelta = SERVING_VALIDITY,
) -> CertBundle:
    """A fresh serving certificate; a new CA only when the old one is unusable or expiring."""
    keep_ca = False
    if bundle is not None:
        try:
            ca = x509.load_pem_x509_certificate(bundle.ca_cert_pem)
            serialization.load_pem_private_key(bundle.ca_key_pem, password=None)
            keep_ca = ca.not_valid_after_utc - now >= renew_before
        except ValueError:
            keep_ca = False
    if bundle is not None and keep_ca:
        ca_cert_pem, ca_key_pem, previous = (
            bundle.ca_cert_pem,
            bundle.ca_key_pem,
            bundle.previous_ca_pem,
        )
    else:
        ca_cert_pem, ca_key_pem = generate_ca(now=now, validity=ca_validity)
        previous = bundle.ca_cert_pem if bundle is not None and _still_valid(bundle, now) else b""
    cert_pem, key_pem = generate_serving(
        ca_cert_pem=ca_cert_pem,
        ca_key_pem=ca_key_pem,
        hosts=hosts,
        now=now,
        validity=serving_validity,
    )
    return CertBundle(ca_cert_pem, ca_key_pem, cert_pem, key_pem, previous)


def _still_valid(bundle: CertBundle, now: dt.datetime) -> bool:
    try:
        return x509.load_pem_x509_certificate(bundle.ca_cert_pem).not_valid_after_utc > now
    except ValueError:
        return False
