"""A throwaway CA, a broker certificate for 127.0.0.1 and a client certificate, as PEM files (tests only)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Pki:
    ca: Path  # CA certificate
    broker_keystore: Path  # broker key (PKCS#8) + certificate chain: Kafka's PEM keystore
    client_cert: Path
    client_key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name, issuer_key: ec.EllipticCurvePrivateKey,
          ca: bool, san_ip: str | None = None) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    b = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
         .not_valid_after(now + dt.timedelta(days=2))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if san_ip:
        b = b.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(san_ip)),
                                                         x509.DNSName("localhost")]), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def make_pki(folder: Path) -> Pki:
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("spendwatch test CA", ca_key, _name("spendwatch test CA"), ca_key, ca=True)
    b_key = ec.generate_private_key(ec.SECP256R1())
    broker = _cert("127.0.0.1", b_key, ca.subject, ca_key, ca=False, san_ip="127.0.0.1")
    c_key = ec.generate_private_key(ec.SECP256R1())
    client = _cert("spendwatch-client", c_key, ca.subject, ca_key, ca=False)
    pem = serialization.Encoding.PEM
    pkcs8 = serialization.PrivateFormat.PKCS8
    none = serialization.NoEncryption()
    out = Pki(folder / "ca.pem", folder / "broker.pem", folder / "client.pem", folder / "client.key")
    out.ca.write_bytes(ca.public_bytes(pem))
    out.broker_keystore.write_bytes(b_key.private_bytes(pem, pkcs8, none) + broker.public_bytes(pem)
                                    + ca.public_bytes(pem))
    out.client_cert.write_bytes(client.public_bytes(pem))
    out.client_key.write_bytes(c_key.private_bytes(pem, pkcs8, none))
    return out
