"""Search modes, fusion, filters, and tenancy: identical documents in two teams never mix."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.core.files.uploadedfile import SimpleUploadedFile

from core.errors import NotFound, ValidationFailed
from knowledge import search as search_module
from knowledge import services
from knowledge.models import Document, DocumentStatus
from knowledge.search import SearchHit, asearch, search

GUIDE = b"""# Espresso

Grind 18 grams of coffee finely and extract for 25 to 30 seconds at 9 bar.

# Cold brew

Steep coarse grounds in cold water for 12 to 24 hours, then filter.

# Error codes

Code E-417 means the water tank is empty. Refill it and restart the machine.

# Cleaning

Descale the boiler every three months with citric acid.
"""


@pytest.fixture
def two_teams(world, collection_a, collection_b, ingest):
    doc_a = ingest(collection_a, "guide.md", GUIDE)
    doc_b = ingest(collection_b, "guide.md", GUIDE)
    assert doc_a.status == doc_b.status == DocumentStatus.READY
    return doc_a, doc_b


@pytest.mark.parametrize("mode", ["hybrid", "vector", "words"])
def test_each_mode_finds_the_right_passage(two_teams, world, mode):
    doc_a, _ = two_teams
    hits = search(team_id=world.team_a.pk, query="how long to steep cold brew", mode=mode)
    assert hits, mode
    assert hits[0].heading == "Cold brew"
    assert hits[0].document_id == doc_a.pk
    assert hits == sorted(hits, key=lambda h: h.score, reverse=True)


def test_exact_terms_are_found_by_words_and_hybrid(two_teams, world):
    for mode in ("words", "hybrid"):
        hits = search(team_id=world.team_a.pk, query="E-417", mode=mode)
        assert hits[0].heading == "Error codes", mode


def test_websearch_syntax_is_honoured(two_teams, world):
    hits = search(team_id=world.team_a.pk, query='"cold water" -espresso', mode="words")
    assert [h.heading for h in hits] == ["Cold brew"]


def test_hybrid_fuses_with_reciprocal_ranks(two_teams, world, settings):
    hits = search(team_id=world.team_a.pk, query="descale boiler", top_k=4)
    assert hits[0].heading == "Cleaning"
    # Found first by both retrievers: 2 / (k + 1).
    assert hits[0].score == pytest.approx(2 / (settings.KNOWLEDGE_RRF_K + 1), rel=1e-4)


def test_tenancy_identical_documents_never_cross(two_teams, world):
    doc_a, doc_b = two_teams
    for mode in ("hybrid", "vector", "words"):
        hits_a = search(team_id=world.team_a.pk, query="water tank empty", mode=mode, top_k=10)
        hits_b = search(team_id=world.team_b.pk, query="water tank empty", mode=mode, top_k=10)
        assert {h.document_id for h in hits_a} == {doc_a.pk}
        assert {h.document_id for h in hits_b} == {doc_b.pk}
        assert {h.collection_id for h in hits_b} == {doc_b.collection_id}


def test_another_teams_collection_is_not_found(two_teams, world, collection_b):
    with pytest.raises(NotFound):
        search(team_id=world.team_a.pk, query="espresso", collection_ids=[collection_b.pk])


def test_collection_filter(two_teams, world, collection_a, ingest):
    other = services.collection_create(team=world.team_a, name="Other")
    ingest(other, "tea.md", b"# Tea\n\nGreen tea brews at 80 degrees for two minutes.\n")
    everywhere = search(team_id=world.team_a.pk, query="brew time", top_k=10)
    assert {h.collection_id for h in everywhere} == {collection_a.pk, other.pk}
    only_other = search(team_id=world.team_a.pk, query="brew time", collection_ids=[other.pk])
    assert {h.collection_id for h in only_other} == {other.pk}


def test_documents_not_ready_are_never_returned(two_teams, world):
    doc_a, _ = two_teams
    Document.objects.filter(pk=doc_a.pk).update(status=DocumentStatus.EMBEDDING)
    assert search(team_id=world.team_a.pk, query="espresso grind") == []


def test_hnsw_path_agrees_with_exact_search(two_teams, world, settings):
    exact = search(team_id=world.team_a.pk, query="machine says tank empty", mode="vector", top_k=4)
    settings.KNOWLEDGE_EXACT_SEARCH_MAX_CHUNKS = 0  # force the HNSW index
    approximate = search(
        team_id=world.team_a.pk, query="machine says tank empty", mode="vector", top_k=4
    )
    assert [h.chunk_id for h in approximate] == [h.chunk_id for h in exact]


def test_hnsw_index_is_used_for_big_collections(two_teams, world):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT id FROM knowledge_chunk WHERE dimension = 384 "
            "ORDER BY embedding::vector(384) <=> %s::vector(384) LIMIT 5",
            ["[" + ",".join(["0.05"] * 384) + "]"],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "chunk_embedding_384_hnsw" in plan


def test_bad_arguments(world):
    with pytest.raises(ValidationFailed):
        search(team_id=world.team_a.pk, query="x", top_k=0)
    with pytest.raises(ValidationFailed):
        search(team_id=world.team_a.pk, query="x", mode="fuzzy")  # type: ignore[arg-type]
    assert search(team_id=world.team_a.pk, query="   ") == []
    assert search(team_id=world.team_a.pk, query="anything") == []  # no collections


def test_a_reranker_sees_the_candidates_and_decides_the_order(two_teams, world, settings):
    everything = search(team_id=world.team_a.pk, query="water", top_k=10, mode="words")
    assert len(everything) >= 2
    search_module._reranker.cache_clear()
    settings.KNOWLEDGE_RERANKER = "knowledge.tests.test_search.ReverseReranker"
    try:
        reranked = search(team_id=world.team_a.pk, query="water", top_k=2, mode="words")
    finally:
        search_module._reranker.cache_clear()
    assert [h.chunk_id for h in reranked] == [h.chunk_id for h in reversed(everything)][:2]


class ReverseReranker:
    def rerank(self, query: str, hits: list[SearchHit]) -> list[SearchHit]:
        return list(reversed(hits))


def test_asearch(two_teams, world):
    # async_to_sync keeps the ORM work on this thread's connection (the test transaction).
    hits = async_to_sync(asearch)(team_id=world.team_a.pk, query="descale")
    assert hits[0].heading == "Cleaning"


def test_upload_into_another_teams_collection_is_impossible_through_selectors(world, collection_b):
    from knowledge.selectors import collection_get, document_get

    with pytest.raises(NotFound):
        collection_get(team_id=world.team_a.pk, collection_id=collection_b.pk)
    doc = services.document_upload(
        collection=collection_b, uploaded_file=SimpleUploadedFile("x.txt", b"hello")
    )
    with pytest.raises(NotFound):
        document_get(team_id=world.team_a.pk, document_id=doc.pk)
