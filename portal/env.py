"""Strict readers for settings that come from the environment.

Every reader names the variable in its error, so a bad deployment stops at start-up
with a message an operator can act on instead of running on a silent default.
"""

import os
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def env_str(name: str, default: str | None = None, *, required: bool = False) -> str | None:
    value = _raw(name)
    if value is None:
        if required:
            raise ImproperlyConfigured(f"{name} must be set.")
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name} must be a boolean (true/false, 1/0, yes/no, on/off), not {value!r}."
    )


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {number}.")
    return number


def env_float(
    name: str, default: float, *, minimum: float | None = None, maximum: float | None = None
) -> float:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}.") from None
    if number != number or (minimum is not None and number < minimum):  # NaN included
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}.")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, not {value}.")
    return number


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


def env_choice(name: str, choices: tuple[str, ...], default: str) -> str:
    value = _raw(name)
    if value is None:
        return default
    if value.lower() not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}.")
    return value.lower()


def env_url(name: str, schemes: tuple[str, ...], default: str | None = None) -> str | None:
    value = _raw(name)
    if value is None:
        return default
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        raise ImproperlyConfigured(
            f"{name} must be a URL starting with {' or '.join(s + '://' for s in schemes)}, "
            f"not {parts.scheme or 'no scheme'}."
        )
    if parts.scheme not in {"memory", "filesystem"} and not parts.hostname:
        raise ImproperlyConfigured(f"{name} must name a host.")
    try:
        parts.port  # noqa: B018 - urlsplit only checks the port when it is read
    except ValueError:
        raise ImproperlyConfigured(f"{name} has a port that is not a number.") from None
    return value


def env_database(name: str, default: dict) -> dict:
    value = _raw(name)
    if value is None:
        return default
    scheme = urlsplit(value).scheme
    if scheme not in {"postgres", "postgresql", "pgsql", "sqlite"}:
        raise ImproperlyConfigured(
            f"{name} must be a postgres:// or sqlite:// URL, not {scheme or 'no scheme'}."
        )
    try:
        config = dj_database_url.parse(value)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name} is not a valid database URL: {error}") from None
    if config["ENGINE"] == "django.db.backends.postgresql" and not config.get("NAME"):
        raise ImproperlyConfigured(f"{name} must name a database (postgres://host/NAME).")
    return config


def env_database_owner(name: str, database: dict) -> dict | None:
    """The owner's credentials for `database` (the app's connection), from `name`, a URL
    of the same database as another role; None when unset or naming the same role.

    Only the role may differ: a migration run against another database than the one the
    app uses would leave the app's schema behind.
    """
    value = _raw(name)
    if value is None:
        return None
    owner = env_database(name, database)
    if database["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured(
            f"{name} is for PostgreSQL, where migrations run as the owner of the tables "
            "and the app as a role that owns nothing; DATABASE_URL is not a postgres:// URL."
        )
    for key, what in (
        ("ENGINE", "engine"),
        ("HOST", "host"),
        ("PORT", "port"),
        ("NAME", "database"),
    ):
        if str(owner.get(key) or "") != str(database.get(key) or ""):
            raise ImproperlyConfigured(
                f"{name} must name the same {what} as DATABASE_URL; only the user and "
                "password may differ."
            )
    if owner.get("USER") == database.get("USER"):
        return None
    return {"USER": owner.get("USER") or "", "PASSWORD": owner.get("PASSWORD") or ""}
