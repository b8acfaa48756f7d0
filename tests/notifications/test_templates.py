"""Notice templates (DESIGN.md flow 7): the account's list and editor with their
checks, the preview for a real recipient, the test send to oneself, and the operator's
console for the defaults.

Acme has a member in every role: Alice owns it, Bob is an admin, Sam is security
staff, Vera a viewer. Amélie (French Canadian) and Bruno are exposed in the breach and
matched to Acme's directory. Charlie belongs to Globex, outside it.
"""

import importlib
import json
import re

import pytest
from django.apps import apps
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from notifications.models import NoticeTemplate
from notifications.notice_templates import rendering, services
from portal.audit.models import AuditEvent
from tests import factories
from tests.accounts.auth import signed_in
from tests.core.test_layout import assert_nothing_inline_without_the_nonce

pytestmark = pytest.mark.django_db

AMELIE_PHONE = "+33612345678"
TEXT = "Hello {{ recipient_name }}, your phone ending {{ phone_last_digits }}.\n{{ report_link }}"


@pytest.fixture(autouse=True)
def _defaults():
    # The defaults come from a data migration; a transactional test that ran earlier
    # in the session may have flushed them.
    migration = importlib.import_module("notifications.migrations.0003_default_templates")
    migration.defaults_create(apps, None)


@pytest.fixture
def acme():
    return factories.organization(
        "Acme Corp",
        contact_name="Acme Security Desk",
        contact_email="security@acme.example",
        contact_phone="+1 212 555 0100",
    )


@pytest.fixture
def globex():
    return factories.organization("Globex")


@pytest.fixture
def breach(acme):
    incident = factories.incident(title="Telephony provider breach")
    amelie = factories.directory_user(
        acme, "amelie", name="Amélie Laurent", language="fr-CA", phones=[AMELIE_PHONE]
    )
    bruno = factories.directory_user(acme, "bruno", name="Bruno Costa", phones=["+12125550199"])
    factories.exposure(
        incident,
        acme,
        phone=AMELIE_PHONE,
        directory_user=amelie,
        sms_count=4,
        voice_count=1,
        message_count=5,
    )
    factories.exposure(incident, acme, phone="+12125550199", directory_user=bruno)
    return incident


@pytest.fixture
def amelie(acme, breach):
    return acme.directory_users.get(username="amelie")


@pytest.fixture
def bruno(acme, breach):
    return acme.directory_users.get(username="bruno")


@pytest.fixture
def own(acme):
    return NoticeTemplate.objects.create(
        organization=acme,
        name="Acme notice",
        language="en",
        subject="About {{ incident_title }}",
        body_text=TEXT,
        body_html='<p style="color:#333">Hi {{ recipient_name }}</p><a href="{{ report_link }}">Report</a>',
    )


@pytest.fixture
def default_en():
    return NoticeTemplate.objects.get(organization=None, name="Vigilance notice", language="en")


def url(name, acme, template=None, **query):
    kwargs = {"org": acme.public_id}
    if template is not None:
        kwargs["template"] = template.public_id
    address = reverse(f"notice_templates:{name}", kwargs=kwargs)
    if query:
        address += "?" + "&".join(f"{key}={value}" for key, value in query.items())
    return address


def form(**fields):
    return {
        "name": "Our notice",
        "language": "en",
        "subject": "Be careful, {{ recipient_name }}",
        "body_text": TEXT,
        "body_html": "",
        **fields,
    }


def page_text(response) -> str:
    return response.content.decode()


# The list -------------------------------------------------------------------------


def test_it_lists_the_accounts_templates_and_the_defaults(client, bob, own):
    signed_in(client, bob)

    response = client.get(url("list", own.organization))

    assert response.status_code == 200
    body = page_text(response)
    assert f'data-template="{own.public_id}"' in body
    for language in ("en", "fr", "es", "de"):
        default = NoticeTemplate.objects.get(organization=None, language=language)
        assert f'data-default-template="{default.public_id}"' in body
    assert_nothing_inline_without_the_nonce(response)


