"""A throwaway certificate authority and a server certificate for 127.0.0.1 and localhost, made with trustme."""

from __future__ import annotations

import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .atomic_files import write_atomically

SERVER_NAMES = ("127.0.0.1", "localhost", "::1")
CA_FILE_NAME = "cwsim-ca.pem"


@dataclass(frozen=True)
class LocalTls:
    """The server side of TLS, and the CA file clients trust (`REQUESTS_CA_BUNDLE`)."""

    context: ssl.SSLContext
    ca_file: Path


def local_tls(ca_file: Path | None = None) -> LocalTls:
    """A new CA and server certificate; the CA's certificate is written to `ca_file` (default: a new temp dir)."""
    import trustme  # imported here: with cryptography it is a tenth of a second of every start, needed only with --tls

    authority = trustme.CA(organization_name="cwsim local test CA")
    certificate = authority.issue_cert(*SERVER_NAMES)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    path = Path(ca_file) if ca_file is not None else Path(tempfile.mkdtemp(prefix="cwsim-tls-")) / CA_FILE_NAME
    write_atomically(path.resolve(), authority.cert_pem.bytes())
    return LocalTls(context, path.resolve())
