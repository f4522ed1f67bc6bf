"""Hybrid search over a team's collections: by meaning, by words, or both fused.

- vector: cosine distance on the chunk embeddings through pgvector's HNSW index (one
  partial index per dimension, so collections may use different embedders);
- words: PostgreSQL full text (the generated ``tsvector`` column, GIN index), ranked by
  ``ts_rank_cd``; plain questions match any of their words, while quotes, ``OR`` and
  ``-word`` use ``websearch_to_tsquery``'s syntax;
- hybrid: both lists fused by reciprocal rank fusion (score = sum of 1 / (k + rank)),
  which needs no score calibration between the two;
- then an optional reranker (``KNOWLEDGE_RERANKER``), none by default.

Every query filters on the team and on ready documents in the same SQL statement: there
is no code path that searches first and filters later.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, Protocol

from django.conf import settings
from django.db import connection, transaction
from django.utils.module_loading import import_string

from core.asyncdb import run_detached
from core.errors import NotFound, ValidationFailed
from knowledge.embeddings import embed_texts
from knowledge.models import SEARCH_CONFIG, Collection, DocumentStatus

SearchMode = Literal["hybrid", "vector", "words"]
SEARCH_MODES: tuple[SearchMode, ...] = ("hybrid", "vector", "words")
# Dimensions with an HNSW index (migration 0002); others are searched exactly.
INDEXED_DIMENSIONS = frozenset({384, 768, 1024, 1536})
MAX_QUERY_CHARS = 2000


@dataclass
class SearchHit:
    document_id: int
    document_name: str
    collection_id: int
    page: int | None
    chunk_index: int
    text: str
    score: float
    heading: str
    chunk_id: int = 0


class Reranker(Protocol):
    def rerank(self, query: str, hits: list[SearchHit]) -> list[SearchHit]: ...


class KeepOrder:
    """The default: the fused order is the answer."""

    def rerank(self, query: str, hits: list[SearchHit]) -> list[SearchHit]:
        return hits


@cache
def _reranker(path: str) -> Reranker:
    if not path:
        return KeepOrder()
    reranker: Reranker = import_string(path)()
    return reranker


def search(
    *,
    team_id: int,
    query: str,
    collection_ids: list[int] | None = None,
    top_k: int = 5,
    mode: SearchMode = "hybrid",
) -> list[SearchHit]:
    query = query.strip()[:MAX_QUERY_CHARS]
    if mode not in SEARCH_MODES:
        raise ValidationFailed(f"mode must be one of {', '.join(SEARCH_MODES)}.", param="mode")
    if not 1 <= top_k <= settings.KNOWLEDGE_SEARCH_MAX_TOP_K:
        raise ValidationFailed(
            f"top_k must be between 1 and {settings.KNOWLEDGE_SEARCH_MAX_TOP_K}.", param="top_k"
        )
    collections = _collections(team_id=team_id, collection_ids=collection_ids)
    if not query or not collections:
        return []
    candidates = max(top_k, settings.KNOWLEDGE_SEARCH_CANDIDATES)
    ranked: list[list[tuple[int, float]]] = []
    if mode in ("hybrid", "vector"):
        ranked.extend(_vector_lists(team_id, query, collections, candidates))
    if mode in ("hybrid", "words"):
        ranked.append(_words_list(team_id, query, [c.pk for c in collections], candidates))
    if mode == "hybrid":
        scores = _rrf(ranked, k=settings.KNOWLEDGE_RRF_K)
    else:
        # One retriever (or one per embedder): keep its own score, cosine or ts_rank_cd.
        scores = {}
        for ranking in ranked:
            for chunk_id, score in ranking:
                scores[chunk_id] = max(score, scores.get(chunk_id, float("-inf")))
    order = sorted(scores, key=lambda chunk_id: scores[chunk_id], reverse=True)
    reranker = _reranker(settings.KNOWLEDGE_RERANKER)
    pool = order[: top_k if isinstance(reranker, KeepOrder) else candidates]
    hits = _hydrate(team_id, pool, scores)
    return reranker.rerank(query, hits)[:top_k]


async def asearch(
    *,
    team_id: int,
    query: str,
    collection_ids: list[int] | None = None,
    top_k: int = 5,
    mode: SearchMode = "hybrid",
) -> list[SearchHit]:
    return await run_detached(
        search,
        team_id=team_id,
        query=query,
        collection_ids=collection_ids,
        top_k=top_k,
        mode=mode,
    )


def _collections(*, team_id: int, collection_ids: list[int] | None) -> list[Collection]:
    found = Collection.objects.filter(team_id=team_id)
    if collection_ids is None:
        return list(found)
    wanted = set(collection_ids)
    collections = list(found.filter(pk__in=wanted))
    if len(collections) != len(wanted):
        raise NotFound("No such collection.", param="collection_ids")
    return collections


def _vector_literal(vector: list[float]) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in vector) + "]"


def _vector_lists(
    team_id: int, query: str, collections: list[Collection], limit: int
) -> list[list[tuple[int, float]]]:
    """One ranking per embedder among the collections (vectors of different models are
    not comparable, so each model's collections are searched with its own query vector)."""
    by_model: dict[tuple[str, int], list[int]] = defaultdict(list)
    for collection in collections:
        by_model[(collection.embedding_model, collection.embedding_dimension)].append(collection.pk)
    lists = []
    for (model, dimension), ids in by_model.items():
        vector = _vector_literal(embed_texts([query], model=model)[0])
        lists.append(_vector_list(team_id, ids, vector, dimension, limit))
    return lists


def _vector_list(
    team_id: int, collection_ids: list[int], vector: str, dimension: int, limit: int
) -> list[tuple[int, float]]:
    indexed = _indexed_chunk_count(team_id, collection_ids)
    if not indexed:
        return []
    use_hnsw = (
        dimension in INDEXED_DIMENSIONS and indexed > settings.KNOWLEDGE_EXACT_SEARCH_MAX_CHUNKS
    )
    if use_hnsw:
        rows = _vector_query(team_id, collection_ids, vector, dimension, limit, hnsw=True)
        # The graph is walked before the tenant filter; without pgvector 0.8's iterative
        # scans a small team in a big index can come back short. Then search exactly.
        if len(rows) >= min(limit, indexed) or _pgvector_iterative_scans():
            return rows
    return _vector_query(team_id, collection_ids, vector, dimension, limit, hnsw=False)


def _indexed_chunk_count(team_id: int, collection_ids: list[int]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(chunks_total), 0) FROM knowledge_document "
            "WHERE team_id = %s AND collection_id = ANY(%s) AND status = %s",
            [team_id, collection_ids, DocumentStatus.READY.value],
        )
        row = cursor.fetchone()
        return int(row[0]) if row else 0


