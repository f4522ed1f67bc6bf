"""Reads. Every selector takes the team first; another team's rows are simply not found."""

from __future__ import annotations

from django.db.models import QuerySet

from core.errors import NotFound
from knowledge.models import Chunk, Collection, Document


def collection_list(*, team_id: int) -> QuerySet[Collection]:
    return Collection.objects.filter(team_id=team_id).order_by("name")


def collection_get(*, team_id: int, collection_id: int) -> Collection:
    collection = Collection.objects.filter(team_id=team_id, pk=collection_id).first()
    if collection is None:
        raise NotFound("No such collection.")
    return collection


def default_collection(*, team_id: int) -> Collection | None:
    """The team's default collection; if none is marked, its only collection (if one)."""
    marked = Collection.objects.filter(team_id=team_id, is_default=True).first()
    if marked is not None:
        return marked
    only = list(Collection.objects.filter(team_id=team_id)[:2])
    return only[0] if len(only) == 1 else None


def document_list(*, team_id: int, collection_id: int) -> QuerySet[Document]:
    collection_get(team_id=team_id, collection_id=collection_id)  # 404 for others' ids
    return Document.objects.filter(team_id=team_id, collection_id=collection_id).order_by(
        "-created_at", "-id"
    )


def document_get(*, team_id: int, document_id: int) -> Document:
    document = (
        Document.objects.filter(team_id=team_id, pk=document_id)
        .select_related("collection")
        .first()
    )
    if document is None:
        raise NotFound("No such document.")
    return document


def document_chunks(*, team_id: int, document_id: int) -> QuerySet[Chunk]:
    return Chunk.objects.filter(team_id=team_id, document_id=document_id).order_by("chunk_index")
