"""Directory import (DESIGN.md flow 5): upload, preview with per-row errors, apply.

Alice owns Acme; Bob is an admin there and manages the directory; Vera is a viewer.
Charlie is an admin of Globex, outside Acme.
"""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.accounts.roles import Role
from portal.audit.models import AuditEvent
from portal.incidents.directory import csvfile, services
from portal.incidents.directory.csvfile import DirectoryFileRefusedError
from portal.incidents.directory.services import (
    directory_import_apply,
    directory_import_check,
    directory_import_discard,
)
from portal.incidents.models import DirectoryImport, DirectoryPhone, DirectoryUser, Exposure
from tests import factories
from tests.accounts.auth import signed_in
from tests.core.test_layout import assert_nothing_inline_without_the_nonce
from tests.statistics import analyzed

# A copy of /work/shared/samples/directory.csv: four people, rsmith with two phones
# (one of them in a range libphonenumber calls possible but not valid), nomail without
# an email address.
SAMPLE = (
    "username,name,email,phones,language\n"
    "jdoe,Jane Doe,jane.doe@acme.example,+12125550143,en\n"
    "rsmith,Robert Smith,robert.smith@acme.example,+447700900123;+12125550100,en\n"
    "mmuller,Marie Müller,marie.mueller@acme.example,+4915123456789,de\n"
    "nomail,No Mail User,,+14155550199,en\n"
)

SAMPLE_PHONES = {
    "+12125550143": "jdoe",
    "+447700900123": "rsmith",
    "+12125550100": "rsmith",
    "+4915123456789": "mmuller",
    "+14155550199": "nomail",
}


@pytest.fixture(autouse=True)
def _media(media_root):
    return media_root


def csv_file(text: str, name: str = "directory.csv", encoding: str = "utf-8") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")


def check(org, text: str, by=None, **kwargs) -> DirectoryImport:
    upload = csv_file(text, **kwargs)
    return directory_import_check(organization=org, upload=upload, original_name=upload.name, by=by)


def index_url(org) -> str:
    return f"/o/{org.public_id}/directory/"


def upload_url(org) -> str:
    return f"/o/{org.public_id}/directory/upload/"


def preview_url(org, directory_import) -> str:
    return f"/o/{org.public_id}/directory/{directory_import.public_id}/"


def apply_url(org, directory_import) -> str:
    return f"{preview_url(org, directory_import)}apply/"


def discard_url(org, directory_import) -> str:
    return f"{preview_url(org, directory_import)}discard/"


def errors_of(directory_import) -> list[tuple[int, str]]:
    return [(error["line"], error["field"]) for error in directory_import.errors]


def stored_files(media_root) -> list:
    return [path for path in media_root.rglob("*") if path.is_file()]


# --- Checking a file ---------------------------------------------------------------------


def test_it_checks_the_sample_into_a_preview_without_touching_the_directory(acme, bob, media_root):
    checked = check(acme, SAMPLE, by=bob)

    assert checked.status == DirectoryImport.Status.PREVIEWED
    assert (checked.rows_total, checked.rows_valid, checked.rows_rejected) == (4, 4, 0)
    assert (checked.created_count, checked.updated_count, checked.unchanged_count) == (4, 0, 0)
    assert checked.errors == []
    assert checked.created_by == bob
    assert checked.original_name == "directory.csv"
    assert len(checked.sha256) == 64
    assert checked.upload.read() == SAMPLE.encode()
    assert not DirectoryUser.objects.exists()


