"""The operator's default vigilance notice, made by migration 0003: every language is
there, passes the editor's own checks, says what DESIGN.md flow 7 asks, and renders
for a recipient in their language with nothing left unfilled."""

import importlib
import re

import pytest
from django.apps import apps

from notifications.models import NoticeTemplate
from notifications.notice_templates import rendering
from notifications.notice_templates.services import notice_template_problems

pytestmark = pytest.mark.django_db

migration = importlib.import_module("notifications.migrations.0003_default_templates")
LANGUAGES = ["de", "en", "es", "fr"]


@pytest.fixture
def defaults():
    return {
        template.language: template
        for template in NoticeTemplate.objects.filter(organization=None, name="Vigilance notice")
    }


@pytest.fixture
def values():
    return {
        "recipient_name": "Amélie Laurent",
        "phone_last_digits": "5678",
        "message_count": 5,
        "incident_title": "Telephony provider breach",
        "exposure_start": "1 March 2024",
        "exposure_end": "31 March 2024",
        "exposure_window": "1 March 2024 \N{EN DASH} 31 March 2024 (UTC)",
        "account_name": "Acme Corp",
        "contact_name": "Acme Security Desk",
        "contact_email": "security@acme.example",
        "contact_phone": "+1 212 555 0100",
        "contact_url": "https://acme.example/security",
        "report_link": "https://vigil.example/report/abc/",
    }


def test_it_has_the_defaults_after_migrating(defaults):
    assert sorted(defaults) == LANGUAGES
    for template in defaults.values():
        assert template.subject
        assert template.body_text
        assert template.body_html


