"""Self-signed certificates for the lab's TLS services, one per device.

One EC P-256 key serves every certificate (generating a key per device would cost start-up
time for nothing: nobody checks the lab's keys). A certificate names its device (CN and a
DNS name) and its management address (IP SAN). Healthy certificates expire 90 to 700 days
after the lab starts; a ``cert-expiry`` fault loads one that expires in N days (N <= 0:
already expired) into the device's TLS context, which new handshakes then present. Python's
ssl module loads certificates only from files, so they are written to a private temporary
folder that the store deletes when closed.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import ssl
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from branchops.lab.sim import noise
from branchops.lab.sim.model import SimDevice

ORGANISATION = "Example Securities (BranchOps lab)"
DAY = dt.timedelta(days=1)


class CertificateStore:
    def __init__(self) -> None:
        self._folder = Path(tempfile.mkdtemp(prefix="branchops-lab-tls-"))
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._key_path = self._folder / "key.pem"
        self._key_path.write_bytes(
            self._key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._loaded: dict[str, tuple[int | None, dt.datetime]] = {}  # cert_days, not after
        self._healthy: dict[str, x509.Certificate] = {}  # what a healed device goes back to
        self._written = 0

    def context(self, device: SimDevice, now: float) -> ssl.SSLContext:
        """The device's server context, presenting the certificate its state calls for."""
        context = self._contexts.get(device.name)
        if context is None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            self._contexts[device.name] = context
        loaded = self._loaded.get(device.name)
        if loaded is None or loaded[0] != device.cert_days:
            self._load(context, device, now)
        return context

    def not_after(self, device: SimDevice, now: float) -> dt.datetime:
        self.context(device, now)
        return self._loaded[device.name][1]

    def _load(self, context: ssl.SSLContext, device: SimDevice, now: float) -> None:
        if device.cert_days is None:
            certificate = self._healthy.get(device.name) or self.certificate(device, now)
            self._healthy[device.name] = certificate
        else:
            certificate = self.certificate(device, now)
        self._written += 1
        path = self._folder / f"{self._written}.pem"
        path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        context.load_cert_chain(path, self._key_path)
        path.unlink()
        self._loaded[device.name] = (device.cert_days, certificate.not_valid_after_utc)

    def certificate(self, device: SimDevice, now: float) -> x509.Certificate:
        started = dt.datetime.fromtimestamp(now, dt.UTC).replace(microsecond=0)
        if device.cert_days is None:
            not_after = started + DAY * (90 + int(610 * noise.unit(device.key, 21)))
        else:
            not_after = started + DAY * device.cert_days
        not_before = min(not_after - DAY * 365, started - DAY * 30)
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, device.name),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
            ]
        )
        alt_names = x509.SubjectAlternativeName(
            [
                x509.DNSName(f"{device.name.lower()}.lab.example"),
                x509.IPAddress(ipaddress.IPv4Address(device.address)),
            ]
        )
        return (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number((noise.derive(device.key, device.cert_days or 0) >> 1) | 1)
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(alt_names, critical=False)
            .sign(self._key, hashes.SHA256())
        )

    def close(self) -> None:
        self._contexts.clear()
        shutil.rmtree(self._folder, ignore_errors=True)
