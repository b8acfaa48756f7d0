"""The layout under the enforced Content Security Policy, without a browser.

The browser smoke tests prove the pages run clean; these pin down why: the header is
there, every script and style carries the request's nonce, and nothing inline needs one.
"""

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders

NONCE = re.compile(r"'nonce-([A-Za-z0-9+/_=-]+)'")


class TagCollector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)


def tags_of(response) -> list[tuple[str, dict[str, str | None]]]:
    collector = TagCollector()
    collector.feed(response.content.decode())
    return collector.tags


def policy_of(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}


def nonce_of(response) -> str:
    policy = policy_of(response)
    script_nonce = NONCE.fullmatch(next(v for v in policy["script-src"] if "nonce" in v))
    style_nonce = NONCE.fullmatch(next(v for v in policy["style-src"] if "nonce" in v))
    assert script_nonce.group(1) == style_nonce.group(1)
    return script_nonce.group(1)


def assert_nothing_inline_without_the_nonce(response, *, every_script_has_nonce=True):
    nonce = nonce_of(response)
    tags = tags_of(response)
    for tag, attrs in tags:
        assert "style" not in attrs, f"<{tag}> has a style attribute"
        handlers = [name for name in attrs if name.startswith("on")]
        assert not handlers, f"<{tag}> has inline handlers {handlers}"
        if tag == "style":
            assert attrs.get("nonce") == nonce
        if tag == "script":
            is_data = attrs.get("type") == "application/json"
            if every_script_has_nonce or ("src" not in attrs and not is_data):
                assert attrs.get("nonce") == nonce, f"<script {attrs}> lacks the nonce"
        # No CDN: everything the page loads comes from our own origin.
        for url_attr in ("src", "href"):
            if tag in ("script", "link", "img") and attrs.get(url_attr):
                assert attrs[url_attr].startswith("/"), f"<{tag}> loads {attrs[url_attr]}"


def test_it_enforces_a_nonce_policy_on_the_home_page(client):
    response = client.get("/")

    assert response.status_code == 200
    assert "Content-Security-Policy" in response.headers
    assert "Content-Security-Policy-Report-Only" not in response.headers
    assert "'nonce-" in response.headers["Content-Security-Policy"]
    policy = policy_of(response)
    for directive in ("script-src", "style-src"):
        assert "'unsafe-inline'" not in policy[directive]
        assert "'unsafe-eval'" not in policy[directive]
    assert policy["default-src"] == ["'self'"]


def test_it_puts_the_nonce_on_every_script_and_style_of_the_home_page(client):
    response = client.get("/")

    nonce = nonce_of(response)
    html = response.content.decode()
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert len(scripts) >= 3  # bootstrap, htmx, vigil.js
    for tag in [*scripts, *re.findall(r"<style\b[^>]*>", html)]:
        assert f'nonce="{nonce}"' in tag
    assert_nothing_inline_without_the_nonce(response)


def test_it_has_no_inline_styles_or_handlers_for_a_signed_in_operator(client, alice):
    alice.is_staff = True
    alice.save(update_fields=["is_staff"])
    client.force_login(alice)

    response = client.get("/")

    assert response.status_code == 200
    assert b"Operator console" in response.content
    assert_nothing_inline_without_the_nonce(response)


@pytest.mark.django_db
def test_it_has_no_inline_styles_or_handlers_on_the_sign_in_page(client):
    response = client.get("/accounts/login/")

    assert response.status_code == 200
    # allauth's own <script src> tags load from 'self' without a nonce; anything
    # inline must still carry it.
    assert_nothing_inline_without_the_nonce(response, every_script_has_nonce=False)
    assert b'class="navbar-brand"' in response.content  # our layout, not allauth's


def test_it_gives_every_response_its_own_nonce(client):
    assert nonce_of(client.get("/")) != nonce_of(client.get("/"))


def test_it_configures_htmx_to_live_within_the_policy(client):
    response = client.get("/")

    meta = next(attrs for tag, attrs in tags_of(response) if attrs.get("name") == "htmx-config")
    config = json.loads(meta["content"])
    assert config["includeIndicatorStyles"] is False
    assert config["allowEval"] is False
    assert config["allowScriptTags"] is False
    assert config["historyCacheSize"] == 0
    css = Path(finders.find("css/vigil.css")).read_text()
    assert ".htmx-request .htmx-indicator" in css  # the rules htmx no longer injects


def test_it_serves_every_asset_the_layout_links_from_our_static_files(client):
    response = client.get("/")

    urls = [
        attrs.get("src") or attrs.get("href")
        for tag, attrs in tags_of(response)
        if tag in ("script", "link")
    ]
    assert len(urls) >= 6
    for url in urls:
        assert url.startswith(settings.STATIC_URL)
        assert finders.find(url.removeprefix(settings.STATIC_URL)), f"{url} is not vendored"


def test_it_vendors_the_icon_fonts_where_their_stylesheet_looks_for_them():
    stylesheet = Path(finders.find("vendor/bootstrap-icons/font/bootstrap-icons.min.css"))

    font_urls = re.findall(r"url\(\"?([^\")?]+)", stylesheet.read_text())

    assert {Path(url).suffix for url in font_urls} == {".woff2", ".woff"}
    for url in font_urls:
        assert (stylesheet.parent / url).is_file(), f"{url} does not resolve"


def test_it_keeps_cdn_urls_out_of_our_templates_and_assets():
    base = settings.BASE_DIR
    ours = [
        *(base / "templates").rglob("*.html"),
        base / "static/css/vigil.css",
        base / "static/js/vigil.js",
    ]
    for path in ours:
        text = path.read_text()
        assert not re.search(r"(?:https?:)?//(?:cdn|unpkg|ajax\.googleapis)", text), path


def test_it_renders_messages_as_bootstrap_alerts(client, alice):
    client.force_login(alice)

    response = client.post("/accounts/logout/", follow=True)

    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'class="alert alert-success[^"]*" role="status"', html)
    assert "You have signed out." in html


@pytest.mark.django_db
def test_a_member_reaches_their_own_sign_in_pages_from_the_header(client, sign_in, vera):
    sign_in(vera)

    response = client.get("/")
    links = {attrs.get("href") for tag, attrs in tags_of(response) if tag == "a"}
    page = response.content.decode()

    assert {"/accounts/2fa/", "/accounts/sessions/", "/accounts/password/change/"} <= links
    assert "Your sign-in" in page
    for href in ("/accounts/2fa/", "/accounts/sessions/", "/accounts/password/change/"):
        assert client.get(href).status_code == 200


@pytest.mark.django_db
def test_a_visitor_has_no_sign_in_menu(client):
    page = client.get("/accounts/login/").content.decode()

    assert "Your sign-in" not in page
    assert "/accounts/sessions/" not in page
