"""The ingestion pipeline: parse -> clean -> chunk -> embed in batches -> store.

Reliability rules (decision 0013):
- A worker first takes a lease on the document (a token and an expiry, under a row lock);
  it renews the lease after every embedding batch. A second delivery of the same task
  finds a live lease and leaves the document to its holder.
- The chunks and the ``ready`` status are written in one transaction, and only while the
  worker still holds the lease and the content is the one it parsed. Nothing is ever
  half-indexed and shown as ready; a replaced or deleted document is never resurrected.
- Work is idempotent: a document whose index already matches its content hash and its
  collection's embedding model is skipped.
- A worker that dies mid-document leaves a lease that expires; the task's message comes
  back (acks_late, reject_on_worker_lost, the broker's visibility timeout) and beat's
  ``requeue_stuck_documents`` queues the document again in any case.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from knowledge.chunking import ChunkDraft, chunk_sections
from knowledge.embeddings import Embedder, EmbeddingUnavailable, get_embedder
from knowledge.models import IN_PROGRESS_STATUSES, Chunk, Document, DocumentStatus
from knowledge.parsing import SUPPORTED_TYPES_TEXT, ParseError, detect_file_type, parse
from knowledge.services import send_progress
from knowledge.signals import collection_changed

logger = logging.getLogger(__name__)


class LeaseLost(Exception):
    """The document was deleted, replaced or taken over while we worked: stop quietly."""


class TransientError(Exception):
    """Worth trying again later (embedding endpoint down, storage hiccup)."""


@dataclass(frozen=True)
class Outcome:
    document_id: int
    result: str  # ready | failed | skipped | busy | gone
    detail: str = ""


def ingest(document_id: int) -> Outcome:
    token = secrets.token_hex(16)
    claimed = _claim(document_id, token)
    if isinstance(claimed, Outcome):
        return claimed
    document = claimed
    try:
        return _run(document, token)
    except LeaseLost:
        return Outcome(document_id, "gone", "deleted, replaced or taken over meanwhile")
    except TransientError:
        _release(document_id, token)  # the retry may claim it at once
        raise


def _claim(document_id: int, token: str) -> Document | Outcome:
    now = timezone.now()
    with transaction.atomic():
        document = (
            Document.objects.select_for_update(of=("self",))
            .select_related("collection")
            .filter(pk=document_id)
            .first()
        )
        if document is None:
            return Outcome(document_id, "gone", "no such document")
        if document.status == DocumentStatus.FAILED:
            return Outcome(document_id, "skipped", "failed; re-index it to try again")
        if (
            document.status == DocumentStatus.READY
            and document.indexed_hash == document.content_hash
            and document.indexed_model == document.collection.embedding_model
        ):
            return Outcome(document_id, "skipped", "already indexed")
        if document.lease_token and document.lease_expires_at and document.lease_expires_at > now:
            return Outcome(document_id, "busy", "another worker holds the lease")
        document.lease_token = token
        document.lease_expires_at = now + timedelta(seconds=settings.KNOWLEDGE_LEASE_SECONDS)
        document.status = DocumentStatus.PARSING
        document.status_changed_at = now
        document.attempts += 1
        document.chunks_done = document.chunks_total = 0
        document.error = ""
        document.save()
    send_progress(document)
    return document


def _run(document: Document, token: str) -> Outcome:
    collection = document.collection
    try:
        embedder = get_embedder(collection.embedding_model)
    except Exception:  # a model removed from settings since
        return _fail(
            document,
            token,
            f"The collection's embedding model {collection.embedding_model!r} is not "
            "available on this server.",
        )
    data = _read(document, token)
    file_type = detect_file_type(name=document.name, head=data[:1024])
    if file_type is None:
        return _fail(document, token, f"Unsupported file type. Supported: {SUPPORTED_TYPES_TEXT}.")
    if file_type not in settings.KNOWLEDGE_ALLOWED_TYPES:
        return _fail(document, token, f"Files of type {file_type} are not accepted here.")
    try:
        parsed = parse(data=data, file_type=file_type, max_pages=settings.KNOWLEDGE_MAX_PAGES)
    except ParseError as e:
        return _fail(document, token, str(e), file_type=file_type)
    except Exception as e:  # a parser bug must fail this document, not the worker
        logger.exception("parser crashed on document %s", document.pk)
        return _fail(
            document,
            token,
            f"This file could not be read ({type(e).__name__}); it may be damaged.",
            file_type=file_type,
        )
    if parsed.char_count > settings.KNOWLEDGE_MAX_TEXT_CHARS:
        return _fail(
            document,
            token,
            f"The file holds {parsed.char_count:,} characters of text; the limit is "
            f"{settings.KNOWLEDGE_MAX_TEXT_CHARS:,}.",
            file_type=file_type,
        )
    drafts = chunk_sections(
        parsed.sections,
        max_tokens=settings.KNOWLEDGE_CHUNK_TOKENS,
        overlap_tokens=settings.KNOWLEDGE_CHUNK_OVERLAP_TOKENS,
    )
    document.file_type = file_type
    document.page_count = parsed.page_count
    document.chunks_total = len(drafts)
    document.status = DocumentStatus.EMBEDDING
    _heartbeat(
        document,
        token,
        file_type=file_type,
        page_count=parsed.page_count,
        chunks_total=len(drafts),
        chunks_done=0,
        status=DocumentStatus.EMBEDDING,
        status_changed_at=timezone.now(),
    )
    vectors = _embed(document, token, embedder, drafts)
    return _store(document, token, embedder.name, drafts, vectors)


def _read(document: Document, token: str) -> bytes:
    if document.size_bytes > settings.KNOWLEDGE_MAX_FILE_BYTES:
        _fail(document, token, f"The file is over the size limit ({document.size_bytes} bytes).")
        raise LeaseLost
    try:
        with document.file.open("rb") as handle:
            data: bytes = handle.read(settings.KNOWLEDGE_MAX_FILE_BYTES + 1)
            return data
    except FileNotFoundError:
        _fail(document, token, "The stored file is missing; upload it again.")
        raise LeaseLost from None
    except OSError as e:
        raise TransientError(f"storage: {e}") from e


def _embed(
    document: Document, token: str, embedder: Embedder, drafts: list[ChunkDraft]
) -> list[list[float]]:
    batch = max(1, settings.KNOWLEDGE_EMBEDDING_BATCH_SIZE)
    inputs = [draft.embedding_input() for draft in drafts]
    vectors: list[list[float]] = []
    for start in range(0, len(inputs), batch):
        try:
            vectors.extend(embedder.embed(inputs[start : start + batch]))
        except EmbeddingUnavailable as e:
            raise TransientError(str(e)) from e
        if settings.KNOWLEDGE_EMBED_DELAY_MS:
            time.sleep(settings.KNOWLEDGE_EMBED_DELAY_MS / 1000)
        document.chunks_done = len(vectors)
        _heartbeat(document, token, chunks_done=len(vectors))
    return vectors


def _heartbeat(document: Document, token: str, **fields: object) -> None:
    """Save progress and renew the lease, or learn that we no longer hold it."""
    fields["lease_expires_at"] = timezone.now() + timedelta(
        seconds=settings.KNOWLEDGE_LEASE_SECONDS
    )
    fields["updated_at"] = timezone.now()
    updated = Document.objects.filter(pk=document.pk, lease_token=token).update(**fields)
    if not updated:
        raise LeaseLost
    send_progress(document)


def _store(
    document: Document,
    token: str,
    model: str,
    drafts: list[ChunkDraft],
    vectors: list[list[float]],
) -> Outcome:
    with transaction.atomic():
        locked = (
            Document.objects.select_for_update()
            .filter(pk=document.pk, lease_token=token, content_hash=document.content_hash)
            .first()
        )
        if locked is None:
            raise LeaseLost
        Chunk.objects.filter(document_id=document.pk).delete()
        Chunk.objects.bulk_create(
            [
                Chunk(
                    team_id=document.team_id,
                    collection_id=document.collection_id,
                    document_id=document.pk,
                    chunk_index=index,
                    page=draft.page,
                    heading=draft.heading,
                    text=draft.text,
                    token_count=draft.token_count,
                    embedding=vector,
                    dimension=len(vector),
                )
                for index, (draft, vector) in enumerate(zip(drafts, vectors, strict=True))
            ],
            batch_size=500,
        )
        locked.status = DocumentStatus.READY
        locked.status_changed_at = timezone.now()
        locked.chunks_done = locked.chunks_total = len(drafts)
        locked.file_type = document.file_type
        locked.page_count = document.page_count
        locked.indexed_hash = document.content_hash
        locked.indexed_model = model
        locked.lease_token = ""
        locked.lease_expires_at = None
        locked.error = ""
        locked.save()
        transaction.on_commit(lambda: _announce(locked))
    return Outcome(document.pk, "ready", f"{len(drafts)} chunks")


def _announce(document: Document) -> None:
    send_progress(document)
    collection_changed.send(
        sender=Document, team_id=document.team_id, collection_id=document.collection_id
    )


def _fail(document: Document, token: str, reason: str, *, file_type: str = "") -> Outcome:
    with transaction.atomic():
        locked = (
            Document.objects.select_for_update().filter(pk=document.pk, lease_token=token).first()
        )
        if locked is None:
            raise LeaseLost
        Chunk.objects.filter(document_id=document.pk).delete()
        locked.status = DocumentStatus.FAILED
        locked.status_changed_at = timezone.now()
        locked.error = reason
        locked.file_type = file_type or locked.file_type
        locked.chunks_done = 0
        locked.lease_token = ""
        locked.lease_expires_at = None
        locked.save()
        transaction.on_commit(lambda: send_progress(locked))
    logger.info("document %s failed: %s", document.pk, reason)
    return Outcome(document.pk, "failed", reason)


def fail_after_retries(document_id: int, reason: str) -> None:
    """The task gave up on a transient error: say so instead of staying in progress."""
    with transaction.atomic():
        locked = Document.objects.select_for_update().filter(pk=document_id).first()
        if locked is None or locked.status not in (DocumentStatus.QUEUED, *IN_PROGRESS_STATUSES):
            return
        locked.status = DocumentStatus.FAILED
        locked.status_changed_at = timezone.now()
        locked.error = reason
        locked.lease_token = ""
        locked.lease_expires_at = None
        locked.save()
        transaction.on_commit(lambda: send_progress(locked))


def _release(document_id: int, token: str) -> None:
    Document.objects.filter(pk=document_id, lease_token=token).update(
        lease_token="", lease_expires_at=None
    )


def claim_stuck_documents() -> list[int]:
    """Documents to queue again: those whose worker is gone (lease expired mid-way), and
    queued ones whose task never arrived (the broker was down at upload). Each is marked
    as re-queued now, so a long backlog is not queued again every sweep."""
    now = timezone.now()
    lease = timedelta(seconds=settings.KNOWLEDGE_LEASE_SECONDS)
    abandoned = Q(status__in=IN_PROGRESS_STATUSES) & (
        Q(lease_expires_at__lt=now) | Q(lease_token="", status_changed_at__lt=now - lease)
    )
    forgotten = Q(status=DocumentStatus.QUEUED, status_changed_at__lt=now - lease)
    with transaction.atomic():
        ids = list(
            Document.objects.select_for_update(skip_locked=True)
            .filter(abandoned | forgotten)
            .values_list("pk", flat=True)
        )
        Document.objects.filter(pk__in=ids).update(
            lease_token="", lease_expires_at=None, status_changed_at=now
        )
    return ids
