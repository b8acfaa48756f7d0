"""Log copies a machine trusts (issue 16 point 4): the page names the zip's own SHA-256,
which is what `sha256sum` of the download prints; the manifest inside is signed with the
operator's Ed25519 key, published at a fixed address; the documented one-line checks
(OpenSSL's and `python -m portal.logcopies.verify`) pass on a copy as made and fail on
a copy whose data file or manifest was changed; production without a key fails
`check --deploy`; development makes one key once under var/."""

import ast
import hashlib
import html
import importlib
import io
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.apps import apps
from django.core import checks
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.urls import reverse

from portal.logcopies import keys
from portal.logcopies.models import LogCopyRequest
from portal.logcopies.services import logcopy_generate
from tests import factories
from tests.accounts.auth import signed_in
from tests.conftest import BASE_DIR

pytestmark = pytest.mark.django_db

OPENSSL = shutil.which("openssl")
JQ = shutil.which("jq")


def pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture
def operator_key(settings):
    """A key of the operator's, given as PEM text the way production gives it."""
    key = Ed25519PrivateKey.generate()
    settings.LOGCOPY_SIGNING_KEY = pem(key)
    settings.LOGCOPY_SIGNING_KEY_FILE = ""
    settings.LOGCOPY_SIGNING_KEY_GENERATE = False
    return key


