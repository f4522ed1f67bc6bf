"""The ``rag`` pipeline: answer from the team's own documents, with citations.

1. ``resolve_scope`` (before admission, cheap): the collections the request names, by id
   or by name, or the team's default collection; anything else is a 404, so another
   team's collection and a missing one look the same.
2. ``admission_request``: the request as admission must price it, with room for the
   passages still to come (top-k passages of the largest size handed to a model, plus
   the grounding instructions), so the budget reservation and the context-window check
   are made on the worst case, as for every other request.
3. ``retrieve`` (after admission and both caches): hybrid search for the user's last
   question, tenant-filtered by the knowledge app.
4. ``ground``: the passages become ``ChatRequest.context`` (each provider renders it
   between strict delimiters, gateway/pipelines/grounding.py) and the citations that
   travel with the answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from django.conf import settings

from core.asyncdb import run_detached
from core.errors import ApplicationError, NotFound, ServiceUnavailable
from gateway.pipelines.grounding import AFTER_DOCUMENTS, BEFORE_DOCUMENTS, NO_DOCUMENTS
from gateway.semantic_cache import knowledge_generation
from gateway.types import ChatRequest, Citation, Message, Passage
from knowledge.search import SearchHit, asearch
from knowledge.selectors import collection_list, default_collection

logger = logging.getLogger(__name__)

# Tag attributes and separators around one passage (index, source name HTML-escaped, page,
# chunk): at most 100 source characters, each escaped to at most 6 bytes, plus the rest.
_MAX_SOURCE_CHARS = 100
_TAG_OVERHEAD_BYTES = 6 * _MAX_SOURCE_CHARS + 200


@dataclass(frozen=True, slots=True)
class RagScope:
    team_id: int
    collection_ids: tuple[int, ...]
    generation: int  # the team's knowledge generation when the request arrived

    @property
    def cache_scope(self) -> str:
        ids = ",".join(str(i) for i in self.collection_ids)
        return f"rag:collections={ids}:generation={self.generation}"


def _collection_ids(team_id: int, requested: list[str]) -> tuple[int, ...]:
    if not requested:
        default = default_collection(team_id=team_id)
        if default is None:
            raise NotFound(
                "This team has no default knowledge collection: name one in 'collections' "
                "(by id or name), or mark one as the default.",
                code="collection_not_found",
                param="collections",
            )
        return (default.pk,)
    owned = {c.pk: c.name for c in collection_list(team_id=team_id)}
    by_name = {name: pk for pk, name in owned.items()}
    found: list[int] = []
    for wanted in requested:
        pk = int(wanted) if wanted.isdigit() and int(wanted) in owned else by_name.get(wanted)
        if pk is None:
            raise NotFound(
                f"The collection {wanted!r} does not exist or your team may not use it.",
                code="collection_not_found",
                param="collections",
            )
        if pk not in found:
            found.append(pk)
    return tuple(found)


async def resolve_scope(*, team_id: int, requested: list[str]) -> RagScope:
    ids = await run_detached(_collection_ids, team_id, requested)
    return RagScope(team_id, ids, await knowledge_generation(team_id))


def _placeholder(size: int) -> Passage:
    return Passage(text="x" * size)


def admission_request(request: ChatRequest) -> ChatRequest:
    """``request`` plus the largest context retrieval may add (ASCII placeholders of the
    byte cap: the token upper bound counts bytes, so real passages never exceed it)."""
    per_passage = settings.GATEWAY_RAG_MAX_PASSAGE_BYTES + _TAG_OVERHEAD_BYTES
    instructions = len((BEFORE_DOCUMENTS + AFTER_DOCUMENTS + NO_DOCUMENTS).encode())
    room = [_placeholder(per_passage) for _ in range(settings.GATEWAY_RAG_TOP_K)]
    return replace(request, context=[*request.context, *room, _placeholder(instructions)])


async def retrieve(scope: RagScope, request: ChatRequest) -> list[SearchHit]:
    question = request.last_user_text.strip()
    if not question:
        return []
    try:
        return await asearch(
            team_id=scope.team_id,
            query=question,
            collection_ids=list(scope.collection_ids),
            top_k=settings.GATEWAY_RAG_TOP_K,
        )
    except ApplicationError:
        raise  # a collection deleted since resolve_scope: its 404 is the right answer
    except Exception as exc:
        logger.exception("knowledge search failed for team %s", scope.team_id)
        raise ServiceUnavailable(
            "The knowledge search is unavailable right now; try again shortly.",
            code="search_unavailable",
        ) from exc


def _cut(text: str, limit: int) -> str:
    """At most ``limit`` UTF-8 bytes, never splitting a character."""
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode(errors="ignore") + " [...]"


def ground(request: ChatRequest, hits: list[SearchHit]) -> tuple[ChatRequest, list[Citation]]:
    """The request the model sees, and the citations that go back with its answer."""
    if not hits:
        note = Message(role="system", content=NO_DOCUMENTS)
        return replace(request, messages=[note, *request.messages]), []
    limit = settings.GATEWAY_RAG_MAX_PASSAGE_BYTES - len(" [...]")
    passages = [
        Passage(
            text=_cut(hit.text, limit),
            source=hit.document_name[:_MAX_SOURCE_CHARS],
            page=hit.page,
            chunk=hit.chunk_index,
            score=hit.score,
        )
        for hit in hits
    ]
    citations = [
        Citation(
            number=number,
            document_id=hit.document_id,
            document_name=hit.document_name,
            collection_id=hit.collection_id,
            page=hit.page,
            chunk_index=hit.chunk_index,
            score=hit.score,
        )
        for number, hit in enumerate(hits, start=1)
    ]
    return replace(request, context=[*request.context, *passages]), citations
