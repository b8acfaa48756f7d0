"""API keys in a real browser, under the enforced Content Security Policy: an owner
makes a key on the settings page, sees it once, the key opens the API, and revoking it
closes the API again; the API's docs page (Swagger UI from our own static files) works
under the same policy."""

import pytest
from django.test import Client
from playwright.sync_api import expect

from portal.accounts.roles import Role
from tests import factories
from tests.browser.axe import axe_run
from tests.browser.test_logcopies import signed_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_owner_makes_a_key_sees_it_once_and_revokes_it(page, live_server, screenshot):
    acme = factories.organization("Acme Corp")
    breach = factories.incident(title="Telephony provider breach")
    factories.exposure(breach, acme)
    alice = factories.member(acme, "alice@acme.example", Role.OWNER)
    signed_in_browser(page, live_server, alice)

    page.goto(f"{live_server.url}/o/{acme.public_id}/settings/")
    page.get_by_role("link", name="API keys").click()
    page.get_by_role("textbox", name="Name").fill("SIEM sync")
    page.get_by_label("See dashboards and exposed users").check()
    page.get_by_role("button", name="Make the key").click()

    shown = page.locator("#new-key")
    expect(shown).to_be_visible()
    presented = shown.input_value()
    assert presented.startswith("vgl_")
    failing, _ = axe_run(page)
    assert failing == []
    screenshot(page, "key-shown-once")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {presented}")
    listed = api.get("/api/v1/incidents").json()["items"]
    assert [incident["title"] for incident in listed] == ["Telephony provider breach"]

    page.goto(f"{live_server.url}/o/{acme.public_id}/settings/api-keys/")
    expect(page.locator("#new-key")).to_have_count(0)  # shown once
    page.get_by_role("button", name="Revoke SIEM sync").click()

    expect(page.get_by_text("The key SIEM sync is revoked")).to_be_visible()
    expect(page.get_by_text("Revoked", exact=True)).to_be_visible()
    assert api.get("/api/v1/incidents").status_code == 401


def test_the_api_docs_render_under_the_sites_policy(page, live_server):
    page.goto(f"{live_server.url}/api/v1/docs")

    expect(
        page.get_by_text("/api/v1/incidents/{incident_id}/exposures", exact=True)
    ).to_be_visible()