@pytest.fixture
def public_pem(tmp_path, operator_key) -> Path:
    path = tmp_path / "vigil-logcopy-signing-key.pem"
    path.write_bytes(
        operator_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


@pytest.fixture
def ready_copy(acme, sam, media_root, operator_key):
    incident = factories.incident(slug="march-logs")
    for n, phone in enumerate(["+12125550143", "+447700900123", "+4915123456789"]):
        factories.log_record(incident, acme, phone=phone, carrier=f"Carrier {n}")
    copy = LogCopyRequest.objects.create(
        organization=acme, incident=incident, requested_by=sam, reason="SOC case 4711",
        status=LogCopyRequest.Status.APPROVED, format="csv",
    )  # fmt: skip
    return logcopy_generate(copy=copy)


def saved(copy: LogCopyRequest, folder: Path) -> Path:
    path = folder / "copy.zip"
    with copy.file.open("rb") as fh:
        path.write_bytes(fh.read())
    return path


def rewritten(source: Path, target: Path, name: str, change) -> Path:
    """The same zip with one member's bytes changed by `change`."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            data = old.read(info.filename)
            new.writestr(info, change(data) if info.filename == name else data)
    return target


def verify(zip_path: Path, key: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "portal.logcopies.verify", str(zip_path), "--key", str(key)],
        cwd=BASE_DIR, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def openssl_verify(folder: Path, key: Path) -> subprocess.CompletedProcess:
    """The documented line, as a person runs it after unzipping."""
    return subprocess.run(
        [OPENSSL, "pkeyutl", "-verify", "-pubin", "-inkey", str(key), "-rawin",
         "-in", "manifest.json", "-sigfile", "manifest.json.sig"],
        cwd=folder, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def unzipped(zip_path: Path, folder: Path) -> Path:
    folder.mkdir()
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(folder)
    return folder


# --- The page and the download --------------------------------------------------------


def test_sha256sum_of_the_download_matches_the_page(client, sam, ready_copy, tmp_path):
    signed_in(client, sam)
    detail = reverse(
        "logcopies:detail",
        kwargs={"org": ready_copy.organization.public_id, "copy": ready_copy.public_id},
    )
    page = client.get(detail).content.decode()

    # The download, as a person makes it: a link, then the file.
    link = client.post(detail + "link/")
    response = client.get(link.url)
    assert response.status_code == 200
    downloaded = tmp_path / "download.zip"
    downloaded.write_bytes(b"".join(response.streaming_content))

    sha256sum = subprocess.run(
        ["sha256sum", str(downloaded)], capture_output=True, text=True, check=True
    ).stdout.split()[0]
    shown = re.search(r"data-zip-sha256>([0-9a-f]{64})<", page).group(1)
    assert "SHA-256 of the downloaded .zip" in page
    assert shown == sha256sum
    assert f'data-zip-size="{downloaded.stat().st_size}"' in page
    # Beside it, the manifest's own list: each file's name, size and hash, as inside.
    with zipfile.ZipFile(downloaded) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        data = archive.read("messages.csv")
    (listed,) = manifest["files"]
    assert listed == {
        "name": "messages.csv",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    item = re.search(r'<li class="mb-2" data-file="messages.csv">(.*?)</li>', page, re.S).group(1)
    assert f'data-file-size="{len(data)}"' in item
    assert f"data-file-sha256>{listed['sha256']}<" in item
    assert f"data-key-fingerprint>{keys.key_fingerprint()}<" in page


def test_the_manifest_says_what_the_copy_is(ready_copy, tmp_path, operator_key, settings):
    with zipfile.ZipFile(saved(ready_copy, tmp_path)) as archive:
        assert archive.namelist() == ["messages.csv", "manifest.json", "manifest.json.sig"]
        manifest_bytes = archive.read("manifest.json")
        signature = archive.read("manifest.json.sig")
    manifest = json.loads(manifest_bytes)
    assert list(manifest) == [
        "schema_version", "request_id", "account", "incident", "scope", "format",
        "generated_at", "row_count", "files", "signature",
    ]  # fmt: skip
    assert manifest["request_id"] == str(ready_copy.public_id)
    assert manifest["account"]["id"] == ready_copy.organization.account_id
    assert manifest["row_count"] == 3 == ready_copy.rows
    assert manifest["signature"] == {
        "algorithm": "Ed25519",
        "file": "manifest.json.sig",
        "encoding": "raw",
        "key_fingerprint": ready_copy.key_fingerprint,
        "public_key_url": f"{settings.SITE_URL}/.well-known/vigil-logcopy-signing-key.pem",
    }
    assert len(signature) == 64  # raw, not base64
    operator_key.public_key().verify(signature, manifest_bytes)  # raises if it does not


# --- The documented checks ------------------------------------------------------------


def test_the_python_checker_verifies_a_copy_and_every_file(ready_copy, tmp_path, public_pem):
    result = verify(saved(ready_copy, tmp_path), public_pem)

    assert result.returncode == 0, result.stderr
    assert "OK   signature of manifest.json" in result.stdout
    assert "OK   messages.csv:" in result.stdout
    assert result.stdout.strip().endswith("verified")


@pytest.mark.parametrize(
    ("member", "change", "says"),
    [
        # One row's phone changed, the manifest untouched: the hash gives it away.
        ("messages.csv", lambda data: data.replace(b"+12125550143", b"+12125550199"), "SHA-256"),
        # A row dropped.
        ("messages.csv", lambda data: b"\n".join(data.split(b"\n")[:-2]) + b"\n", "bytes"),
        # The manifest changed to match a changed file: the signature gives it away.
        ("manifest.json", lambda data: data.replace(b'"row_count": 3', b'"row_count": 2'), "sig"),
    ],
)
def test_the_python_checker_fails_a_changed_copy(
    ready_copy, tmp_path, public_pem, member, change, says
):
    tampered = rewritten(saved(ready_copy, tmp_path), tmp_path / "tampered.zip", member, change)

    result = verify(tampered, public_pem)

    assert result.returncode == 1
    assert result.stderr.startswith(f"FAIL {member}")
    assert says in result.stderr
    assert "verified" not in result.stdout


def test_the_python_checker_fails_an_added_file_and_another_key(ready_copy, tmp_path, public_pem):
    good = saved(ready_copy, tmp_path)
    with zipfile.ZipFile(good, "a") as archive:
        archive.writestr("extra.csv", b"message_id\nforged\n")
    assert "extra.csv" in verify(good, public_pem).stderr

    other = tmp_path / "other.pem"
    other.write_bytes(
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    result = verify(saved(ready_copy, tmp_path), other)
    assert result.returncode == 1
    assert "does not match" in result.stderr


def test_the_openssl_line_verifies_the_manifest_and_fails_a_changed_one(
    ready_copy, tmp_path, public_pem
):
    assert OPENSSL, "the documented check needs openssl (3.0 or later) on the PATH"
    good = unzipped(saved(ready_copy, tmp_path), tmp_path / "good")
    result = openssl_verify(good, public_pem)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Signature Verified Successfully" in result.stdout

    bad = unzipped(saved(ready_copy, tmp_path), tmp_path / "bad")
    manifest = bad / "manifest.json"
    manifest.write_bytes(manifest.read_bytes().replace(b'"row_count": 3', b'"row_count": 4'))
    result = openssl_verify(bad, public_pem)
    assert result.returncode == 1
    assert "Signature Verification Failure" in result.stdout


def test_the_pages_file_check_passes_a_copy_and_fails_a_changed_row(
    client, sam, ready_copy, tmp_path
):
    # OpenSSL's line checks the manifest's signature only: a row changed in the CSV
    # still passes it. The page's second line checks the files against the manifest;
    # it is run here as the page prints it.
    assert JQ, "the documented file check needs jq on the PATH (.ci/run installs it)"
    signed_in(client, sam)
    page = client.get(
        reverse(
            "logcopies:detail",
            kwargs={"org": ready_copy.organization.public_id, "copy": ready_copy.public_id},
        )
    ).content.decode()
    line = html.unescape(re.search(r"data-verify-files><code>(.*?)</code>", page).group(1))

    good = unzipped(saved(ready_copy, tmp_path), tmp_path / "good")
    passed = subprocess.run(["bash", "-c", line], cwd=good, capture_output=True, text=True)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "messages.csv: OK" in passed.stdout

    bad = unzipped(saved(ready_copy, tmp_path), tmp_path / "bad")
    data = bad / "messages.csv"
    data.write_bytes(data.read_bytes().replace(b"+12125550143", b"+12125550144"))
    failed = subprocess.run(["bash", "-c", line], cwd=bad, capture_output=True, text=True)
    assert failed.returncode == 1
    assert "messages.csv: FAILED" in failed.stdout


def test_the_checker_is_published_and_runs_without_the_portal(
    client, ready_copy, tmp_path, public_pem
):
    response = client.get("/.well-known/vigil-logcopy-verify.py")  # no sign-in

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="vigil-logcopy-verify.py"'
    source = response.content
    assert source == (BASE_DIR / "portal" / "logcopies" / "verify.py").read_bytes()
    # Python and cryptography only: nothing of the portal's, nor Django.
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert not {name for name in imported if name.split(".")[0] in {"portal", "django"}}
    # Run as a SOC runs it: one file in a folder of its own, outside the repository.
    alone = tmp_path / "soc"
    alone.mkdir()
    (alone / "vigil-logcopy-verify.py").write_bytes(source)
    copy = saved(ready_copy, alone)
    ran = subprocess.run(
        [sys.executable, "-I", "vigil-logcopy-verify.py", copy.name, "--key", str(public_pem)],
        cwd=alone, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.stdout.strip().endswith("verified")
    changed = rewritten(
        copy, alone / "changed.zip", "messages.csv", lambda data: data.replace(b"0143", b"0144")
    )
    ran = subprocess.run(
        [sys.executable, "-I", "vigil-logcopy-verify.py", changed.name, "--key", str(public_pem)],
        cwd=alone, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert ran.returncode == 1
    assert "messages.csv" in ran.stdout + ran.stderr


# --- The published key ----------------------------------------------------------------


def test_the_public_key_is_published_at_a_fixed_address(client, ready_copy, public_pem):
    response = client.get("/.well-known/vigil-logcopy-signing-key.pem")  # no sign-in

    assert response.status_code == 200
    assert response.content == public_pem.read_bytes()
    assert response["X-Key-Fingerprint"] == ready_copy.key_fingerprint
    # The fingerprint as the docs say to recompute it from the PEM.
    der = serialization.load_pem_public_key(response.content).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert ready_copy.key_fingerprint == "SHA256:" + hashlib.sha256(der).hexdigest()
    assert "BEGIN PRIVATE KEY" not in response.content.decode()
    assert client.head("/.well-known/vigil-logcopy-signing-key.pem").status_code == 200
    assert client.post("/.well-known/vigil-logcopy-signing-key.pem").status_code == 405


# --- Where the key comes from ---------------------------------------------------------


def test_development_makes_one_key_once_under_var(settings, tmp_path):
    settings.LOGCOPY_SIGNING_KEY = ""
    settings.LOGCOPY_SIGNING_KEY_FILE = str(tmp_path / "var" / "logcopy-signing-key.pem")
    settings.LOGCOPY_SIGNING_KEY_GENERATE = True

    first = keys.key_fingerprint()
    made = tmp_path / "var" / "logcopy-signing-key.pem"
    assert made.stat().st_mode & 0o077 == 0
    keys._loaded.clear()
    assert keys.key_fingerprint() == first  # read back, not made again


def test_a_copy_fails_with_a_reason_when_production_has_no_key(settings, acme, sam, media_root):
    settings.LOGCOPY_SIGNING_KEY = settings.LOGCOPY_SIGNING_KEY_FILE = ""
    settings.LOGCOPY_SIGNING_KEY_GENERATE = False
    incident = factories.incident()
    factories.log_record(incident, acme)
    copy = LogCopyRequest.objects.create(
        organization=acme, incident=incident, requested_by=sam, reason="SOC", status="approved"
    )

    copy = logcopy_generate(copy=copy)

    assert copy.status == LogCopyRequest.Status.FAILED
    assert "key that signs copies is not set up" in copy.failure
    assert not copy.file


def test_check_deploy_fails_without_a_key_in_production(settings):
    settings.DEBUG = False
    settings.LOGCOPY_SIGNING_KEY = settings.LOGCOPY_SIGNING_KEY_FILE = ""
    settings.LOGCOPY_SIGNING_KEY_GENERATE = False

    with pytest.raises(SystemCheckError, match=r"logcopies\.E001"):
        call_command("check", "--deploy", stdout=io.StringIO(), stderr=io.StringIO())
    # Without --deploy (development commands), it is not asked for.
    ids = {message.id for message in checks.run_checks()}
    assert "logcopies.E001" not in ids


def test_check_deploy_passes_with_a_key_and_names_a_bad_one(settings, tmp_path, operator_key):
    settings.DEBUG = False
    ids = {message.id for message in checks.run_checks(include_deployment_checks=True)}
    assert not ids & {"logcopies.E001", "logcopies.E002"}

    rsa_like = tmp_path / "not-ed25519.pem"
    rsa_like.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    settings.LOGCOPY_SIGNING_KEY = ""
    settings.LOGCOPY_SIGNING_KEY_FILE = str(rsa_like)
    errors = [m for m in checks.run_checks() if m.id == "logcopies.E002"]
    assert len(errors) == 1
    assert "not-ed25519.pem" in errors[0].msg
    assert "not an unencrypted PEM private key" in errors[0].msg


def test_the_migration_gives_copies_made_before_their_zips_hash(acme, sam, media_root):
    """A copy made before signing held its data file's hash in `sha256`; migration 0004
    reads its zip once: `sha256` becomes the zip's, the data file's moves to `files`."""
    data = b"message_id,phone\nm-1,+12125550143\n"
    old_manifest = {
        "data_file": "messages.csv",
        "rows": 1,
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("messages.csv", data)
        archive.writestr("manifest.json", json.dumps(old_manifest))
    old = LogCopyRequest.objects.create(
        organization=acme, incident=factories.incident(), requested_by=sam, reason="SOC",
        status=LogCopyRequest.Status.READY, sha256=old_manifest["sha256"], rows=1,
    )  # fmt: skip
    old.file.save("old.zip", ContentFile(buffer.getvalue()), save=True)
    lost = LogCopyRequest.objects.create(
        organization=acme, incident=old.incident, requested_by=sam, reason="SOC",
        status=LogCopyRequest.Status.READY, sha256="ab" * 32, file="log-copies/gone.zip",
    )  # fmt: skip

    migration = importlib.import_module("portal.logcopies.migrations.0004_signed_manifest")
    migration.zip_hashes(apps, None)

    old.refresh_from_db()
    assert old.sha256 == hashlib.sha256(buffer.getvalue()).hexdigest()
    assert old.files == [
        {"name": "messages.csv", "size": len(data), "sha256": old_manifest["sha256"]}
    ]
    assert old.key_fingerprint == ""
    lost.refresh_from_db()
    assert (lost.sha256, lost.files) == ("", [])  # no hash rather than the wrong file's
