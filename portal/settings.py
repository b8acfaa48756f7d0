"""Vigil settings: one module, every value from the environment.

With nothing configured this is the embedded default (SQLite in WAL mode, a broker on
the filesystem, mail written to files, all under var/). With DEBUG=false it is
production: SECRET_KEY, ALLOWED_HOSTS and a real mail server become required, and a
missing or malformed variable stops start-up with its name (see portal/env.py).
The README has a table of every variable.
"""

import secrets
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from portal.env import (
    env_bool,
    env_choice,
    env_database,
    env_database_owner,
    env_float,
    env_int,
    env_list,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", True)


def _embedded_secret_key() -> str:
    # Only for the embedded default: a key made once per checkout and kept under var/,
    # so sessions survive restarts without anyone having to invent one.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


if DEBUG:
    SECRET_KEY = env_str("SECRET_KEY") or _embedded_secret_key()
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
else:
    SECRET_KEY = env_str("SECRET_KEY", required=True)
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
        raise ImproperlyConfigured("SECRET_KEY must be at least 50 random characters.")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is false.")

# Earlier keys, newest first, comma-separated: sessions, links and second-factor secrets
# made under them stay valid while the new SECRET_KEY takes over (docs/configuration.md,
# "Rotating SECRET_KEY"). Held to the same length rule as the key itself.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS")
for _fallback in SECRET_KEY_FALLBACKS:
    if len(_fallback) < 50 or len(set(_fallback)) < 5:
        raise ImproperlyConfigured(
            "Each of SECRET_KEY_FALLBACKS must be at least 50 random characters "
            "(separate them with commas)."
        )

CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# The address links in emails point to; production must say it, or every link breaks.
SITE_URL = env_url("SITE_URL", ("http", "https"))
if SITE_URL is None:
    if not DEBUG:
        raise ImproperlyConfigured("SITE_URL must be set when DEBUG is false.")
    SITE_URL = f"http://127.0.0.1:{env_str('PORT', '8000')}"
SITE_URL = SITE_URL.rstrip("/")

# The operator's Ed25519 key that signs every log copy's manifest (docs/logcopy-formats.md):
# PEM text (newlines may be written as \n, for env files) or the path of a PEM file.
# Production must give one (`manage.py check --deploy` fails without it); in development
# a key is made once under var/ when neither is set, as the SECRET_KEY is.
LOGCOPY_SIGNING_KEY = (env_str("LOGCOPY_SIGNING_KEY") or "").replace("\\n", "\n")
LOGCOPY_SIGNING_KEY_FILE = env_str("LOGCOPY_SIGNING_KEY_FILE") or ""
LOGCOPY_SIGNING_KEY_GENERATE = DEBUG and not (LOGCOPY_SIGNING_KEY or LOGCOPY_SIGNING_KEY_FILE)
if LOGCOPY_SIGNING_KEY_GENERATE:
    LOGCOPY_SIGNING_KEY_FILE = str(VAR_DIR / "logcopy-signing-key.pem")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "crispy_forms",
    "crispy_bootstrap5",
    # The API's browsable docs: Swagger UI from ninja's own static files, no CDN.
    "ninja",
    "portal",
    "portal.accounts",
    "portal.incidents",
    "portal.logcopies",
    "portal.audit",
    "notifications",
    "portal.webhooks",
]

MIDDLEWARE = [
    # First: probes reach /healthz by container IP, which ALLOWED_HOSTS rightly refuses.
    "portal.middleware.healthz_middleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language: the switcher's cookie, else the browser's; a member's own choice
    # replaces both once the user is known (portal.languages, after authentication).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.languages.member_language_middleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Instead of allauth.usersessions.middleware.UserSessionsMiddleware, which writes
    # the session's activity on every request: once a minute (accounts/sessions.py).
    "portal.accounts.sessions.session_activity_middleware",
    "portal.accounts.sessions.session_limits_middleware",
    "portal.accounts.mfa.require_second_factor_middleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            "libraries": {"vigil_fields": "portal.formfields"},
        },
    },
]

# --- Data -------------------------------------------------------------------------

