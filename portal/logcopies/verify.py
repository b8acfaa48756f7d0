"""Verify a downloaded log copy: the manifest's signature, then every file's hash.

    python -m portal.logcopies.verify copy.zip --key vigil-logcopy-signing-key.pem

The key is the operator's public key, as published at
/.well-known/vigil-logcopy-signing-key.pem. Checks, in order: the zip holds
manifest.json and manifest.json.sig (a raw 64-byte Ed25519 signature of manifest.json's
exact bytes); the signature is valid for that key; every file the manifest lists is in
the zip with the listed size and SHA-256; the zip holds nothing the manifest does not
list. Prints one line per check; exit status 0 when all hold, 1 when one fails (the
message says which file and why), 2 for a bad command line or an unreadable key.

Needs only the standard library and `cryptography`: no database, no settings.
The same check without Python, for the signature alone:

    openssl pkeyutl -verify -pubin -inkey key.pem -rawin -in manifest.json -sigfile manifest.json.sig
"""

import argparse
import hashlib
import json
import sys
import zipfile
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.json.sig"
_CHUNK = 1 << 20


class VerificationError(Exception):
    """The copy does not verify; the message says where and why."""


def public_key_load(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as error:
        raise ValueError(f"{path}: cannot read the key ({error.strerror}).") from error
    except ValueError as error:
        raise ValueError(f"{path}: not a PEM public key ({error}).") from error
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path}: not an Ed25519 public key.")
    return key


def fingerprint(key: Ed25519PublicKey) -> str:
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "SHA256:" + hashlib.sha256(der).hexdigest()


def copy_verify(zip_path: Path, key: Ed25519PublicKey) -> list[str]:
    """The checks that held, one line each; raises VerificationError at the first
    that does not."""
    try:
        archive = zipfile.ZipFile(zip_path)
    except (OSError, zipfile.BadZipFile) as error:
        raise VerificationError(f"{zip_path}: not a readable zip file ({error}).") from error
    with archive:
        names = archive.namelist()
        for needed in (MANIFEST_NAME, SIGNATURE_NAME):
            if needed not in names:
                raise VerificationError(f"{zip_path}: {needed} is missing from the zip.")
        manifest_bytes = archive.read(MANIFEST_NAME)
        signature = archive.read(SIGNATURE_NAME)
        try:
            key.verify(signature, manifest_bytes)
        except InvalidSignature as error:
            raise VerificationError(
                f"{MANIFEST_NAME}: the signature in {SIGNATURE_NAME} does not match it for "
                f"the key {fingerprint(key)} (the manifest was changed, or another key "
                "signed it)."
            ) from error
        done = [f"OK   signature of {MANIFEST_NAME} (Ed25519, key {fingerprint(key)})"]
        try:
            manifest = json.loads(manifest_bytes)
            files = manifest["files"]
            listed = [(entry["name"], int(entry["size"]), entry["sha256"]) for entry in files]
        except (ValueError, KeyError, TypeError) as error:
            raise VerificationError(
                f"{MANIFEST_NAME}: signed, but not a manifest with a list of files ({error})."
            ) from error
        for name, size, sha256 in listed:
            done.append(_file_check(archive, names, name, size, sha256))
        unlisted = sorted(set(names) - {MANIFEST_NAME, SIGNATURE_NAME} - {n for n, *_ in listed})
        if unlisted:
            raise VerificationError(
                f"{zip_path}: holds files the manifest does not list: {', '.join(unlisted)}."
            )
        rows = manifest.get("row_count")
        done.append(
            f"OK   {len(listed)} file(s) as listed; {rows} row(s) of request "
            f"{manifest.get('request_id')}"
        )
    return done


def _file_check(archive: zipfile.ZipFile, names: list[str], name: str, size: int, sha256: str):
    if name not in names:
        raise VerificationError(f"{name}: listed in the manifest, missing from the zip.")
    digest, length = hashlib.sha256(), 0
    with archive.open(name) as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
            length += len(block)
    if length != size:
        raise VerificationError(f"{name}: {length} bytes in the zip, {size} in the manifest.")
    if digest.hexdigest() != sha256:
        raise VerificationError(
            f"{name}: SHA-256 {digest.hexdigest()} in the zip, {sha256} in the manifest."
        )
    return f"OK   {name}: {size} bytes, SHA-256 {sha256}"


def main(argv: list[str] | None = None) -> int:
    # The program's name as it was run: `python -m portal.logcopies.verify` in the
    # repository, or the one file a team downloaded (vigil-logcopy-verify.py).
    parser = argparse.ArgumentParser(
        prog=f"python -m {__spec__.name}" if __spec__ and __package__ else None,
        description="Verify a Vigil log copy: the manifest's signature and every file's hash.",
    )
    parser.add_argument("copy", type=Path, help="the downloaded .zip")
    parser.add_argument("--key", type=Path, required=True, help="the operator's public key (PEM)")
    arguments = parser.parse_args(argv)
    try:
        key = public_key_load(arguments.key)
    except ValueError as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    try:
        lines = copy_verify(arguments.copy, key)
    except VerificationError as failure:
        sys.stderr.write(f"FAIL {failure}\n")
        return 1
    sys.stdout.write("\n".join([*lines, "verified"]) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