@cache
def _pgvector_iterative_scans() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
    version = tuple(int(p) for p in re.findall(r"\d+", row[0] if row else "0")[:2])
    return version >= (0, 8)


def _vector_query(
    team_id: int, collection_ids: list[int], vector: str, dimension: int, limit: int, *, hnsw: bool
) -> list[tuple[int, float]]:
    # With hnsw the ORDER BY matches the partial index's expression (a cast to vector(N));
    # without, it does not, so PostgreSQL filters by team first and compares exactly.
    # `dimension` comes from our own rows (an int), never from the request.
    cast = f"vector({int(dimension)})" if hnsw else "vector"
    sql = f"""
        SELECT c.id, 1 - (c.embedding::{cast} <=> %(v)s::{cast}) AS score
        FROM knowledge_chunk c
        JOIN knowledge_document d ON d.id = c.document_id
        WHERE c.team_id = %(team)s AND c.collection_id = ANY(%(collections)s)
          AND c.dimension = %(dimension)s AND d.status = %(ready)s
        ORDER BY c.embedding::{cast} <=> %(v)s::{cast}
        LIMIT %(limit)s
    """  # noqa: S608 - only the int-derived cast is interpolated
    params: dict[str, Any] = {
        "v": vector,
        "team": team_id,
        "collections": collection_ids,
        "dimension": dimension,
        "ready": DocumentStatus.READY.value,
        "limit": limit,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        if hnsw:
            ef_search = min(1000, max(settings.KNOWLEDGE_HNSW_EF_SEARCH, limit))
            cursor.execute(f"SET LOCAL hnsw.ef_search = {int(ef_search)}")
            if _pgvector_iterative_scans():
                cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        cursor.execute(sql, params)
        return [(int(row[0]), float(row[1])) for row in cursor.fetchall()]


_SYNTAX = re.compile(r"\"|(^|\s)-\w|\sOR\s")


def tsquery_sql(query: str) -> tuple[str, str]:
    """SQL for (matching, preferred) tsqueries. With web-search syntax (quotes, OR, -word)
    both are ``websearch_to_tsquery``. Otherwise a passage matches with any of the words (a
    question rarely has all its words in one passage) and passages holding all of them
    rank first: PostgreSQL's ranking has no notion of rare words, and "all the words"
    is the cheap, strong signal it lacks."""
    if _SYNTAX.search(query):
        exact = f"websearch_to_tsquery('{SEARCH_CONFIG}', %(q)s)"
        return exact, exact
    every = f"plainto_tsquery('{SEARCH_CONFIG}', %(q)s)"
    return f"replace({every}::text, ' & ', ' | ')::tsquery", every


def _words_list(
    team_id: int, query: str, collection_ids: list[int], limit: int
) -> list[tuple[int, float]]:
    matching, preferred = tsquery_sql(query)
    sql = f"""
        SELECT c.id,
               ts_rank_cd(c.search_vector, q.matching)
               + CASE WHEN c.search_vector @@ q.preferred THEN 1 ELSE 0 END AS score
        FROM knowledge_chunk c
        JOIN knowledge_document d ON d.id = c.document_id
        CROSS JOIN (SELECT {matching} AS matching, {preferred} AS preferred) q
        WHERE c.team_id = %(team)s AND c.collection_id = ANY(%(collections)s)
          AND d.status = %(ready)s AND c.search_vector @@ q.matching
        ORDER BY c.search_vector @@ q.preferred DESC, score DESC, c.id
        LIMIT %(limit)s
    """  # noqa: S608 - the interpolated parts are constants
    params: dict[str, Any] = {
        "q": query,
        "team": team_id,
        "collections": collection_ids,
        "ready": DocumentStatus.READY.value,
        "limit": limit,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(int(row[0]), float(row[1])) for row in cursor.fetchall()]


def _rrf(rankings: list[list[tuple[int, float]]], *, k: int) -> dict[int, float]:
    fused: dict[int, float] = defaultdict(float)
    for ranking in rankings:
        for rank, (chunk_id, _score) in enumerate(ranking, start=1):
            fused[chunk_id] += 1.0 / (k + rank)
    return dict(fused)


def _hydrate(team_id: int, chunk_ids: list[int], scores: dict[int, float]) -> list[SearchHit]:
    if not chunk_ids:
        return []
    sql = """
        SELECT c.id, c.document_id, d.name, c.collection_id, c.page, c.chunk_index, c.text,
               c.heading
        FROM knowledge_chunk c JOIN knowledge_document d ON d.id = c.document_id
        WHERE c.team_id = %(team)s AND c.id = ANY(%(ids)s) AND d.status = %(ready)s
    """
    with connection.cursor() as cursor:
        cursor.execute(
            sql, {"team": team_id, "ids": chunk_ids, "ready": DocumentStatus.READY.value}
        )
        rows = {row[0]: row for row in cursor.fetchall()}
    hits = []
    for chunk_id in chunk_ids:
        row = rows.get(chunk_id)
        if row is None:  # deleted or re-indexed between the two queries
            continue
        hits.append(
            SearchHit(
                document_id=row[1],
                document_name=row[2],
                collection_id=row[3],
                page=row[4],
                chunk_index=row[5],
                text=row[6],
                score=round(scores[chunk_id], 6),
                heading=row[7],
                chunk_id=chunk_id,
            )
        )
    return hits
