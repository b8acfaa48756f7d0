"""Slowing and stopping password guessing: lockout on login name and IP together.

After SIGNIN_LOCKOUT_FAILURES failures within SIGNIN_LOCKOUT_WINDOW_MINUTES, the pair is
locked for SIGNIN_LOCKOUT_MINUTES; the sign-in forms (ours and the admin's, which
redirects to ours) refuse it with the time to try again. A success clears the count.
"""

import hashlib
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.accounts.models import SignInThrottle
from portal.audit.services import audit_record
from portal.http import client_ip

logger = logging.getLogger(__name__)


def _login_hash(login: str) -> str:
    return hashlib.sha256(login.strip().lower().encode()).hexdigest()


def signin_locked_until(*, login: str, ip: str | None) -> datetime | None:
    throttle = SignInThrottle.objects.filter(login_hash=_login_hash(login), ip=ip).first()
    if throttle and throttle.locked_until and throttle.locked_until > timezone.now():
        return throttle.locked_until
    return None


def signin_failure_record(*, login: str, request, user=None) -> datetime | None:
    """Count one failed sign-in; returns the lockout's end if this failure started one."""
    ip = client_ip(request)
    now = timezone.now()
    window = timedelta(minutes=settings.SIGNIN_LOCKOUT_WINDOW_MINUTES)
    key = _login_hash(login)
    with transaction.atomic():
        try:
            with transaction.atomic():
                throttle, _ = SignInThrottle.objects.select_for_update().get_or_create(
                    login_hash=key, ip=ip, defaults={"window_started_at": now}
                )
        except IntegrityError:  # a concurrent first failure created it
            throttle = SignInThrottle.objects.select_for_update().get(login_hash=key, ip=ip)
        if throttle.locked_until and throttle.locked_until > now:
            return None  # already locked: the form refused before checking the password
        if now - throttle.window_started_at > window or throttle.locked_until:
            throttle.failures = 0
            throttle.window_started_at = now
            throttle.locked_until = None
        throttle.failures += 1
        locked_until = None
        if throttle.failures >= settings.SIGNIN_LOCKOUT_FAILURES:
            locked_until = now + timedelta(minutes=settings.SIGNIN_LOCKOUT_MINUTES)
            throttle.locked_until = locked_until
        throttle.save(update_fields=["failures", "window_started_at", "locked_until"])
        audit_record(
            action="signin.failure",
            actor=user,
            request=request,
            details={"failures": throttle.failures},
        )
        if locked_until:
            audit_record(
                action="signin.lockout",
                actor=user,
                request=request,
                details={"until": locked_until.isoformat(), "failures": throttle.failures},
            )
            logger.warning("sign-in locked for one login name and address until %s", locked_until)
    return locked_until


def signin_success_clear(*, login: str, request) -> None:
    SignInThrottle.objects.filter(login_hash=_login_hash(login), ip=client_ip(request)).delete()


def lockout_message(locked_until: datetime) -> str:
    minutes = max(1, round((locked_until - timezone.now()).total_seconds() / 60))
    return (
        "Too many failed sign-ins for this email address from your network. "
        f"Try again after {locked_until:%H:%M} UTC (in about {minutes} minute"
        f"{'s' if minutes != 1 else ''})."
    )
