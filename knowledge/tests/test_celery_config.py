"""The Celery wiring the ingestion relies on."""

from __future__ import annotations

from celery import current_app
from django.conf import settings
from kombu import Connection


def test_the_broker_is_this_test_runs_redis_database():
    db = int(settings.REDIS_URL.rsplit("db=", 1)[1])
    with Connection(settings.CELERY_BROKER_URL) as connection:
        client = connection.default_channel.client  # type: ignore[attr-defined]  # redis channel
        assert client.connection_pool.connection_kwargs["db"] == db
        assert client.ping()


def test_ingestion_survives_a_lost_worker_and_beat_sweeps_stuck_documents():
    from knowledge.tasks import ingest_document

    assert ingest_document.acks_late is True
    assert ingest_document.reject_on_worker_lost is True
    assert current_app.conf.worker_prefetch_multiplier == 1
    schedule = settings.CELERY_BEAT_SCHEDULE["knowledge-requeue-stuck-documents"]
    assert schedule["task"] in current_app.tasks
