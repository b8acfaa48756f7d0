"""The portal in English, French, Spanish and German: the switcher, remembered per
member across sign-ins and browsers, and the cookie for everyone else."""

import pytest
from django.conf import settings
from django.contrib.humanize.templatetags.humanize import intcomma
from django.test import Client
from django.utils import translation

from portal.incidents.templatetags.incidents_tags import thousands
from tests import factories
from tests.signin import sign_in

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ["Incident portal", "What the logs held", "Sign in"]),
        ("fr", ["Portail d\u2019incident", "Ce que contenaient les journaux", "Se connecter"]),
        ("es", ["Portal del incidente", "Qué contenían los registros", "Iniciar sesión"]),
        ("de", ["Vorfallportal", "Was die Protokolle enthielten", "Anmelden"]),
    ],
)
def test_it_shows_the_home_page_in_the_chosen_language(client, language, words):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language

    html = client.get("/").content.decode()

    assert f'<html lang="{language}">' in html
    for word in words:
        assert word in html


def test_it_follows_the_browser_until_a_choice_is_made(client):
    html = client.get("/", headers={"accept-language": "de-DE,de;q=0.9"}).content.decode()

    assert "Vorfallportal" in html


def test_it_switches_and_goes_back_to_the_page(client):
    response = client.post("/language/", {"language": "es", "next": "/accounts/login/"})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "es"
    assert "Iniciar sesión" in client.get("/accounts/login/").content.decode()


def test_it_keeps_a_choice_made_before_signing_in(client):
    alice = factories.member(factories.organization("Acme Corp"), "alice@acme.example")
    client.post("/language/", {"language": "fr", "next": "/"})

    sign_in(client, alice)

    alice.refresh_from_db()
    assert alice.language == "fr"
    assert "Se déconnecter" in client.get("/").content.decode()
    # Another browser, with no cookie: the member's own choice.
    elsewhere = Client()
    elsewhere.force_login(alice)
    html = elsewhere.get("/").content.decode()
    assert '<html lang="fr">' in html
    assert "Se déconnecter" in html


def test_it_stores_a_members_choice_and_keeps_it_after_signing_out(client):
    alice = factories.member(factories.organization("Acme Corp"), "alice@acme.example")
    client.force_login(alice)

    client.post("/language/", {"language": "de", "next": "/"})

    alice.refresh_from_db()
    assert alice.language == "de"
    client.post("/accounts/logout/")
    assert "Anmelden" in client.get("/").content.decode()


def test_it_ignores_a_language_the_portal_does_not_have(client):
    alice = factories.member(factories.organization("Acme Corp"), "alice@acme.example")
    client.force_login(alice)

    client.post("/language/", {"language": "xx", "next": "/"})

    alice.refresh_from_db()
    assert alice.language == ""
    assert '<html lang="en">' in client.get("/").content.decode()


@pytest.mark.parametrize(
    ("language", "written"),
    [("en", "20,000"), ("fr", "20\xa0000"), ("es", "20\xa0000"), ("de", "20.000")],
)
def test_it_writes_numbers_the_chosen_languages_way(language, written):
    with translation.override(language):
        assert thousands(20000) == written
        assert intcomma(20000) == written


def test_it_shows_a_members_pages_in_their_language(client):
    organization = factories.organization("Acme Corp")
    alice = factories.member(organization, "alice@acme.example", language="de")
    client.force_login(alice)

    html = client.get(f"/o/{organization.public_id}/").content.decode()

    assert '<html lang="de">' in html
    assert "Kundenkonto" in html
