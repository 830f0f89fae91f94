"""The emulator's local certificate authority and the files derived from it.

Clients talk to the emulator over real HTTPS (msal refuses anything else), so they must trust a
local CA. Because requests honours ``REQUESTS_CA_BUNDLE`` over ``verify=``, trusting the CA means
handing out one bundle that holds the system CAs *and* the local CA.
"""

from __future__ import annotations

import hashlib
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

CA_CERT = "ca.pem"
CA_KEY = "ca-key.pem"


@dataclass(frozen=True)
class Certificate:
    """A certificate registered for a service principal: what the token endpoint checks."""

    path: Path  # PEM: private key followed by the certificate
    public_key: RSAPublicKey
    sha1_thumbprint: bytes
    sha256_thumbprint: bytes


@dataclass(frozen=True)
class CertificateFiles:
    ca_cert: Path
    ca_bundle: Path
    server_cert: Path
    server_key: Path


def system_ca_file() -> str | None:
    """The CA file this machine's clients trust today, which the bundle must keep trusting."""
    for variable in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        value = os.environ.get(variable)
        if value and os.path.isfile(value):
            return value
    try:
        import certifi
    except ImportError:
        return ssl.get_default_verify_paths().cafile
    return certifi.where()


def _write(path: Path, data: bytes, private: bool = False) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    if private:
        os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def load_or_create_ca(state_dir: Path) -> trustme.CA:
    """Reuse the CA kept in ``state_dir`` so a CA trusted once stays trusted across runs."""
    cert_path, key_path = state_dir / CA_CERT, state_dir / CA_KEY
    if cert_path.is_file() and key_path.is_file():
        return trustme.CA.from_pem(cert_path.read_bytes(), key_path.read_bytes())
    ca = trustme.CA(organization_name="nbauth emulator", organization_unit_name="local test CA")
    _write(key_path, ca.private_key_pem.bytes(), private=True)
    _write(cert_path, ca.cert_pem.bytes())
    return ca


def write_certificate_files(ca: trustme.CA, state_dir: Path) -> CertificateFiles:
    """Write the bundle and a loopback server certificate (also for Azurite and friends)."""
    ca_pem = ca.cert_pem.bytes()
    system = system_ca_file()
    system_pem = Path(system).read_bytes() if system else b""
    if ca_pem in system_pem:  # an emulator bundle handed down through the environment
        bundle = system_pem
    else:
        bundle = system_pem.rstrip(b"\n") + b"\n" + ca_pem if system_pem else ca_pem
    leaf = ca.issue_cert("127.0.0.1", "localhost", "::1")
    return CertificateFiles(
        ca_cert=state_dir / CA_CERT,
        ca_bundle=_write(state_dir / "ca-bundle.pem", bundle),
        server_cert=_write(state_dir / "server.pem", leaf.cert_chain_pems[0].bytes()),
        server_key=_write(state_dir / "server-key.pem", leaf.private_key_pem.bytes(), private=True),
    )


def issue_client_certificate(ca: trustme.CA, path: Path, name: str) -> Certificate:
    """A certificate a service principal signs client assertions with (key + cert in one PEM)."""
    # RSA: azure-identity's CertificateCredential signs assertions with RS256/PS256 only.
    leaf = ca.issue_cert(name, key_type=trustme.KeyType.RSA)
    cert_pem = leaf.cert_chain_pems[0].bytes()
    _write(path, leaf.private_key_pem.bytes() + cert_pem, private=True)
    cert = x509.load_pem_x509_certificate(cert_pem)
    der = cert.public_bytes(serialization.Encoding.DER)
    public_key = cert.public_key()
    assert isinstance(public_key, RSAPublicKey)  # asked of trustme above
    return Certificate(
        path=path,
        public_key=public_key,
        sha1_thumbprint=hashlib.sha1(der).digest(),  # noqa: S324 - x5t is SHA-1 by definition
        sha256_thumbprint=hashlib.sha256(der).digest(),
    )
