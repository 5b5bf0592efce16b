"""CA and serving certificate generation and renewal decisions (zenflow.certs).

Aspects: a fresh bundle covers DNS and IP hosts and chains to its CA; renewal reasons (missing,
unreadable, serving or CA expiring within the threshold, hosts changed, foreign signer); renewal
keeps a valid CA (so the caBundle is stable) and rotates an expiring one while keeping the old CA
in the trust bundle until it expires; the Secret data round-trip; a client certificate names
its user and groups (CN, O), is for client auth only and chains to its CA.
"""

from __future__ import annotations

import datetime as dt
import ipaddress

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from zenflow.certs import (
    CertBundle,
    generate_ca,
    generate_client,
    renew,
    renewal_reason,
    service_hosts,
)

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
HOSTS = service_hosts("zenflow-webhook", "zenflow-system", ["127.0.0.1"])


@pytest.fixture(scope="module")
def bundle() -> CertBundle:
    return renew(None, hosts=HOSTS, now=NOW)


def test_service_hosts() -> None:
    assert HOSTS == [
        "zenflow-webhook",
        "zenflow-webhook.zenflow-system",
        "zenflow-webhook.zenflow-system.svc",
        "zenflow-webhook.zenflow-system.svc.cluster.local",
        "127.0.0.1",
    ]


def test_fresh_bundle_covers_hosts_and_chains(bundle: CertBundle) -> None:
    cert = x509.load_pem_x509_certificate(bundle.cert_pem)
    ca = x509.load_pem_x509_certificate(bundle.ca_cert_pem)
    cert.verify_directly_issued_by(ca)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "zenflow-webhook.zenflow-system.svc" in san.get_values_for_type(x509.DNSName)
    assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert renewal_reason(bundle, hosts=HOSTS, now=NOW) is None


def test_secret_data_round_trip(bundle: CertBundle) -> None:
    data = bundle.to_secret_data()
    assert set(data) == {"ca.crt", "ca.key", "tls.crt", "tls.key"}
    assert CertBundle.from_secret_data(data) == bundle
    assert CertBundle.from_secret_data({"tls.crt": data["tls.crt"]}) is None
    assert CertBundle.from_secret_data({**data, "ca.key": "%%%"}) is None
    assert CertBundle.from_secret_data(None) is None


@pytest.mark.parametrize(
    ("when", "hosts", "needle"),
    [
        pytest.param(NOW + dt.timedelta(days=300), HOSTS, None, id="fine-at-300-days"),
        pytest.param(
            NOW + dt.timedelta(days=340),
            HOSTS,
            "serving certificate expires",
            id="serving-within-30-days",
        ),
        pytest.param(NOW + dt.timedelta(days=3630), HOSTS, "CA expires", id="ca-within-30-days"),
        pytest.param(NOW, [*HOSTS, "other.example"], "does not cover", id="new-host"),
    ],
)
def test_renewal_reason(
    bundle: CertBundle, when: dt.datetime, hosts: list[str], needle: str | None
) -> None:
    reason = renewal_reason(bundle, hosts=hosts, now=when)
    if needle is None:
        assert reason is None
    else:
        assert reason is not None
        assert needle in reason


def test_renewal_reason_missing_unreadable_and_foreign(bundle: CertBundle) -> None:
    assert renewal_reason(None, hosts=HOSTS, now=NOW) == "no certificate yet"
    broken = CertBundle(b"junk", bundle.ca_key_pem, bundle.cert_pem, bundle.key_pem)
    assert (renewal_reason(broken, hosts=HOSTS, now=NOW) or "").startswith("unreadable")
    other = renew(None, hosts=HOSTS, now=NOW)
    mixed = CertBundle(other.ca_cert_pem, other.ca_key_pem, bundle.cert_pem, bundle.key_pem)
    assert renewal_reason(mixed, hosts=HOSTS, now=NOW) == (
        "serving certificate is not signed by the CA"
    )


def test_renew_keeps_a_valid_ca(bundle: CertBundle) -> None:
    later = NOW + dt.timedelta(days=340)
    renewed = renew(bundle, hosts=HOSTS, now=later)
    assert renewed.ca_cert_pem == bundle.ca_cert_pem
    assert renewed.cert_pem != bundle.cert_pem
    assert renewal_reason(renewed, hosts=HOSTS, now=later) is None
    assert renewed.trust_bundle(now=later) == bundle.ca_cert_pem


def test_renew_rotates_an_expiring_ca_and_keeps_trusting_the_old(bundle: CertBundle) -> None:
    later = NOW + dt.timedelta(days=3630)
    rotated = renew(bundle, hosts=HOSTS, now=later)
    assert rotated.ca_cert_pem != bundle.ca_cert_pem
    assert rotated.previous_ca_pem == bundle.ca_cert_pem
    assert renewal_reason(rotated, hosts=HOSTS, now=later) is None
    trust = rotated.trust_bundle(now=later)
    assert rotated.ca_cert_pem.strip() in trust
    assert bundle.ca_cert_pem.strip() in trust
    # once the old CA has expired it leaves the trust bundle
    assert rotated.trust_bundle(now=NOW + dt.timedelta(days=3700)) == rotated.ca_cert_pem
    assert CertBundle.from_secret_data(rotated.to_secret_data()) == rotated


def test_client_certificate() -> None:
    ca_pem, ca_key = generate_ca(now=NOW)
    cert_pem, _key = generate_client(
        ca_cert_pem=ca_pem, ca_key_pem=ca_key, common_name="alice", organizations=["team"], now=NOW
    )
    cert = x509.load_pem_x509_certificate(cert_pem)
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca_pem))
    assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == ["alice"]
    assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == [
        "team"
    ]
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