def test_it_reports_each_bad_row_by_line_and_column(acme):
    checked = check(
        acme,
        "username,name,email,phones,language\n"
        "jdoe,Jane Doe,not-an-email,+12125550143,en\n"  # 2: bad email
        "rsmith,Robert Smith,r@acme.example,+1212,en\n"  # 3: too few digits
        "ann,Ann,ann@acme.example,02079460000,en\n"  # 4: no country code
        "jdoe,Jane Again,jane@acme.example,+12125550143,en\n"  # 5: duplicate username
        "bea,Bea,bea@acme.example,+12125550143,en,extra\n"  # 6: too many fields
        "cy,Cy,cy@acme.example\n"  # 7: too few fields
        "dee,Dee,dee@acme.example,+12125550143,english\n"  # 8: bad language
        ",Nobody,nobody@acme.example,+12125550143,en\n"  # 9: no username
        "\n"  # a blank line is no row
        "ok,Okay,ok@acme.example, +1 (212) 555-0143 ; ;+12125550143,PT_br\n",  # 11: valid
    )

    assert (checked.rows_total, checked.rows_valid, checked.rows_rejected) == (9, 1, 8)
    assert errors_of(checked) == [
        (2, "email"),
        (3, "phones"),
        (4, "phones"),
        (5, "username"),
        (6, ""),
        (7, ""),
        (8, "language"),
        (9, "username"),
    ]
    reasons = {error["line"]: error["reason"] for error in checked.errors}
    assert "not-an-email" in reasons[2]
    assert "ending 1212" in reasons[3]
    assert "needs the country code" in reasons[4]
    assert "0000" in reasons[4]
    assert "02079460000" not in reasons[4]
    assert "already on line 2" in reasons[5]
    assert "6 fields" in reasons[6]
    assert "5 columns" in reasons[6]
    assert "3 fields" in reasons[7]
    assert checked.created_count == 1


def test_it_refuses_a_file_without_the_required_columns_and_keeps_nothing(acme, media_root):
    with pytest.raises(DirectoryFileRefusedError) as refused:
        check(acme, "username,full name,mail,phones\njdoe,Jane,jane@acme.example,+12125550143\n")

    message = " ".join(refused.value.messages)
    assert "name, email" in message
    assert not DirectoryImport.objects.exists()
    assert stored_files(media_root) == []


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("username,name,email,phones\n", "no rows"),
        ("username;name;email;phones\njdoe;Jane;j@acme.example;+12125550143\n", "semicolons"),
        ("username,name,email,email,phones\n", "twice"),
    ],
)
def test_it_refuses_files_it_cannot_use(acme, text, says):
    with pytest.raises(DirectoryFileRefusedError, match=says):
        check(acme, text)

    assert not DirectoryImport.objects.exists()


def test_it_reads_a_byte_order_mark_tabs_and_headers_in_any_case(acme):
    text = "\ufeffUserName\tNAME\tEmail\tPhones\tLanguage\tdepartment\n" + "\n".join(
        line.replace(",", "\t") + "\tSales" for line in SAMPLE.splitlines()[1:]
    )

    checked = check(acme, text)

    assert (checked.rows_total, checked.rows_valid, checked.rows_rejected) == (4, 4, 0)


def test_it_defaults_the_language_and_accepts_a_file_without_that_column(acme, bob):
    checked = check(acme, "username,name,email,phones\r\njdoe,Jane,,+12125550143\r\n")
    directory_import_apply(directory_import=checked, by=bob)

    assert DirectoryUser.objects.get(username="jdoe").language == "en"


def test_it_refuses_a_utf16_file_with_a_way_out(acme):
    with pytest.raises(DirectoryFileRefusedError, match="UTF-16"):
        check(acme, "\ufeff" + SAMPLE, encoding="utf-16-le")


def test_it_refuses_text_that_is_not_utf8(acme):
    with pytest.raises(DirectoryFileRefusedError, match="not UTF-8"):
        check(acme, SAMPLE, encoding="latin-1")  # Müller's ü


def test_it_refuses_a_file_over_the_size_limit(acme, monkeypatch):
    monkeypatch.setattr(csvfile, "MAX_UPLOAD_BYTES", 100)

    with pytest.raises(DirectoryFileRefusedError, match="limit"):
        check(acme, SAMPLE)


def test_it_keeps_only_the_first_errors_but_counts_every_rejected_row(acme, monkeypatch):
    monkeypatch.setattr(services, "ERRORS_KEPT", 3)
    rows = "".join(f"u{n},User,bad-email,+12125550143\n" for n in range(10))

    checked = check(acme, "username,name,email,phones\n" + rows)

    assert checked.rows_rejected == 10
    assert [error["line"] for error in checked.errors] == [2, 3, 4]


# --- Applying ------------------------------------------------------------------------------


