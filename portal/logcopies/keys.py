"""The operator's Ed25519 key that signs log-copy manifests, and its public half.

Settings (portal/settings.py, docs/configuration.md): `LOGCOPY_SIGNING_KEY` holds the
private key as PEM text, or `LOGCOPY_SIGNING_KEY_FILE` names a PEM file. In development
(DEBUG) with neither, a key is made once into var/logcopy-signing-key.pem and kept, so
copies made on one checkout keep verifying against one key. Production never makes one:
`manage.py check --deploy` fails without it (portal/logcopies/checks.py), and so does
generating a copy.

The fingerprint is the SHA-256 of the public key's DER SubjectPublicKeyInfo, which
anyone can recompute from the published PEM:
`openssl pkey -pubin -in key.pem -outform DER | sha256sum`.
"""

import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PUBLIC_KEY_PATH = "/.well-known/vigil-logcopy-signing-key.pem"
# The checker (portal/logcopies/verify.py) as one file, for a SOC without this repository:
# it needs Python and `cryptography` only.
CHECKER_PATH = "/.well-known/vigil-logcopy-verify.py"

_loaded: dict[tuple, Ed25519PrivateKey] = {}


class SigningKeyProblem(ImproperlyConfigured):
    """No usable signing key; the message names the setting and what is wrong."""


def signing_key() -> Ed25519PrivateKey:
    """The private key the settings name (made first in development, if need be)."""
    source = (
        settings.LOGCOPY_SIGNING_KEY,
        settings.LOGCOPY_SIGNING_KEY_FILE,
        settings.LOGCOPY_SIGNING_KEY_GENERATE,
    )
    key = _loaded.get(source)
    if key is None:
        key = _loaded[source] = _load(*source)
    return key


def _load(pem: str, path: str, generate: bool) -> Ed25519PrivateKey:
    if pem:
        return _parse(pem.encode(), "LOGCOPY_SIGNING_KEY")
    if not path:
        raise SigningKeyProblem(
            "No key signs log-copy manifests: set LOGCOPY_SIGNING_KEY (PEM text) or "
            "LOGCOPY_SIGNING_KEY_FILE (a PEM file of an Ed25519 private key; make one with "
            "`openssl genpkey -algorithm ed25519 -out logcopy-signing-key.pem`)."
        )
    file = Path(path)
    if generate and not file.exists():
        _generate_into(file)
    try:
        data = file.read_bytes()
    except OSError as error:
        raise SigningKeyProblem(
            f"LOGCOPY_SIGNING_KEY_FILE {path!r} cannot be read: {error.strerror}."
        ) from error
    return _parse(data, f"LOGCOPY_SIGNING_KEY_FILE ({path})")


def _parse(data: bytes, where: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise SigningKeyProblem(
            f"{where} is not an unencrypted PEM private key ({error})."
        ) from error
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyProblem(
            f"{where} holds a {type(key).__name__.removeprefix('_')}, not an Ed25519 key."
        )
    return key


def _generate_into(file: Path) -> None:
    """A new key, written only if no other process wrote one first (O_EXCL)."""
    file.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(descriptor, "wb") as out:
        out.write(pem)


def sign(data: bytes) -> bytes:
    """The raw 64-byte Ed25519 signature of `data`."""
    return signing_key().sign(data)


def public_key_pem() -> bytes:
    return (
        signing_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def key_fingerprint() -> str:
    """`SHA256:` and the hex SHA-256 of the public key's DER SubjectPublicKeyInfo."""
    der = (
        signing_key()
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return "SHA256:" + hashlib.sha256(der).hexdigest()