def test_it_lists_in_a_constant_number_of_queries(client, bob, acme, own):
    signed_in(client, bob)
    client.get(url("list", acme))  # the session and the account, warmed up
    with CaptureQueriesContext(connection) as few:
        client.get(url("list", acme))
    for n in range(5):
        NoticeTemplate.objects.create(
            organization=acme, name=f"Notice {n}", subject="s", body_text="{{ report_link }}"
        )
    with CaptureQueriesContext(connection) as many:
        client.get(url("list", acme))

    assert len(many) == len(few)


def test_it_hides_another_accounts_templates(client, charlie, globex, own):
    signed_in(client, charlie)

    listing = client.get(url("list", globex))
    preview = client.get(url("preview", globex, own))
    edit = client.post(url("edit", globex, own), form())

    assert str(own.public_id) not in page_text(listing)
    assert preview.status_code == 404
    assert edit.status_code == 404


# Creating and editing ---------------------------------------------------------------


def test_it_creates_a_template_and_audits_it(client, bob, acme):
    signed_in(client, bob)

    response = client.post(url("create", acme), form(language="fr"))

    template = NoticeTemplate.objects.get(organization=acme)
    assert response.status_code == 302
    assert response.url == url("preview", acme, template)
    assert (template.name, template.language, template.body_text) == ("Our notice", "fr", TEXT)
    event = AuditEvent.objects.get(action="notice.template_create")
    assert (event.actor, event.organization_id) == (bob, acme.pk)
    assert event.details == {"name": "Our notice", "language": "fr"}


@pytest.mark.parametrize(
    ("field", "where"),
    [("subject", "the subject"), ("body_text", "the text body"), ("body_html", "the HTML body")],
)
def test_it_names_an_unknown_placeholder(client, bob, acme, field, where):
    signed_in(client, bob)
    fields = form(body_html='<a href="{{ report_link }}">Report</a>')
    fields[field] += " {{ recipent_name }} and {{ foo }}"

    response = client.post(url("create", acme), fields)

    assert response.status_code == 400
    body = page_text(response)
    known = ", ".join(rendering.PLACEHOLDERS)
    assert f"Unknown placeholder {{{{ recipent_name }}}} in {where}; known ones: {known}." in body
    assert f"Unknown placeholder {{{{ foo }}}} in {where}" in body
    assert not NoticeTemplate.objects.filter(organization=acme).exists()


@pytest.mark.parametrize(
    "html",
    [
        '<p>Hi</p><script>alert(1)</script><a href="{{ report_link }}">Report</a>',
        '<p>Hi</p><SCRIPT src="https://evil.example/x.js"></SCRIPT>{{ report_link }}',
    ],
)
def test_it_refuses_a_script_in_the_html_body(client, bob, acme, html):
    signed_in(client, bob)

    response = client.post(url("create", acme), form(body_html=html))

    assert response.status_code == 400
    assert "The HTML body must not contain &lt;script&gt;" in page_text(response)
    assert not NoticeTemplate.objects.filter(organization=acme).exists()


def test_it_refuses_event_handlers_in_the_html_body(client, bob, acme):
    signed_in(client, bob)
    html = '<img src="x" onerror="alert(1)"><a href="{{ report_link }}">Report</a>'

    response = client.post(url("create", acme), form(body_html=html))

    assert response.status_code == 400
    assert "must not contain event handler attributes" in page_text(response)


def test_it_requires_the_report_link_in_the_text_body(client, bob, acme):
    signed_in(client, bob)

    response = client.post(url("create", acme), form(body_text="Hello {{ recipient_name }}"))

    assert response.status_code == 400
    assert "The text body must include {{ report_link }}" in page_text(response)