def test_it_applies_the_sample_creating_people_and_phone_rows_and_matching_exposures(acme, bob):
    incident = factories.incident()
    exposures = {phone: factories.exposure(incident, acme, phone) for phone in SAMPLE_PHONES}
    stranger = factories.exposure(incident, acme, "+12125550999")
    checked = check(acme, SAMPLE, by=bob)

    applied = directory_import_apply(directory_import=checked, by=bob)

    assert applied.status == DirectoryImport.Status.APPLIED
    assert applied.applied_at is not None
    assert (applied.created_count, applied.updated_count, applied.unchanged_count) == (4, 0, 0)
    people = {user.username: user for user in DirectoryUser.objects.filter(organization=acme)}
    assert set(people) == {"jdoe", "rsmith", "mmuller", "nomail"}
    assert people["rsmith"].phones == ["+447700900123", "+12125550100"]
    assert people["nomail"].email == ""
    assert people["mmuller"].name == "Marie Müller"
    assert people["mmuller"].language == "de"
    assert sorted(DirectoryPhone.objects.values_list("directory_user__username", "phone")) == (
        sorted((username, phone) for phone, username in SAMPLE_PHONES.items())
    )
    for phone, exposure in exposures.items():
        exposure.refresh_from_db()
        assert exposure.directory_user == people[SAMPLE_PHONES[phone]]
    stranger.refresh_from_db()
    assert stranger.directory_user is None


def test_it_applies_only_the_valid_rows_of_a_file_with_errors(acme, bob):
    checked = check(acme, SAMPLE + "bad,Bad,not-an-email,+12125550111,en\n")

    applied = directory_import_apply(directory_import=checked, by=bob)

    assert (applied.rows_valid, applied.rows_rejected, applied.created_count) == (4, 1, 4)
    assert not DirectoryUser.objects.filter(username="bad").exists()


def test_it_updates_a_changed_email_and_leaves_the_rest_alone(acme, bob):
    directory_import_apply(directory_import=check(acme, SAMPLE), by=bob)
    jdoe = DirectoryUser.objects.get(username="jdoe")
    untouched = DirectoryUser.objects.get(username="rsmith")

    again = check(acme, SAMPLE.replace("jane.doe@acme.example", "jane@acme.example"))
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 1, 3)
    applied = directory_import_apply(directory_import=again, by=bob)

    assert (applied.created_count, applied.updated_count, applied.unchanged_count) == (0, 1, 3)
    changed = DirectoryUser.objects.get(username="jdoe")
    assert changed.email == "jane@acme.example"
    assert changed.public_id == jdoe.public_id  # an upsert, not a new person
    assert DirectoryUser.objects.get(username="rsmith").updated_at == untouched.updated_at
    assert DirectoryUser.objects.count() == 4


def test_it_rebuilds_phone_rows_and_unmatches_a_phone_nobody_has_any_more(acme, bob):
    incident = factories.incident()
    dropped = factories.exposure(incident, acme, "+12125550100")
    directory_import_apply(directory_import=check(acme, SAMPLE), by=bob)
    dropped.refresh_from_db()
    assert dropped.directory_user.username == "rsmith"

    directory_import_apply(
        directory_import=check(acme, SAMPLE.replace(";+12125550100", "")), by=bob
    )

    dropped.refresh_from_db()
    assert dropped.directory_user is None
    assert list(
        DirectoryPhone.objects.filter(directory_user__username="rsmith").values_list(
            "phone", flat=True
        )
    ) == ["+447700900123"]


def test_it_keeps_people_who_are_not_in_a_later_file(acme, bob):
    directory_import_apply(directory_import=check(acme, SAMPLE), by=bob)

    only_jdoe = "username,name,email,phones\njdoe,Jane Doe,jane.doe@acme.example,+12125550143\n"
    directory_import_apply(directory_import=check(acme, only_jdoe), by=bob)

    assert DirectoryUser.objects.filter(organization=acme).count() == 4


def test_it_refuses_to_apply_twice(acme, bob):
    checked = check(acme, SAMPLE)
    directory_import_apply(directory_import=checked, by=bob)

    with pytest.raises(ValidationError, match="cannot be applied again"):
        directory_import_apply(directory_import=checked, by=bob)

    assert AuditEvent.objects.filter(action="directory.import").count() == 1


def test_it_discards_a_preview_and_deletes_its_file(
    acme, bob, media_root, django_capture_on_commit_callbacks
):
    checked = check(acme, SAMPLE)
    assert len(stored_files(media_root)) == 1

    with django_capture_on_commit_callbacks(execute=True):
        directory_import_discard(directory_import=checked, by=bob)

    checked.refresh_from_db()
    assert checked.status == DirectoryImport.Status.DISCARDED
    assert stored_files(media_root) == []
    with pytest.raises(ValidationError):
        directory_import_apply(directory_import=checked, by=bob)
    assert not DirectoryUser.objects.exists()


