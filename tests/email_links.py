"""The links an email holds: each opens a page for the person it was sent to (no link
left pointing at a route that was renamed or never existed)."""

import re

from django.conf import settings

from tests.accounts.auth import signed_in


def site_links(body: str) -> list[str]:
    """The paths of the portal's own links in a plain-text email."""
    links = re.findall(re.escape(settings.SITE_URL) + r"(/[^\s)>\"]*)", body)
    assert links, "the email links to no page"
    return links


def assert_links_open(client, person, body: str, *, but: tuple[str, ...] = ()) -> None:
    signed_in(client, person)
    for path in site_links(body):
        if path in but:
            continue
        response = client.get(path)
        assert response.status_code == 200, f"{path} answered {response.status_code}"
