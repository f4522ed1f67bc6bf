"""Writes: collections and documents. Ingestion itself is ``knowledge.ingestion`` on Celery.

Files live in Django's default storage (the file system in development, a GCS bucket in
production). A file is removed only after the database change that drops it commits, so a
rolled-back delete never loses a file that a row still points to.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import ValidationFailed
from knowledge.embeddings import DEFAULT_EMBEDDING_MODEL, embedding_dimension
from knowledge.models import Chunk, Collection, Document, DocumentStatus
from knowledge.signals import collection_changed, document_progress

if TYPE_CHECKING:
    from accounts.models import Team, User


def collection_create(
    *,
    team: Team,
    name: str,
    description: str = "",
    embedding_model: str | None = None,
    created_by: User | None = None,
    is_default: bool = False,
) -> Collection:
    """A new collection; a team's first collection becomes its default."""
    model = embedding_model or DEFAULT_EMBEDDING_MODEL
    dimension = embedding_dimension(model)  # unknown models are refused here
    name = name.strip()
    if not name:
        raise ValidationFailed("A collection needs a name.", param="name")
    with transaction.atomic():
        has_default = Collection.objects.filter(team=team, is_default=True).exists()
        if is_default and has_default:
            Collection.objects.filter(team=team, is_default=True).update(is_default=False)
        try:
            with transaction.atomic():
                return Collection.objects.create(
                    team=team,
                    name=name,
                    description=description,
                    embedding_model=model,
                    embedding_dimension=dimension,
                    is_default=is_default or not has_default,
                    created_by=created_by,
                )
        except IntegrityError as e:
            raise ValidationFailed(
                f"This team already has a collection named {name!r}.",
                code="duplicate_name",
                param="name",
            ) from e


def collection_update(
    *,
    collection: Collection,
    name: str | None = None,
    description: str | None = None,
    embedding_model: str | None = None,
    is_default: bool | None = None,
) -> Collection:
    """Change a collection. A new embedding model re-embeds every document in it: the old
    vectors are dropped at once (they cannot be compared with the new model's)."""
    with transaction.atomic():
        collection = Collection.objects.select_for_update().get(pk=collection.pk)
        if name is not None and name.strip() and name.strip() != collection.name:
            if Collection.objects.filter(team_id=collection.team_id, name=name.strip()).exists():
                raise ValidationFailed(
                    f"This team already has a collection named {name.strip()!r}.",
                    code="duplicate_name",
                    param="name",
                )
            collection.name = name.strip()
        if description is not None:
            collection.description = description
        if is_default:
            Collection.objects.filter(team_id=collection.team_id, is_default=True).exclude(
                pk=collection.pk
            ).update(is_default=False)
            collection.is_default = True
        elif is_default is False:
            collection.is_default = False
        reembed = embedding_model is not None and embedding_model != collection.embedding_model
        if reembed:
            assert embedding_model is not None
            collection.embedding_dimension = embedding_dimension(embedding_model)
            collection.embedding_model = embedding_model
        collection.save()
        if reembed:
            _requeue_collection(collection)
    return collection


def _requeue_collection(collection: Collection) -> None:
    Chunk.objects.filter(collection=collection).delete()
    documents = list(
        Document.objects.filter(collection=collection).exclude(status=DocumentStatus.FAILED)
    )
    Document.objects.filter(pk__in=[d.pk for d in documents]).update(
        status=DocumentStatus.QUEUED,
        status_changed_at=timezone.now(),
        chunks_done=0,
        chunks_total=0,
        indexed_hash="",
        indexed_model="",
        lease_token="",
        lease_expires_at=None,
    )
    for document in documents:
        queue_ingestion(document_id=document.pk)
    _on_commit_changed(collection.team_id, collection.pk)


def collection_delete(*, collection: Collection) -> None:
    files = list(
        Document.objects.filter(collection=collection)
        .exclude(file="")
        .values_list("file", flat=True)
    )
    team_id, collection_id = collection.team_id, collection.pk
    with transaction.atomic():
        collection.delete()  # cascades to documents and chunks
        transaction.on_commit(lambda: _delete_files(files))
        _on_commit_changed(team_id, collection_id)


def _hash_and_size(uploaded_file: UploadedFile) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    for piece in uploaded_file.chunks():
        digest.update(piece)
        size += len(piece)
    uploaded_file.seek(0)
    return digest.hexdigest(), size


def document_upload(
    *,
    collection: Collection,
    uploaded_file: UploadedFile,
    name: str | None = None,
    uploaded_by: User | None = None,
) -> Document:
    """Store the file and queue its ingestion (after commit). The same content uploaded
    to the same collection again returns the existing document: no new work."""
    name = (name or uploaded_file.name or "document").strip()[:255]
    content_hash, size = _hash_and_size(uploaded_file)
    existing = (
        Document.objects.filter(collection=collection, content_hash=content_hash)
        .exclude(status=DocumentStatus.FAILED)
        .first()
    )
    if existing is not None:
        existing.deduplicated = True
        return existing
    document = Document(
        team_id=collection.team_id,
        collection=collection,
        name=name,
        content_hash=content_hash,
        size_bytes=size,
        uploaded_by=uploaded_by,
    )
    if size > settings.KNOWLEDGE_MAX_FILE_BYTES:
        # Not stored: keeping a file we will never read helps no one.
        document.status = DocumentStatus.FAILED
        document.error = _too_large(size)
        document.save()
        _on_commit_progress(document)
        return document
    try:
        with transaction.atomic():
            document.file.save(name, uploaded_file, save=False)
            document.save()
            _on_commit_progress(document)  # "queued" reaches listeners before any progress
            queue_ingestion(document_id=document.pk)
    except BaseException:
        _delete_files([document.file.name or ""])  # no row points at it
        raise
    return document


