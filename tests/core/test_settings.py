"""Settings come from the environment and refuse bad values by name."""

import os
import secrets
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.conftest import BASE_DIR

# As in an env file: the PEM on one line, its newlines written \n.
SIGNING_KEY = (
    Ed25519PrivateKey.generate()
    .private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    .decode()
    .replace("\n", "\\n")
)

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "vigil.example.com",
    "EMAIL_HOST": "smtp.example.com",
    "DATABASE_URL": "postgres://vigil@db.example.com:5432/vigil",
    "REDIS_URL": "redis://redis.example.com:6379/0",
    "SITE_URL": "https://vigil.example.com",
    "LOGCOPY_SIGNING_KEY": SIGNING_KEY,
}


def _manage(tmp_path, *args, **env):
    clean = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    clean.update(VAR_DIR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "maybe"}, "DEBUG must be a boolean"),
        ({"PORT": "eighty"}, "PORT must be a whole number"),
        ({"PORT": "0"}, "PORT must be at least 1"),
        ({"DATABASE_URL": "mysql://db/vigil"}, "DATABASE_URL must be a postgres:// or sqlite://"),
        ({"DATABASE_URL": "postgres://db:notaport/vigil"}, "DATABASE_URL"),
        ({"REDIS_URL": "http://localhost:6379"}, "REDIS_URL must be a URL starting with redis://"),
        ({"REDIS_URL": "redis://localhost:port/0"}, "REDIS_URL has a port that is not a number"),
        ({"EMAIL_MODE": "pigeon"}, "EMAIL_MODE must be one of smtp, file, console"),
        ({"FILE_STORAGE": "s3", "S3_BUCKET": ""}, "needs django-storages"),
        (
            {"CELERY_TASK_TIME_LIMIT": "60", "CELERY_TASK_SOFT_TIME_LIMIT": "90"},
            "CELERY_TASK_TIME_LIMIT",
        ),
        (
            {"MIGRATE_DATABASE_URL": "postgres://vigil_owner@db.example.com:5432/vigil"},
            "MIGRATE_DATABASE_URL is for PostgreSQL",
        ),
        (
            {
                **PRODUCTION,
                "MIGRATE_DATABASE_URL": "postgres://vigil_owner@other.example.com/vigil",
            },
            "MIGRATE_DATABASE_URL must name the same host as DATABASE_URL",
        ),
        (
            {
                **PRODUCTION,
                "MIGRATE_DATABASE_URL": "postgres://vigil_owner@db.example.com:5432/other",
            },
            "MIGRATE_DATABASE_URL must name the same database as DATABASE_URL",
        ),
        ({**PRODUCTION, "SECRET_KEY": ""}, "SECRET_KEY must be set"),
        ({**PRODUCTION, "SECRET_KEY": "short"}, "SECRET_KEY must be at least 50"),
        ({**PRODUCTION, "ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS must be set"),
        ({**PRODUCTION, "EMAIL_HOST": ""}, "EMAIL_HOST must be set"),
        ({**PRODUCTION, "SITE_URL": ""}, "SITE_URL must be set"),
        (
            {**PRODUCTION, "SITE_URL": "vigil.example.com"},
            "SITE_URL must be a URL starting with http",
        ),
        ({**PRODUCTION, "SECURE_HSTS_SECONDS": "a year"}, "SECURE_HSTS_SECONDS"),
    ],
)
def test_it_refuses_a_bad_setting_and_names_it(tmp_path, env, message):
    result = _manage(tmp_path, "check", **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_it_starts_with_nothing_configured(tmp_path):
    result = _manage(tmp_path, "check")
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
    # The embedded default keeps its secret key under var/, readable by the owner only.
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_it_passes_the_deployment_checklist_with_production_values(tmp_path):
    result = _manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_deployment_checklist_fails_without_a_log_copy_signing_key(tmp_path):
    result = _manage(tmp_path, "check", "--deploy", **{**PRODUCTION, "LOGCOPY_SIGNING_KEY": ""})
    assert result.returncode != 0
    assert "logcopies.E001" in result.stderr
    assert "No key signs log-copy manifests" in result.stderr
    # Production never makes a key of its own.
    assert not (tmp_path / "logcopy-signing-key.pem").exists()
