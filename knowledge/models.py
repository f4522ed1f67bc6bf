"""Collections (a team's namespace of documents), documents and their indexed chunks."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.utils import timezone
from pgvector.django import VectorField

from accounts.models import Team
from core.models import TimeStampedModel
from knowledge.storage import document_storage

# Full-text configuration baked into the generated tsvector column and every query.
SEARCH_CONFIG = "english"


class Collection(TimeStampedModel):
    """A team's set of documents searched together, with the embedder that indexed them."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="collections")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    # The index and its embedder must match: chunks are (re-)embedded with this model.
    embedding_model = models.CharField(max_length=200)
    embedding_dimension = models.PositiveIntegerField()
    is_default = models.BooleanField(
        default=False, help_text="Searched when a request names no collection."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="collection_name_unique_in_team"),
            models.UniqueConstraint(
                fields=["team"],
                condition=models.Q(is_default=True),
                name="one_default_collection_per_team",
            ),
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.team_id})"


class DocumentStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    PARSING = "parsing", "Parsing"
    EMBEDDING = "embedding", "Embedding"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


IN_PROGRESS_STATUSES = (DocumentStatus.PARSING, DocumentStatus.EMBEDDING)


def document_upload_to(document: Document, filename: str) -> str:
    """Files grouped by team, under a random directory: names are user-chosen."""
    return f"knowledge/team-{document.team_id}/{uuid.uuid4().hex}/{filename}"


class Document(TimeStampedModel):
    """An uploaded file and where its ingestion stands.

    ``indexed_hash`` and ``indexed_model`` say what the chunks in the index were made
    from: ingestion that finds them equal to ``content_hash`` and the collection's model
    has nothing to do. ``lease_token`` / ``lease_expires_at`` belong to the worker indexing
    the document right now, so two deliveries of one task never index it twice.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="documents")
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="documents")
    name = models.CharField(max_length=255)
    file = models.FileField(upload_to=document_upload_to, storage=document_storage, max_length=500)
    file_type = models.CharField(max_length=20, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    content_hash = models.CharField(max_length=64, db_index=True)
    status = models.CharField(
        max_length=16, choices=DocumentStatus.choices, default=DocumentStatus.QUEUED
    )
    status_changed_at = models.DateTimeField(default=timezone.now)
    chunks_done = models.PositiveIntegerField(default=0)
    chunks_total = models.PositiveIntegerField(default=0)
    page_count = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, help_text="Why ingestion failed, in words for users.")
    attempts = models.PositiveIntegerField(default=0)
    indexed_hash = models.CharField(max_length=64, blank=True)
    indexed_model = models.CharField(max_length=200, blank=True)
    lease_token = models.CharField(max_length=32, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    # Set (not stored) when an upload found the same content already in the collection.
    deduplicated: bool = False

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "lease_expires_at"])]

    def __str__(self) -> str:
        return self.name

    @property
    def progress(self) -> float:
        """0..1 for progress bars: parsing counts as started, ready as done."""
        if self.status == DocumentStatus.READY:
            return 1.0
        if self.chunks_total:
            return min(1.0, self.chunks_done / self.chunks_total)
        return 0.0


class Chunk(models.Model):
    """One searchable passage. ``team`` and ``collection`` are copied from the document so
    every search filters on them in the same query (tenancy is never a join away)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="+")
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    chunk_index = models.PositiveIntegerField()
    page = models.PositiveIntegerField(null=True, blank=True)
    heading = models.CharField(max_length=500, blank=True)
    text = models.TextField()
    token_count = models.PositiveIntegerField(default=0)
    # No fixed dimension, so collections may use any embedder; HNSW indexes are per
    # dimension, as partial expression indexes (migration 0002, decision 0012).
    embedding = VectorField()
    dimension = models.PositiveIntegerField()
    search_vector = models.GeneratedField(
        expression=SearchVector("heading", weight="A", config=SEARCH_CONFIG)
        + SearchVector("text", weight="B", config=SEARCH_CONFIG),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["document", "chunk_index"], name="chunk_index_unique_in_document"
            )
        ]
        indexes = [
            GinIndex(fields=["search_vector"], name="chunk_search_vector_gin"),
            models.Index(fields=["team", "collection"], name="chunk_team_collection"),
        ]
        ordering = ["document_id", "chunk_index"]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.chunk_index}"
