"""Semantic cache: answer a question that means the same as a recent one, per team.

The exact cache (gateway/cache.py) answers byte-identical requests; this one answers
paraphrases. Everything except the last user message must still match exactly: the
``scope`` is a hash of the model asked for, the pipeline, the collections, the sampling
and format settings and every earlier turn. Only the last user message is compared by
meaning: the cosine similarity of its embedding (the knowledge app's default embedder,
vectors L2-normalised) must reach the team's threshold (default 0.95).

Entries live in PostgreSQL (pgvector), one row per answer, always filtered by team in
the same query (decision 0016). A lookup is an exact scan of one team's rows for one
scope, so there is no approximate index to miss a row or leak across a filter.

Which requests take part (``eligible``): the team turned it on and has a cache TTL; no
tools; sampling temperature at most GATEWAY_SEMANTIC_CACHE_MAX_TEMPERATURE; a question
short enough that the embedder reads all of it (it truncates silently past its window, and
two long prompts sharing a beginning would then look identical). Only finished answers
(finish_reason "stop") are stored.

RAG answers depend on the team's documents: ``invalidate_team`` (connected to
knowledge's ``collection_changed``) deletes them and bumps the team's knowledge
generation, which also keys RAG answers in the exact cache, so neither cache serves an
answer built from documents that have since changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from pgvector.django import CosineDistance

from core.asyncdb import run_detached
from core.redis import get_async_redis, get_redis
from gateway import cache
from gateway.catalogue import TeamPolicy
from gateway.models import Pipeline, SemanticCacheEntry
from gateway.types import ChatRequest, Completion
from knowledge.embeddings import DEFAULT_EMBEDDING_MODEL, default_tokenizer, embed_texts

logger = logging.getLogger(__name__)

# The default embedder reads at most this many word pieces (special tokens included).
_EMBEDDER_WINDOW_TOKENS = 256
_VERSION = "v1"  # bump when the scope layout changes


@dataclass(slots=True)
class Probe:
    """A lookup's question, kept so a miss can store its answer under the same key."""

    team_id: int
    scope: str
    pipeline: str
    embedding_model: str
    embedding: list[float]
    threshold: float
    ttl_seconds: int
    generation: int


@dataclass(frozen=True, slots=True)
class Hit:
    completion: Completion
    served_model: str
    similarity: float


def eligible(request: ChatRequest, *, policy: TeamPolicy) -> bool:
    if not (policy.semantic_cache_enabled and policy.cache_ttl_seconds > 0):
        return False
    if request.tools or request.tool_choice is not None:
        return False
    if any(m.role == "tool" or m.tool_calls for m in request.messages):
        return False
    if (
        request.temperature is not None
        and request.temperature > settings.GATEWAY_SEMANTIC_CACHE_MAX_TEMPERATURE
    ):
        return False
    last = request.messages[-1] if request.messages else None
    return last is not None and last.role == "user" and bool(last.content.strip())


