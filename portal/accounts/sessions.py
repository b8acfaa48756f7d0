"""Session limits: an idle timeout and an absolute one, both counted server-side.

Django's cookie age alone renews on every save, so it can't bound a session's life; the
sign-in time is kept in the session (set at sign-in) and checked on every request.
"""

import time

from allauth.usersessions.internal.usersessionkit import track_activity
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.utils.translation import gettext as _

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
                reason = _("You were signed out: sessions last at most %(span)s.") % {
                    "span": _hours(settings.SESSION_ABSOLUTE_MINUTES)
                }
            elif now - last_seen_at > settings.SESSION_IDLE_MINUTES * 60:
                reason = _("You were signed out after %(minutes)s minutes without activity.") % {
                    "minutes": settings.SESSION_IDLE_MINUTES
                }
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
    if minutes % 60 == 0 and minutes >= 120:
        return _("%(hours)s hours") % {"hours": minutes // 60}
    return _("%(minutes)s minutes") % {"minutes": minutes}


# allauth's UserSessionsMiddleware records a session's activity (USERSESSIONS_TRACK_
# ACTIVITY: its last-seen time, address and browser, shown on "Your sessions") with an
# UPDATE and a commit on every request: 72-145 ms under load. Once a minute per session
# is as precise as that list needs. When it last recorded is kept in the session itself,
# written in the same request as LAST_SEEN_AT (both once a minute), so it costs no write
# of its own, and does not depend on the cache: emptying the cache (a deploy, a Redis
# restart) no longer makes every signed-in page view write again.
ACTIVITY_EVERY_SECONDS = 60
ACTIVITY_AT = "vigil_activity_at"


def session_activity_middleware(get_response):
    def middleware(request):
        session = getattr(request, "session", None)
        if request.user.is_authenticated and session is not None and session.session_key:
            now = time.time()
            if now - session.get(ACTIVITY_AT, 0) >= ACTIVITY_EVERY_SECONDS:
                session[ACTIVITY_AT] = now
                track_activity(request, user=request.user, session=session)
        return get_response(request)

    return middleware