def test_it_keeps_the_html_body_optional(client, bob, acme):
    signed_in(client, bob)

    client.post(url("create", acme), form(body_html=""))

    assert NoticeTemplate.objects.get(organization=acme).body_html == ""


def test_it_offers_the_languages_from_a_list(client, bob, acme):
    signed_in(client, bob)

    page = page_text(client.get(url("create", acme)))
    refused = client.post(url("create", acme), form(language="xx"))

    for code in ("en", "fr", "es", "de", "it", "nl", "pt"):
        assert f'<option value="{code}"' in page
    assert refused.status_code == 400
    assert not NoticeTemplate.objects.filter(organization=acme).exists()


def test_it_refuses_a_second_template_of_the_same_name_and_language(client, bob, acme, own):
    signed_in(client, bob)

    response = client.post(url("create", acme), form(name=own.name, language=own.language))

    assert response.status_code == 400
    assert "You already have “Acme notice” in English" in page_text(response)
    assert NoticeTemplate.objects.filter(organization=acme).count() == 1


def test_it_lets_another_account_use_the_same_name(client, charlie, globex, own):
    signed_in(client, charlie)

    response = client.post(url("create", globex), form(name=own.name, language=own.language))

    assert response.status_code == 302


def test_it_lists_the_placeholders_in_the_editor(client, bob, acme, own):
    signed_in(client, bob)

    response = client.get(url("edit", acme, own))

    body = page_text(response)
    for name, description in rendering.PLACEHOLDERS.items():
        assert f'data-placeholder-insert="{name}"' in body
        assert description.replace("'", "&#x27;") in body
    assert "js/notice-template-editor.js" in body
    assert_nothing_inline_without_the_nonce(response)


def test_it_edits_and_audits_what_changed(client, bob, acme, own):
    signed_in(client, bob)

    response = client.post(
        url("edit", acme, own),
        form(name=own.name, subject="New subject", body_text=TEXT, body_html=own.body_html),
    )

    own.refresh_from_db()
    assert response.status_code == 302
    assert own.subject == "New subject"
    event = AuditEvent.objects.get(action="notice.template_update")
    assert event.details["changed"] == ["subject"]
    assert event.target_id == str(own.public_id)


def test_it_shows_the_editor_with_the_error_and_the_words_kept(client, bob, acme, own):
    signed_in(client, bob)

    response = client.post(
        url("edit", acme, own), form(name=own.name, subject="Hi {{ first_name }}")
    )

    own.refresh_from_db()
    assert response.status_code == 400
    assert "Unknown placeholder {{ first_name }} in the subject" in page_text(response)
    assert 'value="Hi {{ first_name }}"' in page_text(response)
    assert own.subject == "About {{ incident_title }}"
    assert not AuditEvent.objects.filter(action="notice.template_update").exists()


def test_it_deletes_and_audits(client, bob, acme, own):
    signed_in(client, bob)

    response = client.post(url("delete", acme, own))

    assert response.status_code == 302
    assert not NoticeTemplate.objects.filter(pk=own.pk).exists()
    event = AuditEvent.objects.get(action="notice.template_delete")
    assert event.target_id == str(own.public_id)


def test_it_does_not_let_an_account_edit_or_delete_a_default(client, alice, acme, default_en):
    signed_in(client, alice)

    edit = client.post(url("edit", acme, default_en), form())
    delete = client.post(url("delete", acme, default_en))

    assert edit.status_code == 404
    assert delete.status_code == 404
    assert NoticeTemplate.objects.filter(pk=default_en.pk, organization=None).exists()


def test_it_copies_a_default_with_every_language(client, bob, acme, default_en):
    signed_in(client, bob)

    response = client.post(url("copy", acme, default_en))

    copies = NoticeTemplate.objects.filter(organization=acme).order_by("language")
    assert [copy.language for copy in copies] == ["de", "en", "es", "fr"]
    assert {copy.name for copy in copies} == {"Vigilance notice"}
    english = copies.get(language="en")
    assert english.body_text == default_en.body_text
    assert response.url == url("edit", acme, english)
    assert AuditEvent.objects.get(action="notice.template_copy").details["languages"] == [
        "de",
        "en",
        "es",
        "fr",
    ]