def test_it_refuses_in_words_when_the_stored_file_is_gone(client, acme, bob):
    checked = check(acme, SAMPLE)
    checked.upload.storage.delete(checked.upload.name)
    signed_in(client, bob)

    assert client.get(preview_url(acme, checked)).status_code == 200
    with pytest.raises(ValidationError, match="gone"):
        directory_import_apply(directory_import=checked, by=bob)
    assert not DirectoryUser.objects.exists()


def test_it_records_an_audit_event_with_counts_only(acme, bob):
    checked = check(acme, SAMPLE + "bad,Bad,bad,+12125550111\n")

    directory_import_apply(directory_import=checked, by=bob)

    event = AuditEvent.objects.get(action="directory.import")
    assert event.actor == bob
    assert event.organization == acme
    assert event.target_id == str(checked.public_id)
    assert event.details == {
        "rows": 5,
        "rejected": 1,
        "created": 4,
        "updated": 0,
        "unchanged": 0,
        "exposures_rematched": 0,
    }


def test_it_recounts_a_preview_that_another_import_made_stale(client, acme, bob):
    later = check(acme, SAMPLE)
    directory_import_apply(directory_import=check(acme, SAMPLE), by=bob)
    signed_in(client, bob)

    response = client.get(preview_url(acme, later))

    assert response.context["stale"] is True
    assert (response.context["created"], response.context["unchanged"]) == (0, 4)
    applied = directory_import_apply(directory_import=later, by=bob)
    assert (applied.created_count, applied.unchanged_count) == (0, 4)


def test_it_does_not_touch_another_accounts_directory(acme, globex, bob):
    factories.directory_user(globex, "jdoe", email="jdoe@globex.example")

    directory_import_apply(directory_import=check(acme, SAMPLE), by=bob)

    assert DirectoryUser.objects.get(organization=globex).email == "jdoe@globex.example"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_applies_once_when_two_applies_race(settings, tmp_path):
    """Two people press Apply at once: the second waits for the first's lock, then
    finds the import applied and is refused."""
    acme = factories.organization("Acme Corp")
    bob = factories.member(acme, "bob@acme.example", Role.ADMIN)
    checked = check(acme, SAMPLE)
    first_holds_the_lock = threading.Event()
    outcome: dict[str, str] = {}

    def first():
        from django.db import transaction

        try:
            with transaction.atomic():
                directory_import_apply(directory_import=checked, by=bob)
                first_holds_the_lock.set()
                threading.Event().wait(0.5)
            outcome["first"] = "applied"
        finally:
            connection.close()

    def second():
        first_holds_the_lock.wait(5)
        try:
            directory_import_apply(directory_import=checked, by=bob)
            outcome["second"] = "applied"
        except ValidationError:
            outcome["second"] = "refused"
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert outcome == {"first": "applied", "second": "refused"}
    assert DirectoryUser.objects.count() == 4
    assert AuditEvent.objects.filter(action="directory.import").count() == 1


# --- Pages ---------------------------------------------------------------------------------


def test_it_uploads_and_shows_the_preview_with_its_errors(client, acme, bob):
    signed_in(client, bob)

    response = client.post(
        upload_url(acme), {"file": csv_file(SAMPLE + "jdoe,Jane Twin,,+12125550143,en\n")}
    )

    checked = DirectoryImport.objects.get(organization=acme)
    assert response.status_code == 302
    assert response["Location"] == preview_url(acme, checked)
    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert "already on line 2" in html
    assert "Apply the 4 valid rows, skip 1" in html
    assert "who are not in this file are kept" in html
    assert "jane.doe@acme.example" in html  # the sample of valid rows
    assert "+1 ••• ••• 0143" in html
    assert "+12125550143" not in html
    assert apply_url(acme, checked) in html
    assert discard_url(acme, checked) in html
    assert_nothing_inline_without_the_nonce(page)


def test_it_shows_a_refused_file_on_the_form_and_keeps_nothing(client, acme, bob, media_root):
    signed_in(client, bob)

    response = client.post(upload_url(acme), {"file": csv_file("username,phones\njdoe,+1\n")})

    assert response.status_code == 200
    assert "no column named name, email" in response.content.decode()
    assert not DirectoryImport.objects.exists()
    assert stored_files(media_root) == []


