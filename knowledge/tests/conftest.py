"""Knowledge fixtures: files go to a temporary media root; ingestion runs inline (Celery
is eager in test settings) once the upload's transaction "commits"."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from knowledge import services
from knowledge.models import Collection, Document


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def collection_a(world) -> Collection:
    return services.collection_create(team=world.team_a, name="Handbook", created_by=world.owner_a)


@pytest.fixture
def collection_b(world) -> Collection:
    return services.collection_create(
        team=world.team_b, name="Handbook", created_by=world.outsider_b
    )


@pytest.fixture
def ingest(django_capture_on_commit_callbacks):
    """Upload a file and run its ingestion to the end (the on-commit task, eagerly)."""

    def _ingest(collection: Collection, name: str, data: bytes) -> Document:
        with django_capture_on_commit_callbacks(execute=True):
            document = services.document_upload(
                collection=collection, uploaded_file=SimpleUploadedFile(name, data)
            )
        document.refresh_from_db()
        return document

    return _ingest


@pytest.fixture
def progress_events():
    """Every document_progress and collection_changed signal sent during the test."""
    from knowledge.signals import collection_changed, document_progress

    events: list[dict] = []

    def on_progress(sender, **kwargs):
        events.append({"signal": "progress", **{k: v for k, v in kwargs.items() if k != "signal"}})

    def on_changed(sender, **kwargs):
        events.append({"signal": "changed", **{k: v for k, v in kwargs.items() if k != "signal"}})

    document_progress.connect(on_progress, weak=False)
    collection_changed.connect(on_changed, weak=False)
    yield events
    document_progress.disconnect(on_progress)
    collection_changed.disconnect(on_changed)