def test_it_copies_under_a_free_name_when_the_name_is_taken(client, bob, acme, default_en):
    signed_in(client, bob)

    client.post(url("copy", acme, default_en))
    client.post(url("copy", acme, default_en))

    names = set(NoticeTemplate.objects.filter(organization=acme).values_list("name", flat=True))
    assert names == {"Vigilance notice", "Vigilance notice (2)"}


@pytest.mark.parametrize("who", ["sam", "vera"])
def test_it_answers_403_to_roles_that_do_not_manage_notices(client, request, acme, own, who):
    signed_in(client, request.getfixturevalue(who))
    before = list(NoticeTemplate.objects.values_list("pk", "subject"))

    answers = [
        client.get(url("list", acme)).status_code,
        client.get(url("preview", acme, own)).status_code,
        client.post(url("create", acme), form()).status_code,
        client.post(url("edit", acme, own), form(name=own.name)).status_code,
        client.post(url("delete", acme, own)).status_code,
        client.post(url("test_send", acme, own)).status_code,
    ]

    assert answers == [403] * 6
    assert list(NoticeTemplate.objects.values_list("pk", "subject")) == before
    assert mail.outbox == []


# The preview ------------------------------------------------------------------------


def test_it_previews_for_the_first_matched_person_with_the_last_four_digits_only(
    client, bob, acme, own, amelie
):
    signed_in(client, bob)

    response = client.get(url("preview", acme, own))

    body = page_text(response)
    assert response.status_code == 200
    assert "Hello Amélie Laurent, your phone ending 5678." in body
    assert "Amélie Laurent (amelie) · phone ending 5678" in body
    # Never the full number, in any spelling.
    for spelling in (AMELIE_PHONE, "33612345678", "612345678", "6 12 34 56 78"):
        assert spelling not in body
    assert "made-up sample values" not in body
    assert_nothing_inline_without_the_nonce(response)


def test_it_says_which_language_the_person_would_get(client, bob, acme, default_en, amelie):
    signed_in(client, bob)

    body = page_text(client.get(url("preview", acme, default_en)))

    assert "Their directory language is" in body
    assert '<span class="font-monospace">fr-CA</span>' in body
    assert 'send them the French version (<span class="font-monospace">fr</span>)' in body


def test_it_previews_for_the_person_chosen(client, bob, acme, own, breach, bruno):
    signed_in(client, bob)

    response = client.get(
        url("preview", acme, own, incident=breach.public_id, user=bruno.public_id)
    )

    assert "Hello Bruno Costa, your phone ending 0199." in page_text(response)


def test_it_ignores_a_person_of_another_account(client, bob, acme, own, breach, amelie, globex):
    stranger = factories.directory_user(globex, "zed", name="Zed Stranger")
    signed_in(client, bob)

    response = client.get(url("preview", acme, own, user=stranger.public_id))

    body = page_text(response)
    assert "Zed Stranger" not in body
    assert "Hello Amélie Laurent" in body


def test_it_previews_with_sample_values_when_no_one_is_matched(client, bob, acme, own):
    incident = factories.incident(title="Unmatched breach")
    factories.exposure(incident, acme, phone="+12125550143")  # no directory user
    signed_in(client, bob)

    response = client.get(url("preview", acme, own))

    body = page_text(response)
    assert "made-up sample values" in body
    assert "Hello Sam Sample, your phone ending 0000." in body


