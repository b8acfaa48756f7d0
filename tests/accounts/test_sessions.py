"""Sessions end after a while without activity, after a fixed time in any case, and on
request everywhere else."""

import time

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY
from django.test import Client

from portal.audit.models import AuditEvent
from tests.signin import sign_in

pytestmark = pytest.mark.django_db


def test_it_signs_out_after_the_idle_limit(client, alice, settings):
    sign_in(client, alice)
    assert client.get("/").status_code == 200

    with time_machine.travel(time.time() + settings.SESSION_IDLE_MINUTES * 60 + 5):
        response = client.get("/", follow=True)

    assert SESSION_KEY not in client.session
    assert response.redirect_chain[0] == ("/accounts/login/", 302)
    assert (
        f"after {settings.SESSION_IDLE_MINUTES} minutes without activity"
        in response.content.decode()
    )


def test_it_keeps_an_active_session_past_the_idle_limit(client, alice, settings):
    sign_in(client, alice)
    start = time.time()
    step = settings.SESSION_IDLE_MINUTES * 60 * 0.8

    for n in range(1, 4):
        with time_machine.travel(start + n * step):
            assert client.get("/").status_code == 200

    assert int(client.session[SESSION_KEY]) == alice.pk


def test_it_signs_out_at_the_absolute_limit_however_active(client, alice, settings):
    settings.SESSION_IDLE_MINUTES = 30
    settings.SESSION_ABSOLUTE_MINUTES = 120
    sign_in(client, alice)
    start = time.time()

    for minutes in (25, 50, 75, 100):
        with time_machine.travel(start + minutes * 60):
            assert client.get("/").status_code == 200
    with time_machine.travel(start + 121 * 60):
        response = client.get("/", follow=True)

    assert SESSION_KEY not in client.session
    assert "sessions last at most 2 hours" in response.content.decode()


def test_it_signs_out_my_other_sessions(alice):
    laptop, phone = Client(), Client()
    sign_in(laptop, alice)
    with time_machine.travel(time.time() + 31):  # the next code
        sign_in(phone, alice)
        assert phone.get("/").context["user"] == alice

        page = laptop.get("/accounts/sessions/")
        assert page.context["session_count"] == 2
        laptop.post("/accounts/sessions/")

        assert not phone.get("/").context["user"].is_authenticated
        assert phone.get("/o/00000000-0000-0000-0000-000000000000/")["Location"].startswith(
            "/accounts/login/"
        )
        assert laptop.get("/").context["user"] == alice
    assert AuditEvent.objects.filter(action="signin.success", actor=alice).count() == 2


def test_it_sets_secure_cookies_in_production(tmp_path):
    from tests.core.test_settings import PRODUCTION, _manage

    result = _manage(
        tmp_path,
        "shell",
        "-c",
        "from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY)",
        **PRODUCTION,
    )

    assert result.stdout.splitlines()[-1].split() == ["True", "True", "True"], result.stderr