_SQLITE_DEFAULT = {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": str(VAR_DIR / "vigil.sqlite3"),
}
DATABASES = {"default": env_database("DATABASE_URL", _SQLITE_DEFAULT)}
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60, minimum=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while a worker writes; IMMEDIATE takes the write
    # lock at BEGIN so two writers queue on the timeout instead of failing mid-way.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-vigil.sqlite3")}
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
# Least privilege on PostgreSQL (docs/database-roles.md): web, worker and beat connect
# as DATABASE_URL's role, which owns nothing and may only read and append to the audit
# log; `migrate` connects as MIGRATE_DATABASE_URL's, the owner of the tables, and grants
# the app's role what it needs. Unset (the embedded default, development): one role.
_database_owner = env_database_owner("MIGRATE_DATABASE_URL", DATABASES["default"])
DATABASE_ROLES = (
    {
        "owner": _database_owner,
        "app": {
            "USER": DATABASES["default"].get("USER") or "",
            "PASSWORD": DATABASES["default"].get("PASSWORD") or "",
        },
    }
    if _database_owner
    else None
)
# The audit log is append-only (portal/audit/guard.py). Only the test suite, which
# empties its own database after each test that commits, lets `flush` empty it too;
# nothing in the environment can turn this on.
AUDIT_LOG_FLUSHABLE = False

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Files ------------------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"  # never served directly: downloads go through checked views

FILE_STORAGE = env_choice("FILE_STORAGE", ("local", "s3"), "local")
if FILE_STORAGE == "s3":
    try:
        import storages  # noqa: F401
    except ImportError:
        raise ImproperlyConfigured(
            "FILE_STORAGE=s3 needs django-storages: pip install 'vigil[s3]'."
        ) from None
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("S3_BUCKET", required=True),
            "endpoint_url": env_url("S3_ENDPOINT_URL", ("http", "https")),
            "region_name": env_str("S3_REGION"),
            "access_key": env_str("S3_ACCESS_KEY_ID"),
            "secret_key": env_str("S3_SECRET_ACCESS_KEY"),
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT)},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG
if DEBUG:
    # Files come from the finders; the folder only has to exist for whitenoise.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # larger uploads stream to a temporary file
DATA_UPLOAD_MAX_MEMORY_SIZE = 10_485_760
FILE_UPLOAD_TEMP_DIR = env_str("FILE_UPLOAD_TEMP_DIR")

# --- Email ------------------------------------------------------------------------

EMAIL_MODE = env_choice("EMAIL_MODE", ("smtp", "file", "console"), "file" if DEBUG else "smtp")
# Django 6.1's MAILERS (EMAIL_BACKEND and EMAIL_HOST are deprecated). "default" sends
# everything today; a separate alias for bulk notices can come when it is needed.
if EMAIL_MODE == "smtp":
    _email_use_tls = env_bool("EMAIL_USE_TLS", False)
    _email_use_ssl = env_bool("EMAIL_USE_SSL", False)
    if _email_use_tls and _email_use_ssl:
        raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be true.")
    _mailer = {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": env_str("EMAIL_HOST", required=True),
            "port": env_int("EMAIL_PORT", 25, minimum=1),
            "username": env_str("EMAIL_HOST_USER", ""),
            "password": env_str("EMAIL_HOST_PASSWORD", ""),
            "use_tls": _email_use_tls,
            "use_ssl": _email_use_ssl,
            "timeout": env_int("EMAIL_TIMEOUT", 30, minimum=1),
        },
    }
elif EMAIL_MODE == "file":
    MAIL_FILE_DIR = str(VAR_DIR / "mail")
    _mailer = {
        "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "OPTIONS": {"file_path": MAIL_FILE_DIR},
    }
else:
    _mailer = {"BACKEND": "django.core.mail.backends.console.EmailBackend"}
MAILERS = {"default": _mailer}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Vigil <vigil@localhost>")
SERVER_EMAIL = env_str("SERVER_EMAIL", DEFAULT_FROM_EMAIL)

# --- Celery -----------------------------------------------------------------------

REDIS_URL = env_url("REDIS_URL", ("redis", "rediss"))
_FILESYSTEM_BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env_url(
    "CELERY_BROKER_URL",
    ("redis", "rediss", "amqp", "filesystem", "memory"),
    REDIS_URL or "filesystem://localhost/",
)
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The broker that needs no server: one folder is both inbox and outbox, so the
    # web process, the worker and beat on this machine all see the same queue.
    for _sub in ("queue", "processed", "control"):
        (_FILESYSTEM_BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_FILESYSTEM_BROKER_DIR / "queue"),
        "data_folder_out": str(_FILESYSTEM_BROKER_DIR / "queue"),
        "processed_folder": str(_FILESYSTEM_BROKER_DIR / "processed"),
        "store_processed": False,
        "control_folder": str(_FILESYSTEM_BROKER_DIR / "control"),
    }