def test_it_shows_the_html_body_in_a_sandboxed_frame_with_its_own_policy(
    client, bob, acme, own, amelie
):
    signed_in(client, bob)

    page = page_text(client.get(url("preview", acme, own)))
    frame_src = re.search(r'<iframe[^>]* src="([^"]+)"[^>]* sandbox', page).group(1)
    frame = client.get(frame_src.replace("&amp;", "&"))

    assert frame.status_code == 200
    assert "Hi Amélie Laurent" in frame.content.decode()
    assert 'style="color:#333"' in frame.content.decode()
    policy = frame.headers["Content-Security-Policy"]
    assert "sandbox" in policy
    assert "script-src" not in policy
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'self'" in policy
    assert frame.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_it_escapes_values_in_the_html_body(client, bob, acme, own, amelie):
    amelie.name = "<b>Amélie</b>"
    amelie.save(update_fields=["name"])
    signed_in(client, bob)

    frame = client.get(url("frame", acme, own))

    assert "Hi &lt;b&gt;Amélie&lt;/b&gt;" in frame.content.decode()


def test_it_previews_a_default_for_the_accounts_person(client, bob, acme, amelie):
    french = NoticeTemplate.objects.get(organization=None, language="fr")
    signed_in(client, bob)

    body = page_text(client.get(url("preview", acme, french)))

    assert "Bonjour Amélie Laurent," in body
    assert "se termine par 5678" in body
    assert "Acme Security Desk" in body
    assert rendering.report_link(services.PREVIEW_TOKEN) in body


# The test send ----------------------------------------------------------------------


def test_it_sends_a_test_to_oneself_only(client, bob, acme, own, amelie, mailoutbox):
    signed_in(client, bob)

    response = client.post(url("test_send", acme, own), {"user": str(amelie.public_id)})

    assert response.status_code == 302
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["bob@acme.example"]
    assert message.recipients() == ["bob@acme.example"]
    assert message.subject == "[Test] About Telephony provider breach"
    assert "Hello Amélie Laurent, your phone ending 5678." in message.body
    assert AMELIE_PHONE not in message.body
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    assert "Hi Amélie Laurent" in html
    assert re.fullmatch(r"<test-[0-9a-f]{32}@[^>]+>", message.extra_headers["Message-ID"])
    assert message.reply_to == ["security@acme.example"]


def test_it_says_so_when_the_mail_server_refuses_a_test(
    client, bob, acme, own, amelie, monkeypatch
):
    import smtplib

    def refused(self, *args, **kwargs):
        raise smtplib.SMTPServerDisconnected("gone")

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", refused)
    signed_in(client, bob)

    response = client.post(
        url("test_send", acme, own), {"user": str(amelie.public_id)}, follow=True
    )

    assert response.status_code == 200
    assert "The mail server did not take the test email." in response.content.decode()


def test_it_audits_a_test_send_without_any_address(client, bob, acme, own, amelie, breach):
    signed_in(client, bob)

    client.post(url("test_send", acme, own))

    event = AuditEvent.objects.get(action="notice.test_send")
    assert (event.actor, event.organization_id, event.target_id) == (
        bob,
        acme.pk,
        str(own.public_id),
    )
    assert event.details == {
        "name": "Acme notice",
        "language": "en",
        "incident": breach.slug,
        "rendered_for": str(amelie.public_id),
    }
    assert "@" not in json.dumps(event.details)


def test_it_sends_a_test_with_the_defaults_text_and_html_parts(
    client, bob, acme, default_en, amelie, mailoutbox
):
    signed_in(client, bob)

    client.post(url("test_send", acme, default_en))

    [message] = mailoutbox
    [(html, _)] = message.alternatives
    link = rendering.report_link(services.PREVIEW_TOKEN)
    assert link in message.body
    assert f'href="{link}"' in html
    assert "{{" not in message.body
    assert "{{" not in html
    assert "Amélie Laurent" in message.body