@pytest.mark.parametrize("language", LANGUAGES)
def test_it_uses_known_placeholders_only(defaults, language):
    template = defaults[language]

    for text in (template.subject, template.body_text, template.body_html):
        assert rendering.placeholders_unknown(text) == []
    assert (
        notice_template_problems(
            subject=template.subject, body_text=template.body_text, body_html=template.body_html
        )
        == {}
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_it_says_what_flow_7_asks(defaults, language):
    template = defaults[language]

    for body in (template.body_text, template.body_html):
        for name in ("recipient_name", "phone_last_digits", "message_count", "contact_name"):
            assert f"{{{{ {name} }}}}" in body
        for name in ("contact_email", "contact_phone", "report_link"):
            assert f"{{{{ {name} }}}}" in body
    # The report link is a button in the HTML.
    assert '<a href="{{ report_link }}" style="display:inline-block;' in template.body_html
    assert f'<html lang="{language}">' in template.body_html
    assert "<script" not in template.body_html.lower()


@pytest.mark.parametrize("language", LANGUAGES)
def test_it_names_the_window_as_the_pages_do(defaults, language):
    """Issue 15 point 8: the window the portal writes (UTC), not two dates of their own
    (migration 0006)."""
    for body in (defaults[language].body_text, defaults[language].body_html):
        assert "{{ exposure_window }}" in body
        assert "{{ exposure_start }}" not in body


def test_it_says_it_in_each_language(defaults):
    # A line of each that only a reader of that language would write.
    assert "Never share a sign-in code with anyone" in defaults["en"].body_text
    assert "Ne communiquez jamais un code de connexion" in defaults["fr"].body_text
    assert "No comparta nunca un código de acceso" in defaults["es"].body_text
    assert "Geben Sie niemals einen Anmeldecode weiter" in defaults["de"].body_text


def test_it_keeps_french_spacing_unbreakable(defaults):
    text = defaults["fr"].body_text

    assert " :" not in text
    assert " ;" not in text
    assert "\u00a0:" in text


@pytest.mark.parametrize(
    ("recipient_language", "gets"),
    [
        ("fr-CA", "fr"),
        ("fr", "fr"),
        ("es_MX", "es"),
        ("de-AT", "de"),
        ("EN-gb", "en"),
        ("ja", "en"),  # no Japanese: the language the campaign chose
        ("", "en"),
    ],
)
def test_it_picks_the_recipients_language(defaults, recipient_language, gets):
    snapshot = rendering.template_snapshot(defaults["en"])

    assert rendering.snapshot_language(snapshot, recipient_language) == gets


@pytest.mark.parametrize("language", LANGUAGES)
def test_it_renders_with_every_placeholder_filled(defaults, values, language):
    snapshot = rendering.template_snapshot(defaults["en"])

    rendered = rendering.notice_render(snapshot=snapshot, language=language, values=values)

    for part in (rendered.subject, rendered.text, rendered.html):
        assert not re.search(r"{{|}}", part)
    assert "Acme Corp" in rendered.subject
    assert "Amélie Laurent" in rendered.text
    assert "Amélie Laurent" in rendered.html
    assert "5678" in rendered.text
    assert 'href="https://vigil.example/report/abc/"' in rendered.html


def test_it_renders_a_french_canadian_recipient_in_french(defaults, values):
    snapshot = rendering.template_snapshot(defaults["en"])

    rendered = rendering.notice_render(snapshot=snapshot, language="fr-CA", values=values)

    assert rendered.text.startswith("Bonjour Amélie Laurent,")
    assert "Signaler un appel ou un message suspect" in rendered.html


def test_it_reverses_and_applies_again():
    migration.defaults_delete(apps, None)
    assert not NoticeTemplate.objects.filter(organization=None).exists()

    migration.defaults_create(apps, None)
    migration.defaults_create(apps, None)  # twice: the second makes nothing

    assert NoticeTemplate.objects.filter(organization=None).count() == 4


def test_it_leaves_a_default_the_operator_made_by_hand():
    NoticeTemplate.objects.filter(organization=None, language="de").update(subject="Unsere")
    migration.defaults_create(apps, None)

    assert NoticeTemplate.objects.get(organization=None, language="de").subject == "Unsere"


def test_it_reverses_without_touching_accounts_copies():
    from tests import factories

    acme = factories.organization()
    NoticeTemplate.objects.create(
        organization=acme, name="Vigilance notice", subject="s", body_text="{{ report_link }}"
    )

    migration.defaults_delete(apps, None)

    assert NoticeTemplate.objects.filter(organization=acme).count() == 1


def test_it_gives_accounts_unedited_copies_the_window_in_utc_and_leaves_edited_ones(
    defaults, values
):
    """Issue 15 point 8: copies an account made before migration 0006 (the words of 0003)
    name the window as the defaults do now (migration 0008); edited copies are left."""
    from tests import factories

    acme = factories.organization("Acme Corp")
    old = {language: migration.NOTICES[language] for language in LANGUAGES}
    unedited = {
        language: NoticeTemplate.objects.create(
            organization=acme,
            name="Vigilance notice",
            language=language,
            subject=defaults[language].subject,
            body_text=migration.body_text(language, old[language]),
            body_html=migration.body_html(language, old[language]),
        )
        for language in LANGUAGES
    }
    edited_text = migration.body_text("fr", old["fr"]) + "\nSigné : l'équipe sécurité."
    edited = NoticeTemplate.objects.create(
        organization=acme,
        name="Our own notice",
        language="fr",
        subject="Avis",
        body_text=edited_text,
        body_html=migration.body_html("fr", old["fr"]),
    )
    assert "{{ exposure_start }}" in unedited["en"].body_text

    importlib.import_module(
        "notifications.migrations.0008_account_copies_exposure_window"
    ).forwards(apps, None)

    for language, copy in unedited.items():
        copy.refresh_from_db()
        assert copy.body_text == defaults[language].body_text
        assert copy.body_html == defaults[language].body_html
        assert "{{ exposure_window }}" in copy.body_text
    edited.refresh_from_db()
    assert edited.body_text == edited_text  # the account's own words
    assert "{{ exposure_window }}" in edited.body_html  # the HTML was not edited
    rendered = rendering.notice_render(
        snapshot=rendering.template_snapshot(unedited["en"]), language="en", values=values
    )
    assert "during 1 March 2024 \N{EN DASH} 31 March 2024 (UTC)" in rendered.text
    assert "(UTC)" in rendered.html
