"""Suspicion reports: the public form behind a notice's link, and the account's list."""

from django.http import Http404


def report_form(request, token: str):
    raise Http404("not built yet")
