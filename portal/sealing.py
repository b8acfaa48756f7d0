"""Values kept encrypted at rest with a key derived from SECRET_KEY, one key per
purpose, and opened with SECRET_KEY or any of SECRET_KEY_FALLBACKS, so that rotating
the key loses nothing (docs/configuration.md, "Rotating SECRET_KEY").

Used for what the portal must read back and a database dump must not give away: the
members' authenticator-app secrets (portal.accounts.adapter) and the webhook
endpoints' signing secrets (SealedCharField)."""

import base64
import hashlib
import logging

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models

logger = logging.getLogger(__name__)

# What a sealed column's value starts with; a value without it was written before the
# column was sealed, and is read as it is (the migration that seals it re-saves it).
SEALED = "sealed:"


def sealing_keys(purpose: str) -> MultiFernet:
    """The keys of one purpose: SECRET_KEY's first (it seals), then each fallback's."""
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet(
        [
            Fernet(
                base64.urlsafe_b64encode(hashlib.sha256(f"vigil.{purpose}:{s}".encode()).digest())
            )
            for s in secrets
        ]
    )


class SealedCharField(models.CharField):
    """A text the model reads and writes in the clear and the database holds sealed.

    A value no key opens (SECRET_KEY changed without the old one among the fallbacks)
    reads as "": what holds it must say so and have it replaced; the log says which
    purpose, never the value."""

    def __init__(self, *args, purpose: str, **kwargs):
        self.purpose = purpose
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["purpose"] = self.purpose
        return name, path, args, kwargs

    def from_db_value(self, value, expression, connection):
        if not value or not value.startswith(SEALED):
            return value
        try:
            return sealing_keys(self.purpose).decrypt(value[len(SEALED) :].encode()).decode()
        except InvalidToken:
            logger.error(
                "A sealed %s value cannot be opened with SECRET_KEY or any of the %d "
                "SECRET_KEY_FALLBACKS",
                self.purpose,
                len(getattr(settings, "SECRET_KEY_FALLBACKS", [])),
            )
            return ""

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return value
        return SEALED + sealing_keys(self.purpose).encrypt(value.encode()).decode()
