import pytest

from portal.celery import app as celery_app


@pytest.fixture
def broker_at(own_redis):
    original = celery_app.conf.broker_url
    celery_app.conf.broker_url = own_redis.url
    yield own_redis
    celery_app.conf.broker_url = original


@pytest.mark.django_db
def test_it_answers_ok_when_database_and_broker_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_it_reports_a_stopped_broker(client, broker_at):
    assert client.get("/healthz").status_code == 200

    broker_at.stop()

    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "broker": "unavailable"}


def test_it_rejects_post(client):
    assert client.post("/healthz").status_code == 405


@pytest.mark.django_db
def test_it_answers_a_probe_that_uses_an_address_outside_allowed_hosts(client):
    response = client.get("/healthz", HTTP_HOST="10.0.3.7:8000")
    assert response.status_code == 200
    assert client.get("/", HTTP_HOST="10.0.3.7:8000").status_code == 400
