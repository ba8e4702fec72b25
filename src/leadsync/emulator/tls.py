"""A throwaway certificate authority for the Salesforce emulator.

simple-salesforce always speaks https to the instance (it builds `https://{instance}`), so the
emulator must serve real TLS. A CA generated at start (trustme) signs a server certificate for
the loopback names; the CA certificate is written to a file whose absolute path goes into the
ready JSON as `ca_bundle`, so clients trust exactly this run's emulator and nothing else.
"""

from __future__ import annotations

import shutil
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import trustme

_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def _names_for(host: str) -> list[str]:
    """Loopback names always, plus the listen host when it is a concrete name or address."""
    names = list(_LOOPBACK_NAMES)
    if host and host not in names and host not in ("0.0.0.0", "::"):
        names.append(host)  # trustme makes an IP SAN or a DNS SAN as fits
    return names


@dataclass
class TlsMaterial:
    """A server SSL context and the CA file that verifies it; `cleanup()` removes the file."""

    ssl_context: ssl.SSLContext
    ca_bundle: Path
    _tmpdir: Path = field(repr=False)

    def cleanup(self) -> None:
        shutil.rmtree(self._tmpdir, ignore_errors=True)


def make_tls(host: str = "127.0.0.1") -> TlsMaterial:
    """Generate a CA and a server certificate for `host` and the loopback names.

    ECDSA keys (trustme's default) keep this to a few milliseconds, so every emulator start
    (and every test) gets its own CA.
    """
    ca = trustme.CA(organization_name="leadsync emulator")
    cert = ca.issue_cert(*_names_for(host))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    tmpdir = Path(tempfile.mkdtemp(prefix="leadsync-emulator-tls-"))
    ca_path = (tmpdir / "ca.pem").resolve()
    ca.cert_pem.write_to_path(str(ca_path))
    return TlsMaterial(ssl_context=ctx, ca_bundle=ca_path, _tmpdir=tmpdir)