def scope_digest(
    *, model: str, pipeline: str, collection_ids: tuple[int, ...], request: ChatRequest
) -> str:
    """Everything that must match exactly: all but the last message's text."""
    normalised: dict[str, Any] = {
        "v": _VERSION,
        "model": model,
        "pipeline": pipeline,
        "collections": sorted(collection_ids),
        "earlier": [[m.role, m.content, m.name] for m in request.messages[:-1]],
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "stop": request.stop,
        "response_format": request.response_format,
    }
    return hashlib.sha256(
        json.dumps(normalised, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def _question_vector(question: str) -> list[float] | None:
    if len(default_tokenizer().encode(question).ids) + 2 > _EMBEDDER_WINDOW_TOKENS:
        return None  # the embedder would see only its beginning: too risky to match on
    return embed_texts([question], model=DEFAULT_EMBEDDING_MODEL)[0]


async def probe(
    *,
    team_id: int,
    model: str,
    pipeline: str,
    collection_ids: tuple[int, ...],
    request: ChatRequest,
    policy: TeamPolicy,
    generation: int,
) -> Probe | None:
    """Embed the question (off the event loop); None when it is too long to compare."""
    vector = await run_detached(_question_vector, request.last_user_text)
    if vector is None:
        return None
    return Probe(
        team_id=team_id,
        scope=scope_digest(
            model=model, pipeline=pipeline, collection_ids=collection_ids, request=request
        ),
        pipeline=pipeline,
        embedding_model=DEFAULT_EMBEDDING_MODEL,
        embedding=vector,
        threshold=policy.semantic_cache_threshold,
        ttl_seconds=policy.cache_ttl_seconds,
        generation=generation,
    )


def _nearest(probe: Probe) -> tuple[dict[str, Any], str, float] | None:
    # Distances are computed only for the rows the WHERE clause keeps (one team, one
    # scope, one embedder, live): an exact nearest neighbour within the tenant.
    row = (
        SemanticCacheEntry.objects.filter(
            team_id=probe.team_id,
            scope=probe.scope,
            embedding_model=probe.embedding_model,
            knowledge_generation=probe.generation,
            expires_at__gt=timezone.now(),
        )
        .annotate(distance=CosineDistance("embedding", probe.embedding))
        .order_by("distance")
        .values_list("answer", "served_model", "distance")
        .first()
    )
    if row is None:
        return None
    answer, served_model, distance = row
    return answer, served_model, 1.0 - float(distance)


async def lookup(probe: Probe) -> Hit | None:
    found = await run_detached(_nearest, probe)
    if found is None:
        return None
    answer, served_model, similarity = found
    if similarity < probe.threshold:
        return None
    completion, _ = cache.decode_entry(json.dumps(answer))
    return Hit(completion, served_model, similarity)


def storable(completion: Completion) -> bool:
    return completion.finish_reason == "stop" and not completion.tool_calls


def _store(probe: Probe, completion: Completion, served_model: str) -> None:
    now = timezone.now()
    SemanticCacheEntry.objects.create(
        team_id=probe.team_id,
        scope=probe.scope,
        pipeline=probe.pipeline,
        embedding_model=probe.embedding_model,
        embedding=probe.embedding,
        knowledge_generation=probe.generation,
        answer=json.loads(cache.encode_entry(completion, served_model=served_model)),
        served_model=served_model,
        expires_at=now + timedelta(seconds=probe.ttl_seconds),
    )
    _prune(probe.team_id, now=now)


def _prune(team_id: int, *, now: Any) -> None:
    """Drop the team's expired rows, then its oldest beyond the per-team cap."""
    rows = SemanticCacheEntry.objects.filter(team_id=team_id)
    rows.filter(expires_at__lte=now).delete()
    cap = settings.GATEWAY_SEMANTIC_CACHE_MAX_ENTRIES_PER_TEAM
    oldest_kept = rows.order_by("-created_at", "-id").values_list("id", flat=True)[cap : cap + 1]
    if oldest_kept:
        rows.filter(id__lte=oldest_kept[0]).delete()


async def store(probe: Probe, completion: Completion, *, served_model: str) -> None:
    if storable(completion):
        await run_detached(_store, probe, completion, served_model)


# --- invalidation ---------------------------------------------------------------------


def _generation_key(team_id: int) -> str:
    return f"knowledge:generation:{{t{team_id}}}"


async def knowledge_generation(team_id: int) -> int:
    """A counter that moves whenever the team's indexed documents change."""
    raw = await get_async_redis().get(_generation_key(team_id))
    return int(raw) if raw is not None else 0


def invalidate_team(team_id: int) -> int:
    """Forget the team's document-grounded answers (answers of the direct pipeline never
    saw a document and stay); returns how many rows went. The generation moves first, so
    an answer being stored right now under the old one can never match again."""
    get_redis().incr(_generation_key(team_id))
    deleted, _ = SemanticCacheEntry.objects.filter(
        team_id=team_id, pipeline=Pipeline.RAG.value
    ).delete()
    return deleted


def on_collection_changed(sender: Any, *, team_id: int, **kwargs: Any) -> None:
    """Receiver of knowledge.signals.collection_changed (sent after the commit, usually
    from a Celery worker). A failure is logged, never raised: it must not fail the
    ingestion that sent it."""
    try:
        invalidate_team(team_id)
    except Exception:
        logger.exception("could not invalidate the semantic cache of team %s", team_id)