def _too_large(size: int) -> str:
    limit = settings.KNOWLEDGE_MAX_FILE_BYTES
    return f"The file is {_megabytes(size)}; the limit is {_megabytes(limit)}."


def _megabytes(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def document_replace(
    *,
    document: Document,
    uploaded_file: UploadedFile,
    name: str | None = None,
    uploaded_by: User | None = None,
) -> Document:
    """New content for a document: its old chunks leave the index now (old text must not
    answer questions any more) and the new file is indexed. Same content: nothing to do."""
    content_hash, size = _hash_and_size(uploaded_file)
    with transaction.atomic():
        document = Document.objects.select_for_update().get(pk=document.pk)
        if content_hash == document.content_hash and document.status != DocumentStatus.FAILED:
            if name:
                document.name = name.strip()[:255]
                document.save(update_fields=["name", "updated_at"])
            document.deduplicated = True
            return document
        old_file = document.file.name
        Chunk.objects.filter(document=document).delete()
        document.name = (name or uploaded_file.name or document.name).strip()[:255]
        document.content_hash = content_hash
        document.size_bytes = size
        document.chunks_done = document.chunks_total = 0
        document.page_count = None
        document.error = ""
        document.file_type = ""
        document.indexed_hash = document.indexed_model = ""
        document.lease_token = ""  # a worker still on the old content loses its lease
        document.lease_expires_at = None
        document.status_changed_at = timezone.now()
        if uploaded_by is not None:
            document.uploaded_by = uploaded_by
        if size > settings.KNOWLEDGE_MAX_FILE_BYTES:
            document.status = DocumentStatus.FAILED
            document.error = _too_large(size)
            document.file = ""
        else:
            document.status = DocumentStatus.QUEUED
            document.file.save(document.name, uploaded_file, save=False)
            queue_ingestion(document_id=document.pk)
        document.save()
        if old_file:
            transaction.on_commit(lambda: _delete_files([old_file]))
        _on_commit_progress(document)
        _on_commit_changed(document.team_id, document.collection_id)
    return document


def document_delete(*, document: Document) -> None:
    """Remove the document, its chunks and its file (the right to erasure)."""
    file_name = document.file.name
    team_id, collection_id = document.team_id, document.collection_id
    with transaction.atomic():
        Document.objects.filter(pk=document.pk).delete()  # chunks cascade
        if file_name:
            transaction.on_commit(lambda: _delete_files([file_name]))
        _on_commit_changed(team_id, collection_id)


def document_reindex(*, document: Document) -> Document:
    """Index a document again (after a failure, or after limits were raised)."""
    with transaction.atomic():
        document = Document.objects.select_for_update().get(pk=document.pk)
        if not document.file:
            raise ValidationFailed(
                "This document has no stored file (it was over the size limit); upload it again.",
                code="no_file",
            )
        Chunk.objects.filter(document=document).delete()
        document.status = DocumentStatus.QUEUED
        document.status_changed_at = timezone.now()
        document.error = ""
        document.chunks_done = document.chunks_total = 0
        document.indexed_hash = document.indexed_model = ""
        document.lease_token = ""
        document.lease_expires_at = None
        document.save()
        queue_ingestion(document_id=document.pk)
        _on_commit_progress(document)
        _on_commit_changed(document.team_id, document.collection_id)
    return document


def queue_ingestion(*, document_id: int) -> None:
    """Send the task once the row it reads is committed (Saleor style)."""
    from knowledge.tasks import ingest_document

    transaction.on_commit(lambda: ingest_document.delay(document_id))


def _delete_files(names: list[str]) -> None:
    storage = Document._meta.get_field("file").storage
    for name in names:
        if name:
            storage.delete(name)


def send_progress(document: Document) -> None:
    document_progress.send(
        sender=Document,
        team_id=document.team_id,
        collection_id=document.collection_id,
        document_id=document.pk,
        status=document.status,
        chunks_done=document.chunks_done,
        chunks_total=document.chunks_total,
        error=document.error,
    )


def _on_commit_progress(document: Document) -> None:
    snapshot = Document(
        pk=document.pk,
        team_id=document.team_id,
        collection_id=document.collection_id,
        status=document.status,
        chunks_done=document.chunks_done,
        chunks_total=document.chunks_total,
        error=document.error,
    )
    transaction.on_commit(lambda: send_progress(snapshot))


def _on_commit_changed(team_id: int, collection_id: int) -> None:
    transaction.on_commit(
        lambda: collection_changed.send(
            sender=Collection, team_id=team_id, collection_id=collection_id
        )
    )