else:
    # With late acks, Redis hands an unacknowledged task to another worker after this
    # long; it must outlast the longest task, or a slow import would run twice.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * 3600}
CELERY_RESULT_BACKEND = env_url(
    "CELERY_RESULT_BACKEND", ("redis", "rediss", "db+postgresql", "file"), REDIS_URL
)
CELERY_TASK_IGNORE_RESULT = True  # tasks write their outcome to the database
CELERY_TASK_DEFAULT_QUEUE = "default"
WORKER_QUEUES = ("imports", "exports", "notices", "default")
CELERY_TASK_ROUTES = {
    "portal.incidents.imports.tasks.*": {"queue": "imports"},
    "portal.logcopies.tasks.*": {"queue": "exports"},
    "notifications.delivery.tasks.*": {"queue": "notices"},
}
# A task is acknowledged only once it has run, and a worker takes one at a time, so a
# worker that dies mid-task leaves the task for another instead of losing it.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 55 * 60, minimum=10)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 60 * 60, minimum=10)
if CELERY_TASK_TIME_LIMIT <= CELERY_TASK_SOFT_TIME_LIMIT:
    raise ImproperlyConfigured(
        "CELERY_TASK_TIME_LIMIT must be greater than CELERY_TASK_SOFT_TIME_LIMIT."
    )
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# Scheduled work is found in the database by one sweep a minute (DESIGN.md section 6),
# never by a long broker ETA.
CELERY_BEAT_SCHEDULE = {
    "sweep-due-work": {
        "task": "portal.tasks.sweep_due_work",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 55},
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Imports (portal.incidents.imports) ---------------------------------------------
# A dump with more of its rows rejected than this (percent of the rows seen) is held for
# the operator's review instead of published: a file mis-read that badly is more likely
# the wrong file, or a reading the importer gets wrong, than a provider's few bad rows.
# Not below IMPORT_HOLD_MIN_REJECTED rows: one bad line of eight is a bad line.
IMPORT_HOLD_REJECTED_PERCENT = env_float(
    "IMPORT_HOLD_REJECTED_PERCENT", 1.0, minimum=0.0, maximum=100.0
)
IMPORT_HOLD_MIN_REJECTED = env_int("IMPORT_HOLD_MIN_REJECTED", 10, minimum=1)

# --- Vigilance notices (notifications.delivery.sending) --------------------------------------
# A worker claims this many deliveries at once and sends them over one SMTP connection.
NOTICE_BATCH_SIZE = env_int("NOTICE_BATCH_SIZE", 200, minimum=100)
if NOTICE_BATCH_SIZE > 500:
    raise ImproperlyConfigured(f"NOTICE_BATCH_SIZE must be at most 500, not {NOTICE_BATCH_SIZE}.")
# How many sender tasks work on one campaign at once (about the notices workers' count).
NOTICE_SENDERS = env_int("NOTICE_SENDERS", 4, minimum=1)
# A transient SMTP error is retried after NOTICE_RETRY_SECONDS, then twice as long each
# time; the attempt that reaches NOTICE_MAX_ATTEMPTS fails for good.
NOTICE_MAX_ATTEMPTS = env_int("NOTICE_MAX_ATTEMPTS", 5, minimum=1)
NOTICE_RETRY_SECONDS = env_int("NOTICE_RETRY_SECONDS", 60, minimum=1)
# A sender task hands over to a fresh task after this long, so one campaign never holds
# a worker from the others for good.
NOTICE_TASK_SECONDS = env_int("NOTICE_TASK_SECONDS", 60, minimum=1)

# --- Webhooks (portal.webhooks) ------------------------------------------------------
# Endpoints must be https; plain http is for a development machine and the tests.
WEBHOOKS_ALLOW_HTTP = env_bool("WEBHOOKS_ALLOW_HTTP", DEBUG)
# Loopback addresses are refused like every private range (SSRF); only the tests that run
# a receiver on this machine turn this on. Never in production.
WEBHOOKS_ALLOW_LOOPBACK = env_bool("WEBHOOKS_ALLOW_LOOPBACK", False)
# Each socket operation of a delivery (connect, TLS, send, each read) gives up after this.
WEBHOOKS_TIMEOUT_SECONDS = env_int("WEBHOOKS_TIMEOUT_SECONDS", 10, minimum=1)
if WEBHOOKS_TIMEOUT_SECONDS > 30:
    raise ImproperlyConfigured(
        f"WEBHOOKS_TIMEOUT_SECONDS must be at most 30, not {WEBHOOKS_TIMEOUT_SECONDS}."
    )

# --- Cache --------------------------------------------------------------------------
# Shared by every process: allauth keeps used TOTP codes and rate limits here, and a
# per-process cache would let a code be replayed against another gunicorn worker.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "vigil",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Accounts and sign-in ---------------------------------------------------------

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = True
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_TOTP_ISSUER = "Vigil"
MFA_RECOVERY_CODES_SHOW_ONCE = True
# Passkeys need a secure origin; the embedded default serves http://127.0.0.1.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG
ACCOUNT_ADAPTER = "portal.accounts.adapter.AccountAdapter"
MFA_ADAPTER = "portal.accounts.adapter.MFAAdapter"  # TOTP secrets encrypted at rest
ACCOUNT_FORMS = {"login": "portal.accounts.forms.VigilLoginForm"}
# Wrong codes count against the account from any address, and lock it like wrong
# passwords do (portal.accounts.signin).
MFA_FORMS = {
    "authenticate": "portal.accounts.forms.VigilAuthenticateForm",
    "reauthenticate": "portal.accounts.forms.VigilReauthenticateForm",
}
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False  # a reset never signs in, so never skips the factor
# Sensitive actions (revealing a phone, downloading a copy, launching a notice, changing
# factors or roles) ask for the password or factor again after this long.
ACCOUNT_REAUTHENTICATION_TIMEOUT = env_int("REAUTHENTICATION_MINUTES", 10, minimum=1) * 60
# Our lockouts (portal.accounts.signin) work on login name and address together for
# passwords, and on the account for second-factor codes. allauth's own limits on failed
# sign-ins stay as they are by default, behind them: 10 a minute per address and 5 in
# 5 minutes per key (per user for second-factor codes; for passwords the adapter makes
# its key the login name and address, as our lockout is, so that a stranger cannot
# lock a member out everywhere). Plus 30 in 10 minutes per address: the net for one
# address spraying many names.
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/300s/key,30/10m/ip"}
# Calls an API key may make a minute (portal/api/auth.py): over it, 429 with Retry-After.
API_RATE_LIMIT_PER_MINUTE = env_int("API_RATE_LIMIT_PER_MINUTE", 600, minimum=1)
SIGNIN_LOCKOUT_FAILURES = env_int("SIGNIN_LOCKOUT_FAILURES", 5, minimum=1)
SIGNIN_LOCKOUT_WINDOW_MINUTES = env_int("SIGNIN_LOCKOUT_WINDOW_MINUTES", 15, minimum=1)
SIGNIN_LOCKOUT_MINUTES = env_int("SIGNIN_LOCKOUT_MINUTES", 15, minimum=1)
USERSESSIONS_TRACK_ACTIVITY = True

SESSION_IDLE_MINUTES = env_int("SESSION_IDLE_MINUTES", 30, minimum=1)
SESSION_ABSOLUTE_MINUTES = env_int("SESSION_ABSOLUTE_MINUTES", 12 * 60, minimum=5)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_MINUTES * 60
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# --- Security ---------------------------------------------------------------------

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# How many proxies in front of the portal append to X-Forwarded-For. Behind one, every
# client would otherwise share the proxy's address: one guesser could lock everyone out.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 1 if BEHIND_TLS_PROXY else 0, minimum=0)
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT

# Enforced, with nonces: no inline script or style runs without the request's nonce.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

LANGUAGE_CODE = "en"
# The portal's languages, each named in itself for the switcher. The catalogues are
# locale/<code>/LC_MESSAGES/django.po; `make` compiles them (the .mo are not committed).
LANGUAGES = [
    ("en", "English"),
    ("fr", "Français"),
    ("es", "Español"),
    ("de", "Deutsch"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Logging ----------------------------------------------------------------------
# Application logs never carry phone numbers or email addresses: log ids, not people.

LOG_LEVEL = env_choice("LOG_LEVEL", ("debug", "info", "warning", "error"), "info").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "stdout": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
    },
}

# --- Web server -------------------------------------------------------------------

PORT = env_int("PORT", 8000, minimum=1)
BIND_HOST = env_str("BIND_HOST", "127.0.0.1")
WEB_CONCURRENCY = env_int("WEB_CONCURRENCY", 2, minimum=1)
