"""The site's URLs plus three that fail on purpose, for the error-page tests: a 400 and a
500 cannot be had from a working page, and allauth's 429 comes only after many tries."""

from allauth.core.ratelimit import respond_429
from django.core.exceptions import SuspiciousOperation
from django.urls import path

from portal.urls import handler500
from portal.urls import urlpatterns as site_urlpatterns


def bad_request(request):
    raise SuspiciousOperation("a request no page would send")


def rate_limited(request):
    return respond_429(request)


def broken(request):
    raise RuntimeError("a bug")


urlpatterns = [
    *site_urlpatterns,
    path("test-errors/400/", bad_request),
    path("test-errors/429/", rate_limited),
    path("test-errors/500/", broken),
]

__all__ = ["handler500", "urlpatterns"]