def test_it_rate_limits_test_sends(client, bob, acme, own, amelie, mailoutbox):
    signed_in(client, bob)

    for _ in range(services.TEST_SEND_LIMIT):
        client.post(url("test_send", acme, own))
    refused = client.post(url("test_send", acme, own), follow=True)

    assert len(mailoutbox) == services.TEST_SEND_LIMIT
    assert f"You have sent {services.TEST_SEND_LIMIT} tests in the last 10 minutes" in page_text(
        refused
    )
    assert AuditEvent.objects.filter(action="notice.test_send").count() == services.TEST_SEND_LIMIT


def test_it_counts_the_limit_per_person(client, bob, alice, acme, own, amelie, mailoutbox):
    signed_in(client, bob)
    for _ in range(services.TEST_SEND_LIMIT):
        client.post(url("test_send", acme, own))
    signed_in(client, alice)

    client.post(url("test_send", acme, own))

    assert mailoutbox[-1].to == ["alice@acme.example"]


# The operator's console -----------------------------------------------------------


@pytest.fixture
def ops():
    return factories.staff()


def op_url(name, template=None):
    kwargs = {"default_template": template.public_id} if template is not None else {}
    return reverse(f"operator_notices:{name}", kwargs=kwargs)


def test_it_lists_the_defaults_for_staff(client, ops):
    signed_in(client, ops)

    response = client.get(op_url("list"))

    body = page_text(response)
    assert response.status_code == 200
    assert body.count("data-default-template=") == 4
    assert "Notice templates" in body
    assert_nothing_inline_without_the_nonce(response)


def test_it_lets_staff_edit_a_default_with_the_same_checks(client, ops, default_en):
    signed_in(client, ops)
    fields = {
        "name": default_en.name,
        "language": "en",
        "subject": "{{ incident }} notice",
        "body_text": default_en.body_text,
        "body_html": default_en.body_html,
    }

    refused = client.post(op_url("edit", default_en), fields)
    saved = client.post(op_url("edit", default_en), {**fields, "subject": "Be alert"})

    default_en.refresh_from_db()
    assert refused.status_code == 400
    assert "Unknown placeholder {{ incident }} in the subject" in page_text(refused)
    assert saved.status_code == 302
    assert default_en.subject == "Be alert"
    event = AuditEvent.objects.get(action="notice.template_update")
    assert (event.actor, event.organization_id) == (ops, None)


def test_it_shows_staff_a_default_with_sample_values(client, ops, default_en):
    signed_in(client, ops)

    page = page_text(client.get(op_url("edit", default_en)))
    frame = client.get(op_url("frame", default_en))

    assert "Hello Sam Sample," in page
    assert "Example Corp" in frame.content.decode()
    assert "sandbox" in frame.headers["Content-Security-Policy"]


def test_it_lets_staff_add_a_language_to_the_defaults(client, ops, default_en):
    signed_in(client, ops)

    response = client.post(
        op_url("create"),
        {
            "name": default_en.name,
            "language": "it",
            "subject": "Avviso di sicurezza",
            "body_text": "Ciao {{ recipient_name }}\n{{ report_link }}",
            "body_html": "",
        },
    )

    italian = NoticeTemplate.objects.get(organization=None, language="it")
    assert response.status_code == 302
    snapshot = rendering.template_snapshot(default_en)
    assert rendering.snapshot_language(snapshot, "it-CH") == "it"
    assert italian.name == "Vigilance notice"


def test_it_lets_staff_delete_a_default(client, ops, default_en):
    signed_in(client, ops)

    client.post(op_url("delete", default_en))

    assert not NoticeTemplate.objects.filter(pk=default_en.pk).exists()
    assert AuditEvent.objects.get(action="notice.template_delete").organization_id is None


def test_it_keeps_accounts_templates_out_of_the_console(client, ops, own):
    signed_in(client, ops)

    assert client.get(op_url("edit", own)).status_code == 404
    assert client.post(op_url("delete", own)).status_code == 404
    assert NoticeTemplate.objects.filter(pk=own.pk).exists()


def test_it_hides_the_console_from_members(client, alice):
    signed_in(client, alice)

    assert client.get(op_url("list")).status_code == 404
