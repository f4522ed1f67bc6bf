from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from core import views


@pytest.mark.django_db
def test_healthz_is_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_checks_database_and_redis(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


@pytest.mark.django_db
def test_readyz_is_503_when_redis_is_unreachable(client, monkeypatch, tmp_path):
    dead = tmp_path / "nothing-listens-here.sock"
    monkeypatch.setattr(
        views,
        "get_async_redis",
        lambda: aioredis.Redis(unix_socket_path=str(dead), socket_connect_timeout=0.2),
    )
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("error")


def test_every_response_carries_a_request_id(client):
    response = client.get("/healthz")
    assert response["X-Request-Id"].startswith("req_")


def test_a_sane_incoming_request_id_is_kept_and_garbage_replaced(client):
    assert (
        client.get("/healthz", HTTP_X_REQUEST_ID="trace-1234abcd")["X-Request-Id"]
        == "trace-1234abcd"
    )
    replaced = client.get("/healthz", HTTP_X_REQUEST_ID="<script>alert(1)</script>")["X-Request-Id"]
    assert replaced.startswith("req_")


@pytest.mark.django_db
def test_probes_answer_whatever_the_host_header_other_pages_do_not(client):
    # Cloud Run and load balancers probe with hosts outside ALLOWED_HOSTS.
    assert client.get("/healthz", HTTP_HOST="10.8.0.7:8080").status_code == 200
    assert client.get("/readyz", HTTP_HOST="10.8.0.7:8080").status_code == 200
    assert client.get("/api/me", HTTP_HOST="10.8.0.7:8080").status_code == 400