def test_it_refuses_an_upload_over_the_limit_on_the_form(client, acme, bob, monkeypatch):
    monkeypatch.setattr("portal.incidents.directory.forms.MAX_UPLOAD_BYTES", 100)
    signed_in(client, bob)

    response = client.post(upload_url(acme), {"file": csv_file(SAMPLE)})

    assert response.status_code == 200
    assert "the limit is 20 MB" in response.content.decode()
    assert not DirectoryImport.objects.exists()


def test_it_applies_from_the_preview_and_shows_what_it_did(client, acme, bob):
    factories.exposure(factories.incident(), acme, "+12125550143")
    checked = check(acme, SAMPLE, by=bob)
    signed_in(client, bob)

    response = client.post(apply_url(acme, checked), follow=True)

    html = response.content.decode()
    assert response.redirect_chain[-1][0] == preview_url(acme, checked)
    assert (
        "Applied: 4 added, 0 updated, 0 unchanged. The exposed phones were matched again: 1 exposure changed."
        in html
    )
    assert "What applying did" in html
    assert apply_url(acme, checked) not in html


def test_it_refuses_to_apply_twice_from_the_page(client, acme, bob):
    checked = check(acme, SAMPLE)
    signed_in(client, bob)
    client.post(apply_url(acme, checked))

    response = client.post(apply_url(acme, checked), follow=True)

    assert "cannot be applied again" in response.content.decode()
    assert AuditEvent.objects.filter(action="directory.import").count() == 1


def test_it_discards_from_the_preview(client, acme, bob):
    checked = check(acme, SAMPLE)
    signed_in(client, bob)

    response = client.post(discard_url(acme, checked))

    assert response.status_code == 302
    assert response["Location"] == index_url(acme)
    checked.refresh_from_db()
    assert checked.status == DirectoryImport.Status.DISCARDED


def test_it_lists_the_directory_with_phones_masked_and_match_counts(client, acme, bob):
    incident = factories.incident()
    for phone in ("+12125550143", "+12125550100", "+12125550999"):
        factories.exposure(incident, acme, phone)
    factories.exposure(factories.incident(status="draft"), acme, "+12125550888")
    directory_import_apply(directory_import=check(acme, SAMPLE), by=bob)
    signed_in(client, bob)

    response = client.get(index_url(acme))

    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["page"].paginator.count == 4
    assert (response.context["matched"], response.context["unmatched"]) == (2, 1)
    assert "robert.smith@acme.example" in html
    assert "+44 ••• ••• 0123" in html
    assert "+447700900123" not in html
    assert "No email" in html  # nomail
    assert "Check the file" in html  # the upload form
    assert preview_url(acme, DirectoryImport.objects.get()) in html
    assert_nothing_inline_without_the_nonce(response)


def test_it_lets_a_viewer_see_the_directory_but_not_change_it(client, acme, bob, vera):
    checked = check(acme, SAMPLE, by=bob)
    signed_in(client, vera)

    index = client.get(index_url(acme))
    preview = client.get(preview_url(acme, checked))

    assert index.status_code == 200
    assert "Check the file" not in index.content.decode()
    assert preview.status_code == 200
    assert apply_url(acme, checked) not in preview.content.decode()
    assert client.post(upload_url(acme), {"file": csv_file(SAMPLE)}).status_code == 403
    assert client.post(apply_url(acme, checked)).status_code == 403
    assert client.post(discard_url(acme, checked)).status_code == 403
    checked.refresh_from_db()
    assert checked.status == DirectoryImport.Status.PREVIEWED
    assert DirectoryImport.objects.count() == 1


def test_it_answers_404_for_another_accounts_directory_and_imports(
    client, acme, globex, bob, charlie
):
    checked = check(acme, SAMPLE, by=bob)
    signed_in(client, charlie)

    assert client.get(index_url(acme)).status_code == 404
    assert client.post(upload_url(acme), {"file": csv_file(SAMPLE)}).status_code == 404
    # Through his own account's URL, Acme's import is no more found.
    assert client.get(preview_url(globex, checked)).status_code == 404
    assert client.post(apply_url(globex, checked)).status_code == 404
    assert client.post(discard_url(globex, checked)).status_code == 404
    checked.refresh_from_db()
    assert checked.status == DirectoryImport.Status.PREVIEWED
    assert not DirectoryUser.objects.exists()


