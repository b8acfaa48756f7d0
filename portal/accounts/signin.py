"""Slowing and stopping guessing: of passwords, on login name and address together; of
second-factor codes, on the account.

After SIGNIN_LOCKOUT_FAILURES failures within SIGNIN_LOCKOUT_WINDOW_MINUTES, the pair
(wrong passwords) or the account (wrong codes, from any address) is locked for
SIGNIN_LOCKOUT_MINUTES. The sign-in forms (ours and the admin's, which redirects to
ours) and the second-factor forms refuse it, before checking anything, with the time to
try again. A full sign-in clears both counts. Every failure is an audit event.
"""

import hashlib
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import ngettext

from portal.accounts.models import SecondFactorThrottle, SignInThrottle
from portal.audit.services import audit_record
from portal.http import client_ip

logger = logging.getLogger(__name__)


def _login_hash(login: str) -> str:
    return hashlib.sha256(login.strip().lower().encode()).hexdigest()


def signin_locked_until(*, login: str, ip: str | None) -> datetime | None:
    """The end of a lockout of this login name from this address, or of its account
    after wrong second-factor codes from anywhere; None when neither is locked."""
    now = timezone.now()
    ends = [
        *SignInThrottle.objects.filter(
            login_hash=_login_hash(login), ip=ip, locked_until__gt=now
        ).values_list("locked_until", flat=True),
        *SecondFactorThrottle.objects.filter(
            user__email__iexact=login.strip(), locked_until__gt=now
        ).values_list("locked_until", flat=True),
    ]
    return max(ends, default=None)


def _failure_counted(throttle, *, now) -> datetime | None:
    """One more failure on a locked row (select_for_update), saved; returns the end of
    the lockout it starts, if it starts one."""
    window = timedelta(minutes=settings.SIGNIN_LOCKOUT_WINDOW_MINUTES)
    if now - throttle.window_started_at > window or throttle.locked_until:
        throttle.failures = 0
        throttle.window_started_at = now
        throttle.locked_until = None
    throttle.failures += 1
    if throttle.failures >= settings.SIGNIN_LOCKOUT_FAILURES:
        throttle.locked_until = now + timedelta(minutes=settings.SIGNIN_LOCKOUT_MINUTES)
    throttle.save(update_fields=["failures", "window_started_at", "locked_until"])
    return throttle.locked_until


def _locked_row(model, defaults: dict, **key):
    """The throttle row for `key`, locked for this transaction; made if it is missing."""
    try:
        with transaction.atomic():
            throttle, _ = model.objects.select_for_update().get_or_create(**key, defaults=defaults)
    except IntegrityError:  # a concurrent first failure created it
        throttle = model.objects.select_for_update().get(**key)
    return throttle


def _lockout_record(*, user, request, locked_until: datetime, failures: int, **details) -> None:
    audit_record(
        action="signin.lockout",
        actor=user,
        request=request,
        details={"until": locked_until.isoformat(), "failures": failures, **details},
    )


def signin_failure_record(*, login: str, request, user=None) -> datetime | None:
    """Count one failed sign-in; returns the lockout's end if this failure started one."""
    ip = client_ip(request)
    now = timezone.now()
    with transaction.atomic():
        throttle = _locked_row(
            SignInThrottle, {"window_started_at": now}, login_hash=_login_hash(login), ip=ip
        )
        if throttle.locked_until and throttle.locked_until > now:
            return None  # already locked: the form refused before checking the password
        locked_until = _failure_counted(throttle, now=now)
        audit_record(
            action="signin.failure",
            actor=user,
            request=request,
            details={"failures": throttle.failures},
        )
        if locked_until:
            _lockout_record(
                user=user, request=request, locked_until=locked_until, failures=throttle.failures
            )
            logger.warning("sign-in locked for one login name and address until %s", locked_until)
    return locked_until


def second_factor_locked_until(*, user) -> datetime | None:
    return (
        SecondFactorThrottle.objects.filter(user=user, locked_until__gt=timezone.now())
        .values_list("locked_until", flat=True)
        .first()
    )


def second_factor_failure_record(
    *, user, request, reauthentication: bool = False, refused: bool = False
) -> datetime | None:
    """Audit one wrong second-factor code (`signin.mfa_failed`, with the address), or
    one `refused` unchecked because the account is locked, and count the wrong ones
    against the account. Returns the lockout's end if this failure started one."""
    now = timezone.now()
    with transaction.atomic():
        throttle = _locked_row(SecondFactorThrottle, {"window_started_at": now}, user=user)
        details = {"reauthentication": reauthentication}
        locked_until = None
        if refused:
            details["refused"] = "locked"
        else:
            locked_until = _failure_counted(throttle, now=now)
            details["failures"] = throttle.failures
        audit_record(action="signin.mfa_failed", actor=user, request=request, details=details)
        if locked_until:
            _lockout_record(
                user=user,
                request=request,
                locked_until=locked_until,
                failures=throttle.failures,
                second_factor=True,
            )
            logger.warning("sign-in locked for one account (second factor) until %s", locked_until)
    return locked_until


def signin_success_clear(*, user, request) -> None:
    """A full sign-in: the password and the second factor were right."""
    SignInThrottle.objects.filter(
        login_hash=_login_hash(user.email), ip=client_ip(request)
    ).delete()
    SecondFactorThrottle.objects.filter(user=user).delete()


def lockout_message(locked_until: datetime) -> str:
    """One message for every lockout, of a password or of a second factor."""
    minutes = max(1, round((locked_until - timezone.now()).total_seconds() / 60))
    return ngettext(
        "Too many failed sign-ins for this email address. Try again after %(time)s UTC "
        "(in about %(minutes)s minute).",
        "Too many failed sign-ins for this email address. Try again after %(time)s UTC "
        "(in about %(minutes)s minutes).",
        minutes,
    ) % {"time": f"{locked_until:%H:%M}", "minutes": minutes}
