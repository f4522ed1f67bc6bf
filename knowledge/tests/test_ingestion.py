"""Ingestion end to end (Celery eager): statuses, progress, failures with reasons,
idempotency, replace, delete, leases and the stuck-document sweep."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from knowledge import ingestion, services
from knowledge.embeddings import EmbeddingUnavailable
from knowledge.models import Chunk, Document, DocumentStatus
from knowledge.search import search
from knowledge.tests.pdfgen import make_pdf

MANUAL = b"""# Returns

Items can be returned within 30 days with the original receipt.

# Shipping

Orders ship from the Rotterdam warehouse within two business days.
"""


def test_upload_ends_ready_with_progress_and_is_searchable(collection_a, ingest, progress_events):
    document = ingest(collection_a, "manual.md", MANUAL)
    assert document.status == DocumentStatus.READY, document.error
    assert document.file_type == "markdown"
    assert document.chunks_total == document.chunks_done == 2
    assert document.indexed_hash == document.content_hash
    assert default_storage.exists(document.file.name)
    statuses = [e["status"] for e in progress_events if e["signal"] == "progress"]
    assert statuses[0] == "queued"
    assert statuses[-1] == "ready"
    assert {"parsing", "embedding"} <= set(statuses)
    assert progress_events[-1] == {
        "signal": "changed",
        "team_id": collection_a.team_id,
        "collection_id": collection_a.pk,
    }
    chunks = list(Chunk.objects.filter(document=document))
    assert [c.heading for c in chunks] == ["Returns", "Shipping"]
    assert all(c.team_id == collection_a.team_id and c.dimension == 384 for c in chunks)
    hits = search(team_id=collection_a.team_id, query="where do orders ship from?")
    assert hits[0].document_id == document.pk
    assert hits[0].heading == "Shipping"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("broken.pdf", b"%PDF-1.4\n" + b"\x00garbage" * 200, "damaged"),
        ("fake.pdf", b"just text pretending", "not a PDF"),
        ("picture.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "Unsupported file type"),
        ("empty.txt", b"\n\n  \n", "no text"),
    ],
)
def test_bad_files_fail_with_a_reason_and_nothing_else_is_affected(
    collection_a, ingest, name, data, reason
):
    good = ingest(collection_a, "manual.md", MANUAL)
    bad = ingest(collection_a, name, data)
    assert bad.status == DocumentStatus.FAILED
    assert reason in bad.error
    assert not Chunk.objects.filter(document=bad).exists()
    good.refresh_from_db()
    assert good.status == DocumentStatus.READY
    assert (
        search(team_id=collection_a.team_id, query="Rotterdam warehouse")[0].document_id == good.pk
    )


def test_limits_are_settings(collection_a, ingest, settings):
    settings.KNOWLEDGE_MAX_PAGES = 3
    too_long = ingest(collection_a, "long.pdf", make_pdf([["text"]] * 4))
    assert too_long.status == DocumentStatus.FAILED
    assert too_long.error == "This PDF has 4 pages; the limit is 3."

    settings.KNOWLEDGE_MAX_FILE_BYTES = 100
    too_big = ingest(collection_a, "big.txt", b"x " * 100)
    assert too_big.status == DocumentStatus.FAILED
    assert too_big.error == "The file is 200 bytes; the limit is 100 bytes."
    assert not too_big.file  # never stored

    settings.KNOWLEDGE_MAX_FILE_BYTES = 10_000
    settings.KNOWLEDGE_ALLOWED_TYPES = ["pdf"]
    refused = ingest(collection_a, "notes.md", b"# hi\n\nthere")
    assert refused.status == DocumentStatus.FAILED
    assert refused.error == "Files of type markdown are not accepted here."

    settings.KNOWLEDGE_ALLOWED_TYPES = ["text"]
    settings.KNOWLEDGE_MAX_TEXT_CHARS = 50
    wordy = ingest(collection_a, "wordy.txt", b"word " * 40)
    assert wordy.status == DocumentStatus.FAILED
    assert "limit is 50" in wordy.error


def test_same_content_again_is_no_new_work(
    collection_a, ingest, django_capture_on_commit_callbacks
):
    first = ingest(collection_a, "manual.md", MANUAL)
    again = ingest(collection_a, "copy-of-manual.md", MANUAL)
    assert again.pk == first.pk
    assert Document.objects.filter(collection=collection_a).count() == 1
    chunk_ids = set(Chunk.objects.values_list("pk", flat=True))
    # Running the task again (a duplicate message) changes nothing.
    assert ingestion.ingest(first.pk).result == "skipped"
    assert set(Chunk.objects.values_list("pk", flat=True)) == chunk_ids


def test_replace_reindexes_and_old_text_stops_answering(
    collection_a, ingest, django_capture_on_commit_callbacks
):
    document = ingest(collection_a, "manual.md", MANUAL)
    old_file = document.file.name
    new = b"# Returns\n\nReturns are no longer accepted after 14 days.\n"
    with django_capture_on_commit_callbacks(execute=True):
        services.document_replace(
            document=document, uploaded_file=SimpleUploadedFile("manual.md", new)
        )
    document.refresh_from_db()
    assert document.status == DocumentStatus.READY
    assert document.chunks_total == 1
    assert not default_storage.exists(old_file)
    assert search(team_id=collection_a.team_id, query="Rotterdam", mode="words") == []
    assert "14 days" in search(team_id=collection_a.team_id, query="returns")[0].text


def test_delete_removes_chunks_and_file(
    collection_a, ingest, django_capture_on_commit_callbacks, progress_events
):
    document = ingest(collection_a, "manual.md", MANUAL)
    name = document.file.name
    with django_capture_on_commit_callbacks(execute=True):
        services.document_delete(document=document)
    assert not Document.objects.filter(pk=document.pk).exists()
    assert not Chunk.objects.exists()
    assert not default_storage.exists(name)
    assert progress_events[-1]["signal"] == "changed"
    assert search(team_id=collection_a.team_id, query="returns receipt") == []


def test_a_live_lease_keeps_a_second_delivery_out(collection_a, world):
    document = services.document_upload(
        collection=collection_a, uploaded_file=SimpleUploadedFile("m.md", MANUAL)
    )
    Document.objects.filter(pk=document.pk).update(
        status=DocumentStatus.EMBEDDING,
        lease_token="someone-else",
        lease_expires_at=timezone.now() + timedelta(minutes=5),
    )
    assert ingestion.ingest(document.pk).result == "busy"
    assert not Chunk.objects.exists()
    # Once that lease has run out (its worker died), the document is taken over.
    Document.objects.filter(pk=document.pk).update(lease_expires_at=timezone.now())
    assert ingestion.ingest(document.pk).result == "ready"
    assert Chunk.objects.filter(document=document).count() == 2


def test_work_from_a_lost_lease_is_never_stored(collection_a, monkeypatch):
    document = services.document_upload(
        collection=collection_a, uploaded_file=SimpleUploadedFile("m.md", MANUAL)
    )
    real_embed = ingestion._embed

    def embed_then_lose_the_lease(doc, token, embedder, drafts):
        vectors = real_embed(doc, token, embedder, drafts)
        # Meanwhile the document was replaced (new content, lease revoked).
        Document.objects.filter(pk=doc.pk).update(lease_token="", content_hash="0" * 64)
        return vectors

    monkeypatch.setattr(ingestion, "_embed", embed_then_lose_the_lease)
    assert ingestion.ingest(document.pk).result == "gone"
    assert not Chunk.objects.exists()
    document.refresh_from_db()
    assert document.status == DocumentStatus.EMBEDDING  # left for the new content's task


def test_sweep_requeues_abandoned_and_forgotten_documents(collection_a, settings):
    settings.KNOWLEDGE_LEASE_SECONDS = 60
    make = lambda name: services.document_upload(  # noqa: E731
        collection=collection_a, uploaded_file=SimpleUploadedFile(name, name.encode() + MANUAL)
    )
    abandoned, forgotten, fresh, live = make("a.md"), make("b.md"), make("c.md"), make("d.md")
    long_ago = timezone.now() - timedelta(minutes=5)
    Document.objects.filter(pk=abandoned.pk).update(
        status=DocumentStatus.EMBEDDING, lease_token="dead", lease_expires_at=long_ago
    )
    Document.objects.filter(pk=forgotten.pk).update(status_changed_at=long_ago)
    Document.objects.filter(pk=live.pk).update(
        status=DocumentStatus.PARSING,
        lease_token="alive",
        lease_expires_at=timezone.now() + timedelta(minutes=1),
    )
    from knowledge.tasks import requeue_stuck_documents

    assert requeue_stuck_documents() == 2  # eager: both were indexed right here
    for document, expected in [
        (abandoned, DocumentStatus.READY),
        (forgotten, DocumentStatus.READY),
        (fresh, DocumentStatus.QUEUED),
        (live, DocumentStatus.PARSING),
    ]:
        document.refresh_from_db()
        assert document.status == expected, document.name
    assert ingestion.claim_stuck_documents() == []  # nothing left to re-queue


@pytest.fixture
def eager_retries():
    """Eager tasks that propagate errors also propagate Retry; let Celery run retries."""
    from knowledge.tasks import ingest_document

    app = ingest_document.app  # the project's Celery app (knowledge may not import config)
    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = True


@pytest.mark.usefixtures("eager_retries")
def test_transient_embedding_errors_are_retried(collection_a, ingest, monkeypatch):
    from knowledge import embeddings

    calls = {"n": 0}
    real = embeddings.LocalSentenceTransformer.embed

    def flaky(self, texts):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise EmbeddingUnavailable("connection reset")
        return real(self, texts)

    monkeypatch.setattr(embeddings.LocalSentenceTransformer, "embed", flaky)
    document = ingest(collection_a, "manual.md", MANUAL)
    assert document.status == DocumentStatus.READY
    assert document.attempts == 3
    assert Chunk.objects.filter(document=document).count() == 2


@pytest.mark.usefixtures("eager_retries")
def test_transient_errors_give_up_with_a_reason(collection_a, ingest, monkeypatch, settings):
    from knowledge import embeddings

    settings.KNOWLEDGE_TASK_MAX_RETRIES = 1

    def down(self, texts):
        raise EmbeddingUnavailable("connection refused")

    monkeypatch.setattr(embeddings.LocalSentenceTransformer, "embed", down)
    document = ingest(collection_a, "manual.md", MANUAL)
    assert document.status == DocumentStatus.FAILED
    assert "service was unavailable" in document.error
    assert not Chunk.objects.exists()


def test_reindex_after_failure(collection_a, ingest, settings, django_capture_on_commit_callbacks):
    settings.KNOWLEDGE_ALLOWED_TYPES = ["pdf"]
    document = ingest(collection_a, "manual.md", MANUAL)
    assert document.status == DocumentStatus.FAILED
    settings.KNOWLEDGE_ALLOWED_TYPES = ["markdown"]
    with django_capture_on_commit_callbacks(execute=True):
        services.document_reindex(document=document)
    document.refresh_from_db()
    assert document.status == DocumentStatus.READY
    assert document.error == ""


def test_changing_the_embedding_model_reembeds_the_collection(
    collection_a, ingest, django_capture_on_commit_callbacks, settings, monkeypatch
):
    from knowledge import embeddings

    document = ingest(collection_a, "manual.md", MANUAL)
    settings.KNOWLEDGE_OPENAI_EMBEDDING_MODELS = {"tiny-embed": "16"}

    class Tiny:
        name, dimension = "tiny-embed", 16

        def embed(self, texts):
            return [
                embeddings._normalise([float(len(t) % (i + 2)) + 1 for i in range(16)])
                for t in texts
            ]

    real_get = embeddings.get_embedder
    monkeypatch.setattr(
        "knowledge.ingestion.get_embedder",
        lambda model=None: Tiny() if model == "tiny-embed" else real_get(model),
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.collection_update(collection=collection_a, embedding_model="tiny-embed")
    collection_a.refresh_from_db()
    assert collection_a.embedding_dimension == 16
    document.refresh_from_db()
    assert document.status == DocumentStatus.READY
    assert document.indexed_model == "tiny-embed"
    assert set(Chunk.objects.values_list("dimension", flat=True)) == {16}