def test_it_sends_anonymous_visitors_to_sign_in(client, acme):
    response = client.get(index_url(acme))

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_it_rejects_get_on_apply(client, acme, bob):
    checked = check(acme, SAMPLE)
    signed_in(client, bob)

    assert client.get(apply_url(acme, checked)).status_code == 405


def test_it_costs_the_same_queries_for_5_or_50_people(client, acme, bob):
    incident = factories.incident()
    signed_in(client, bob)

    def add_people(start, n):
        for i in range(start, start + n):
            phone = f"+1212555{i:04d}"
            factories.directory_user(acme, f"user{i:03d}", phones=[phone])
            factories.exposure(incident, acme, phone)
        check(acme, SAMPLE)

    add_people(0, 5)
    client.get(index_url(acme))  # the session and the account switcher settle first
    with CaptureQueriesContext(connection) as few:
        assert client.get(index_url(acme)).status_code == 200
    add_people(5, 45)
    with CaptureQueriesContext(connection) as many:
        response = client.get(index_url(acme))

    assert len(response.context["page"].object_list) == 50
    assert len(many.captured_queries) == len(few.captured_queries)
    assert Exposure.objects.filter(organization=acme).count() == 50


@pytest.mark.postgres
def test_applying_leaves_statistics_on_the_tables_it_filled(acme, bob):
    incident = factories.incident()
    for phone in SAMPLE_PHONES:
        factories.exposure(incident, acme, phone)

    directory_import_apply(directory_import=check(acme, SAMPLE, by=bob), by=bob)

    assert analyzed(DirectoryUser, DirectoryPhone, Exposure)


def test_a_preview_waiting_to_be_applied_polls_and_an_applied_one_does_not(client, acme, bob):
    """Issue 15 point 4: another admin may apply or discard the import meanwhile."""
    waiting = check(acme, "username,name,email,phones\njdoe,Jane Doe,jane@acme.example,\n")
    signed_in(client, bob)

    html = client.get(preview_url(acme, waiting)).content.decode()

    assert 'hx-trigger="every 5s" hx-select="#directory-import-live"' in html
    DirectoryImport.objects.filter(pk=waiting.pk).update(status=DirectoryImport.Status.DISCARDED)
    assert "hx-trigger" not in client.get(preview_url(acme, waiting)).content.decode()


def test_a_search_finds_a_person_by_the_name_a_later_import_gave_them(client, acme, bob, incident):
    factories.exposure(incident, acme, phone="+12125550143")
    directory_import_apply(directory_import=check(acme, SAMPLE), by=bob)
    exposed = f"/o/{acme.public_id}/incidents/{incident.public_id}/exposed/"
    signed_in(client, bob)
    found = client.get(exposed, {"q": "Jane"}).context["rows"]
    assert [row.person for row in found] == ["Jane Doe"]

    # The same phone, the same match: only the name and email change.
    renamed = check(acme, SAMPLE.replace("Jane Doe", "Ada Roe").replace("jane.doe@", "ada.roe@"))
    directory_import_apply(directory_import=renamed, by=bob)

    assert client.get(exposed, {"q": "Jane"}).context["rows"] == []
    found = client.get(exposed, {"q": "Ada"}).context["rows"]
    assert [row.person for row in found] == ["Ada Roe"]


def test_its_errors_speak_the_members_language(client, acme, bob, media_root):
    bob.language = "fr"
    bob.save(update_fields=["language"])
    signed_in(client, bob)

    response = client.post(
        upload_url(acme), {"file": csv_file(SAMPLE + "jdoe,Jane Twin,,2125550143,xx_yyy\n")}
    )
    html = client.get(response["Location"]).content.decode()
    bob.language = "de"
    bob.save(update_fields=["language"])
    refused = client.post(upload_url(acme), {"file": csv_file("username,phones\njdoe,+1\n")})

    assert "figure déjà à la ligne 2 : chaque personne n\u2019apparaît qu\u2019une fois" in html
    assert "Le numéro se terminant par 0143 doit comporter l\u2019indicatif du pays" in html
    assert "n\u2019est pas un code de langue" in html
    assert "already on line 2" not in html
    assert "Die Datei hat keine Spalte namens name, email" in refused.content.decode()
