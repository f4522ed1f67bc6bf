"""Indexed documents for the gateway's RAG and semantic-cache tests.

``index_document`` writes a ready document and its chunks the way ingestion leaves them
(real embeddings from the default model, the generated tsvector), without parsing a
file: these tests are about what the gateway does with an index, and knowledge's own
tests cover how files become one. ``upload_document`` goes through knowledge's services
(Celery runs eagerly in tests) where the whole path matters.
"""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Team
from billing.models import UsageRecord
from knowledge import services as knowledge_services
from knowledge.embeddings import DEFAULT_EMBEDDING_DIMENSION, DEFAULT_EMBEDDING_MODEL, embed_texts
from knowledge.models import Chunk, Collection, Document, DocumentStatus


def make_collection(team: Team, name: str = "Handbook", *, is_default: bool = False) -> Collection:
    return knowledge_services.collection_create(team=team, name=name, is_default=is_default)


def index_document(collection: Collection, name: str, pages: list[str]) -> Document:
    """A ready document with one chunk per page (page numbers from 1)."""
    document = Document.objects.create(
        team_id=collection.team_id,
        collection=collection,
        name=name,
        file_type=name.rsplit(".", 1)[-1],
        content_hash=f"test-{name}-{len(pages)}",
        status=DocumentStatus.READY,
        chunks_done=len(pages),
        chunks_total=len(pages),
        page_count=len(pages),
        indexed_model=DEFAULT_EMBEDDING_MODEL,
    )
    vectors = embed_texts(pages)
    Chunk.objects.bulk_create(
        Chunk(
            team_id=collection.team_id,
            collection=collection,
            document=document,
            chunk_index=index,
            page=index + 1,
            text=text,
            token_count=len(text.split()),
            embedding=vector,
            dimension=DEFAULT_EMBEDDING_DIMENSION,
        )
        for index, (text, vector) in enumerate(zip(pages, vectors, strict=True))
    )
    return document


def upload_document(collection: Collection, name: str, data: bytes) -> Document:
    """Through knowledge's own upload and (eager) ingestion; the caller commits."""
    document = knowledge_services.document_upload(
        collection=collection, uploaded_file=SimpleUploadedFile(name, data)
    )
    document.refresh_from_db()
    return document


def ensure_local_embedding_model() -> None:
    """The catalogue row the data migration creates (transactional tests flush it)."""
    from importlib import import_module

    from django.apps import apps

    from gateway.catalogue import bump_catalogue_version

    migration = import_module("gateway.migrations.0004_rag_semantic_cache_embeddings")
    migration.create_local_embedding_model(apps, None)
    bump_catalogue_version()


def warm_server(url: str, secret: str) -> None:
    """Load the embedding model in the server process before timed requests: the first
    load imports PyTorch and takes tens of seconds on a busy 2-core machine."""
    import httpx

    ensure_local_embedding_model()
    response = httpx.post(
        f"{url}/v1/embeddings",
        json={"model": DEFAULT_EMBEDDING_MODEL, "input": "warm up"},
        headers={"Authorization": f"Bearer {secret}"},
        timeout=600,
    )
    assert response.status_code == 200, response.text


def ledger_rows(count: int, **filters: object) -> list[UsageRecord]:
    """The ledger rows matching ``filters`` once ``count`` of them are there: the HTTP API
    answers first and writes its rows just after (decision 0023)."""
    import time

    deadline = time.monotonic() + 30
    while True:
        rows = list(UsageRecord.objects.filter(**filters).order_by("created_at", "id"))
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)
