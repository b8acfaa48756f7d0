"""The error pages: in the site's layout, saying what happened and where to go."""

import re

import pytest
from django.test import Client

from tests.core.test_layout import assert_nothing_inline_without_the_nonce

pytestmark = pytest.mark.django_db


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def assert_in_the_layout(response) -> None:
    html = response.content.decode()
    assert '<nav class="navbar' in html
    assert 'aria-label="Main"' in html
    assert '<main id="main"' in html
    assert 'href="#main"' in html  # the skip link
    assert "<footer" in html
    assert_nothing_inline_without_the_nonce(response)


def test_it_shows_a_missing_page_in_the_layout_with_a_way_home(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert_in_the_layout(response)
    text = text_of(response)
    assert "Page not found · Vigil" in text
    assert "There is no page at this address" in text
    assert "Go to the home page" in text
    assert 'href="/accounts/login/"' in response.content.decode()


def test_it_says_not_found_for_another_accounts_page_without_naming_it(
    client, sign_in, charlie, acme
):
    sign_in(charlie)

    response = client.get(f"/o/{acme.public_id}/")

    assert response.status_code == 404
    text = text_of(response)
    assert "There is no page at this address" in text
    assert "Acme" not in text
    assert "Go to your accounts" in text


def test_it_tells_a_viewer_their_role_does_not_allow_a_page_and_leads_back(
    client, sign_in, vera, acme
):
    sign_in(vera)

    response = client.get(f"/o/{acme.public_id}/settings/")

    assert response.status_code == 403
    assert_in_the_layout(response)
    text = text_of(response)
    assert "Your role does not allow this page" in text
    assert "Your role in this account does not allow this." in text
    assert f'href="/o/{acme.public_id}/"' in response.content.decode()
    assert "Back to the account's home" in text


def test_it_explains_an_expired_form_in_the_layout(sign_in, alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    response = client.post("/accounts/logout/")

    assert response.status_code == 403
    assert_in_the_layout(response)
    assert "This form has expired" in text_of(response)
    assert "Nothing was changed" in text_of(response)


@pytest.mark.urls("tests.core.error_urls")
def test_it_shows_a_bad_request_in_the_layout(client):
    response = client.get("/test-errors/400/")

    assert response.status_code == 400
    assert_in_the_layout(response)
    assert "The portal could not read that request" in text_of(response)


@pytest.mark.urls("tests.core.error_urls")
def test_it_shows_allauths_rate_limit_in_the_layout(client):
    response = client.get("/test-errors/429/")

    assert response.status_code == 429
    assert_in_the_layout(response)
    assert "Too many attempts in a short time" in text_of(response)
    assert "Wait a few minutes" in text_of(response)


@pytest.mark.urls("tests.core.error_urls")
def test_it_shows_a_server_error_in_the_layout_with_the_signed_in_person(alice):
    client = Client(raise_request_exception=False)
    client.force_login(alice)

    response = client.get("/test-errors/500/")

    assert response.status_code == 500
    # Rendered with the request: the layout's scripts carry the nonce, and the navbar
    # knows who is signed in.
    assert_in_the_layout(response)
    assert "alice@acme.example" in text_of(response)
    assert "Something went wrong on our side" in text_of(response)


def test_it_redirects_favicon_ico_to_the_icon_among_the_static_files(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 302
    assert response["Location"] == "/static/img/favicon.ico"
    assert "max-age=86400" in response["Cache-Control"]
    icon = client.get(response["Location"])
    assert icon.status_code == 200
    assert b"".join(icon.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO header


def test_it_tells_a_french_viewer_in_french_why_their_role_stops_them(client, sign_in, vera, acme):
    vera.language = "fr"
    vera.save(update_fields=["language"])
    sign_in(vera)

    response = client.get(f"/o/{acme.public_id}/settings/")

    assert response.status_code == 403
    assert "Your role in this account" not in text_of(response)
