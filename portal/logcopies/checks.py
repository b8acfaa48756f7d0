"""System checks of the log-copy signing key (`manage.py check`, `check --deploy`).

Production must name the operator's key: without it no copy can be signed, and a
deployment would find out only when the first copy fails. `check --deploy` says so
before it runs; a key that is named but unreadable, or not Ed25519, is an error for
every `check` (and so for `runserver` and `migrate`), in development too.
"""

from django.conf import settings
from django.core import checks

from portal.logcopies.keys import SigningKeyProblem, signing_key


@checks.register(checks.Tags.security, deploy=True)
def signing_key_set_for_production(app_configs=None, **kwargs):
    if settings.DEBUG or settings.LOGCOPY_SIGNING_KEY or settings.LOGCOPY_SIGNING_KEY_FILE:
        return []
    return [
        checks.Error(
            "No key signs log-copy manifests.",
            hint=(
                "Set LOGCOPY_SIGNING_KEY (PEM text of an Ed25519 private key) or "
                "LOGCOPY_SIGNING_KEY_FILE (its path); make one with `openssl genpkey "
                "-algorithm ed25519 -out logcopy-signing-key.pem` (docs/configuration.md)."
            ),
            id="logcopies.E001",
        )
    ]


@checks.register(checks.Tags.security)
def signing_key_usable(app_configs=None, **kwargs):
    named = settings.LOGCOPY_SIGNING_KEY or (
        settings.LOGCOPY_SIGNING_KEY_FILE and not settings.LOGCOPY_SIGNING_KEY_GENERATE
    )
    if not named:
        return []
    try:
        signing_key()
    except SigningKeyProblem as problem:
        return [checks.Error(str(problem), id="logcopies.E002")]
    return []
