"""The portal's language: chosen with the switcher, remembered per member.

Anonymous visitors keep their choice in Django's language cookie (LocaleMiddleware
reads it, else the browser's Accept-Language). A member's choice is stored on the
user, so it follows them to any browser; at sign-in a choice made on the sign-in page
becomes theirs.
"""

import os

from django.conf import settings
from django.utils import translation
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

SUPPORTED = frozenset(code for code, _name in settings.LANGUAGES)


def language_supported(code: str | None) -> str | None:
    """`code` as one of the portal's languages ("fr-CA" gives "fr"), or None."""
    if not code:
        return None
    code = code.strip().lower().replace("_", "-")
    if code in SUPPORTED:
        return code
    primary = code.split("-", 1)[0]
    return primary if primary in SUPPORTED else None


def member_language_middleware(get_response):
    """After authentication: a member's stored language replaces the cookie's or the
    browser's (LocaleMiddleware ran before the user was known)."""

    def middleware(request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            chosen = language_supported(user.language)
            if chosen and chosen != request.LANGUAGE_CODE:
                translation.activate(chosen)
                request.LANGUAGE_CODE = chosen
            response = get_response(request)
            # The browser remembers it too, so the pages after signing out stay in it.
            if chosen and request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) != chosen:
                _cookie_set(response, chosen)
            return response
        return get_response(request)

    return middleware


def _cookie_set(response, code: str) -> None:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        code,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


@require_POST
def language_set(request):
    """The switcher: Django's set_language (the cookie, and a redirect to `next` on
    this site), and the member's own choice when signed in."""
    response = set_language(request)
    chosen = language_supported(request.POST.get("language"))
    user = request.user
    asked = request.POST.get("language")
    if chosen and asked == chosen and user.is_authenticated and user.language != chosen:
        user.language = chosen
        user.save(update_fields=["language"])
    return response


def member_language_at_signin(*, request, user) -> None:
    """A language chosen with the switcher before signing in (the cookie) becomes the
    member's: it is the latest choice made in this browser, since a member's pages
    keep the cookie in step with their stored language."""
    chosen = language_supported(request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME))
    if chosen and chosen != user.language:
        user.language = chosen
        user.save(update_fields=["language"])


def command_language():
    """The language of a management command's messages, while its handle() runs: the
    first of the portal's languages named by the shell's LANGUAGE ("fr:en", GNU
    gettext's list), else the portal's default (English)."""
    chosen = None
    for code in os.environ.get("LANGUAGE", "").split(":"):
        chosen = language_supported(code.split(".", 1)[0])
        if chosen:
            break
    return translation.override(chosen or settings.LANGUAGE_CODE)
