# Vigil: one image for web (gunicorn, the default command), the Celery worker and beat.
# docker-compose.yml runs it with PostgreSQL, Redis and Mailpit; docs/configuration.md
# lists the variables it reads.

# The translations, compiled apart so GNU gettext stays out of the image: only the .mo
# files (not committed; `make messages` builds them outside Docker) are copied on.
FROM python:3.13-slim AS messages
RUN apt-get update \
    && apt-get install --yes --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/*
COPY locale /locale
RUN for po in /locale/*/LC_MESSAGES/django.po; do \
        msgfmt --check-format --output-file "${po%.po}.mo" "$po" || exit 1; \
    done

FROM python:3.13-slim

# PYTHONPATH: the code runs from /app, where templates/ and static/ sit beside it
# (BASE_DIR), and `celery --app portal` needs it because celery does not add the cwd.
# STATIC_ROOT: outside the var/ volumes, so mounting one never hides the collected files.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONPATH=/app \
    STATIC_ROOT=/app/staticfiles \
    BIND_HOST=0.0.0.0 \
    PORT=8000

WORKDIR /app

RUN groupadd --system --gid 10001 vigil \
    && useradd --system --uid 10001 --gid vigil --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin vigil

# Dependencies first, the exact versions of requirements/lock-production.txt (made by
# `make lock` from pyproject.toml's ranges: [project].dependencies and the s3 extra
# for FILE_STORAGE=s3; the dev extras stay out of the image), so a code change does
# not reinstall them.
COPY requirements/lock-production.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt && rm /tmp/requirements.txt

COPY . .
COPY --from=messages /locale locale

# The project itself; its dependencies are already in place. Imports still resolve to
# /app first (PYTHONPATH), which is the copy that finds templates/ and static/.
RUN pip install --no-deps . \
    && rm -rf build ./*.egg-info

# Production settings refuse to load without a secret key, allowed hosts and a mail
# server, so this one step gets throwaway values that exist only for this RUN line and
# never reach the image's environment. VAR_DIR points away from /app/var because the
# settings create the SQLite and broker folders of the embedded default when no
# DATABASE_URL or REDIS_URL is set.
RUN DEBUG=false \
    SECRET_KEY=build-only-collectstatic-key-not-used-at-runtime-0123456789 \
    ALLOWED_HOSTS=build.invalid \
    EMAIL_HOST=build.invalid \
    SITE_URL=https://build.invalid \
    VAR_DIR=/tmp/vigil-build \
    python manage.py collectstatic --noinput --verbosity 0 \
    && rm -rf /tmp/vigil-build

# The only places the app writes: uploads and exports (MEDIA_ROOT) and beat's schedule.
# Named volumes mounted here start with this ownership.
RUN mkdir -p /app/var/media && chown -R vigil:vigil /app/var

USER vigil

EXPOSE 8000

# Readiness: /healthz answers 200 only when the database and the broker both answer.
# It is served before host validation, so the probe can use 127.0.0.1.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; r.urlopen('http://127.0.0.1:%s/healthz' % (os.environ.get('PORT') or '8000'), timeout=8)"]

# exec: gunicorn becomes PID 1 and receives docker's SIGTERM for a graceful stop.
# /dev/shm for the worker heartbeat files: the container's overlay disk can stall them.
# No control socket: docker manages the process, and the socket's default place under
# $HOME is not writable for this user (gunicorn would warn at every start).
# GUNICORN_CMD_ARGS adds options (say --timeout 60) without changing the image.
CMD ["sh", "-c", "exec gunicorn portal.wsgi --bind \"${BIND_HOST:-0.0.0.0}:${PORT:-8000}\" --workers \"${WEB_CONCURRENCY:-2}\" --worker-tmp-dir /dev/shm --no-control-socket --access-logfile -"]
