"""Session limits: an idle timeout and an absolute one, both counted server-side.

Django's cookie age alone renews on every save, so it can't bound a session's life; the
sign-in time is kept in the session (set at sign-in) and checked on every request.
"""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect

SIGNED_IN_AT = "vigil_signed_in_at"
LAST_SEEN_AT = "vigil_last_seen_at"
# Writing the session on every request would cost a database write per page; a
# minute's precision is plenty for a limit counted in minutes.
TOUCH_EVERY_SECONDS = 60


def session_limits_middleware(get_response):
    def middleware(request):
        if request.user.is_authenticated:
            now = time.time()
            session = request.session
            signed_in_at = session.get(SIGNED_IN_AT, now)
            last_seen_at = session.get(LAST_SEEN_AT, now)
            reason = None
            if now - signed_in_at > settings.SESSION_ABSOLUTE_MINUTES * 60:
                reason = f"You were signed out: sessions last at most {_hours(settings.SESSION_ABSOLUTE_MINUTES)}."
            elif now - last_seen_at > settings.SESSION_IDLE_MINUTES * 60:
                reason = f"You were signed out after {settings.SESSION_IDLE_MINUTES} minutes without activity."
            if reason:
                logout(request)
                messages.info(request, reason)
                return redirect(settings.LOGIN_URL)
            session.setdefault(SIGNED_IN_AT, now)
            if now - last_seen_at >= TOUCH_EVERY_SECONDS or LAST_SEEN_AT not in session:
                session[LAST_SEEN_AT] = now
        return get_response(request)

    return middleware


def _hours(minutes: int) -> str:
    return (
        f"{minutes // 60} hours" if minutes % 60 == 0 and minutes >= 120 else f"{minutes} minutes"
    )
