"""Smoke: real pages in a real browser, under the enforced Content Security Policy.

The `page` fixture (conftest.py) fails each test on any console error, uncaught
exception, failed resource or CSP violation, so these tests only assert what must be
visible and applied.
"""

import re

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from portal.accounts.roles import Role
from tests import factories

pytestmark = pytest.mark.browser


def wait_for_fonts(page) -> None:
    assert page.evaluate("document.fonts.ready.then(() => document.fonts.status)") == "loaded"


def assert_icons_render(page) -> None:
    wait_for_fonts(page)
    glyph_font = page.locator(".navbar-brand .bi").evaluate(
        "el => getComputedStyle(el, '::before').fontFamily"
    )
    assert glyph_font.strip("\"'") == "bootstrap-icons"
    assert page.evaluate("document.fonts.check('16px bootstrap-icons')")
    # check() is also true when no face matches at all; this one proves the file loaded.
    assert page.evaluate(
        """[...document.fonts].some(
            (face) => face.family.replace(/["']/g, "") === "bootstrap-icons"
                && face.status === "loaded"
        )"""
    )


def assert_bootstrap_applies(page) -> None:
    navbar = page.locator("nav.navbar")
    assert navbar.evaluate("el => getComputedStyle(el).display") == "flex"
    assert "system-ui" in page.evaluate("getComputedStyle(document.body).fontFamily")
    assert page.evaluate("typeof window.bootstrap.Collapse") == "function"


def test_it_renders_the_home_page_without_console_errors_or_csp_violations(page, live_server):
    page.goto(live_server.url + "/")

    expect(page).to_have_title("Incident portal · Vigil")
    main_nav = page.get_by_role("navigation", name="Main")
    expect(main_nav.get_by_role("link", name="Vigil")).to_be_visible()
    expect(main_nav.get_by_role("link", name="Sign in")).to_have_attribute(
        "href", "/accounts/login/"
    )
    expect(page.get_by_role("main").get_by_role("link", name="Sign in")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("March 2024")
    assert_icons_render(page)
    assert_bootstrap_applies(page)
    # htmx is loaded and kept inside the CSP: no injected <style>, no eval.
    assert page.evaluate("htmx.version").startswith("2.")
    assert page.evaluate("htmx.config.allowEval") is False
    assert page.evaluate("document.querySelectorAll('style').length") == 0


def test_it_shows_the_sign_in_page_in_our_layout(page, live_server):
    page.goto(live_server.url + "/accounts/login/")

    expect(page).to_have_title(re.compile(r"^Sign in · Vigil$"))
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Vigil")
    ).to_be_visible()
    expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()
    email = page.get_by_role("textbox", name="Email")
    expect(email).to_be_visible()
    # allauth's bare inputs get the layout's form look, not the browser default.
    assert email.evaluate("el => getComputedStyle(el).display") == "block"
    expect(page.get_by_role("button", name="Sign in with a passkey")).to_be_visible()
    assert_icons_render(page)
    assert_bootstrap_applies(page)


def test_it_shows_a_member_their_accounts_and_incidents_and_signs_them_out(
    page, browser_context, live_server, transactional_db
):
    acme = factories.organization("Acme Corp")
    alice = factories.member(acme, "alice@acme.example", Role.ADMIN, name="Alice")
    factories.exposure(factories.incident(title="Telephony provider message-log theft"), acme)
    # Signing in through the form belongs to the accounts tests (and will need a second
    # factor); here a session is enough.
    client = Client()
    client.force_login(alice)
    browser_context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )

    page.goto(live_server.url + "/")

    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Alice")
    expect(page.get_by_text("Telephony provider message-log theft")).to_be_visible()
    expect(page.get_by_role("main").get_by_text("Acme Corp", exact=True)).to_be_visible()
    main_nav = page.get_by_role("navigation", name="Main")
    expect(main_nav).to_contain_text("alice@acme.example")
    expect(main_nav.get_by_role("link", name="Operator console")).to_have_count(0)
    assert_icons_render(page)

    # The sign-out form posts with its CSRF token under form-action 'self'.
    main_nav.get_by_role("button", name="Sign out").click()

    expect(page.locator(".vigil-messages .alert.alert-success")).to_contain_text(
        "You have signed out."
    )
    expect(main_nav.get_by_role("link", name="Sign in")).to_be_visible()
