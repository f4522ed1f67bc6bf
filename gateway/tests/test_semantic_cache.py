"""The semantic cache: paraphrases hit, other questions miss, teams never share, document
changes invalidate, the ledger marks hits cached at no cost, no-cache bypasses it."""

from __future__ import annotations

import pytest

from accounts.models import Team
from billing.models import UsageRecord
from core.redis import get_redis
from gateway.catalogue import bump_catalogue_version, forget_snapshot
from gateway.models import SemanticCacheEntry, TeamGatewaySettings
from gateway.semantic_cache import eligible
from gateway.tests.knowledge_docs import index_document, ledger_rows, make_collection
from gateway.tests.test_rag import LEAVE_POLICY, complete, stream_events
from gateway.types import ChatRequest, Citations, Message, StreamEnd, TextDelta, Tool
from knowledge import services as knowledge_services
from knowledge.signals import collection_changed

QUESTION = "How many days of annual leave do I get?"
PARAPHRASE = "How many annual leave days do I get?"  # cosine 0.97 with QUESTION
DIFFERENT = "How many days of sick leave do I get?"  # cosine 0.76: a different question


def _turn_on(team: Team, *, threshold: float | None = None, ttl: int = 300) -> None:
    TeamGatewaySettings.objects.update_or_create(
        team=team,
        defaults={
            "cache_ttl_seconds": ttl,
            "semantic_cache_enabled": True,
            "semantic_cache_threshold": threshold,
        },
    )
    # Non-transactional tests never reach on_commit: tell the catalogue directly.
    bump_catalogue_version()
    forget_snapshot()


@pytest.fixture
def cached_teams(world, local_catalogue):
    for team in (world.team_a, world.team_b):
        _turn_on(team)
        index_document(make_collection(team), "leave-policy.md", LEAVE_POLICY)
    return world


def test_a_paraphrase_is_answered_from_the_cache_with_its_citations(cached_teams):
    team = cached_teams.team_a
    first = complete(team, QUESTION)
    assert first.served.cache_status == "miss"
    again = complete(team, PARAPHRASE)
    assert again.served.cache_status == "semantic-hit"
    assert again.served.headers()["X-Gateway-Cache"] == "semantic-hit"
    assert again.served.similarity is not None
    assert again.served.similarity >= 0.95
    assert again.completion.text == first.completion.text
    assert again.citations == first.citations
    assert again.cost == 0
    hit = UsageRecord.objects.filter(team=team).order_by("created_at", "id").last()
    assert hit is not None
    assert (hit.status, hit.cached, hit.pipeline) == ("cached", True, "rag")
    assert hit.cost_usd == 0


def test_a_cached_answer_streams_with_its_citations(cached_teams):
    complete(cached_teams.team_a, QUESTION)
    events = stream_events(cached_teams.team_a, PARAPHRASE)
    assert isinstance(events[-1], StreamEnd)
    assert isinstance(events[-2], Citations)
    assert events[-2].citations
    assert "Annual leave is 25 days" in "".join(e.text for e in events if isinstance(e, TextDelta))


def test_a_different_question_misses(cached_teams):
    complete(cached_teams.team_a, QUESTION)
    other = complete(cached_teams.team_a, DIFFERENT)
    assert other.served.cache_status == "miss"
    assert "sick" not in complete(cached_teams.team_a, QUESTION).completion.text.lower()


def test_the_threshold_is_the_teams(cached_teams):
    _turn_on(cached_teams.team_a, threshold=0.99)
    complete(cached_teams.team_a, QUESTION)
    assert complete(cached_teams.team_a, PARAPHRASE).served.cache_status == "miss"


def test_never_across_teams(cached_teams):
    a = complete(cached_teams.team_a, QUESTION)
    b = complete(cached_teams.team_b, QUESTION)  # the very same words, identical documents
    assert b.served.cache_status == "miss"
    b_docs = {c.document_id for c in b.citations}
    assert b_docs
    assert not b_docs & {c.document_id for c in a.citations}
    assert set(SemanticCacheEntry.objects.values_list("team_id", flat=True)) == {
        cached_teams.team_a.pk,
        cached_teams.team_b.pk,
    }


def test_no_cache_bypasses_it_and_only_enabled_teams_use_it(cached_teams, world):
    complete(world.team_a, QUESTION)
    assert complete(world.team_a, PARAPHRASE, use_cache=False).served.cache_status == "miss"
    TeamGatewaySettings.objects.filter(team=world.team_a).update(semantic_cache_enabled=False)
    bump_catalogue_version()
    assert complete(world.team_a, PARAPHRASE).served.cache_status == "miss"


def test_a_document_change_invalidates_rag_answers_in_both_caches(cached_teams, world):
    team = world.team_a
    complete(team, QUESTION)
    complete(team, QUESTION, pipeline="direct")
    complete(world.team_b, QUESTION)
    assert complete(team, QUESTION).served.cache_status == "hit"  # the exact cache
    collection = make_collection(team, "Policies 2027")
    collection_changed.send(sender=None, team_id=team.pk, collection_id=collection.pk)
    # Both the exact and the semantic entry of the RAG answer are gone; B's are not.
    assert complete(team, QUESTION).served.cache_status == "miss"
    assert complete(world.team_b, PARAPHRASE).served.cache_status == "semantic-hit"
    assert complete(team, PARAPHRASE).served.cache_status == "semantic-hit"  # the new one
    # Answers that never saw a document stay.
    assert complete(team, PARAPHRASE, pipeline="direct").served.cache_status == "semantic-hit"


def test_deleting_a_document_through_knowledge_invalidates(
    cached_teams, world, django_capture_on_commit_callbacks
):
    team = world.team_a
    complete(team, QUESTION)
    assert SemanticCacheEntry.objects.filter(team=team, pipeline="rag").exists()
    with django_capture_on_commit_callbacks(execute=True):  # knowledge signals on commit
        knowledge_services.document_delete(document=team.documents.get())
    assert not SemanticCacheEntry.objects.filter(team=team, pipeline="rag").exists()
    assert complete(team, PARAPHRASE).served.cache_status == "miss"


def test_who_takes_part(cached_teams):
    from gateway.catalogue import TeamPolicy

    policy = TeamPolicy(
        rpm=0,
        tpm=0,
        cache_ttl_seconds=60,
        default_pipeline="auto",
        budget_limit_usd=None,
        alert_threshold_percent=80,
        semantic_cache_enabled=True,
    )

    def ask(**options: object) -> ChatRequest:
        return ChatRequest(
            messages=[Message(role="user", content="hi")],
            max_tokens=10,
            **options,  # type: ignore[arg-type]
        )

    assert eligible(ask(), policy=policy)
    assert eligible(ask(temperature=0.2), policy=policy)
    assert not eligible(ask(temperature=1.0), policy=policy)  # creative on purpose
    assert not eligible(ask(tools=[Tool("f", "", {})]), policy=policy)
    from dataclasses import replace

    assert not eligible(ask(), policy=replace(policy, cache_ttl_seconds=0))
    assert not eligible(ask(), policy=replace(policy, semantic_cache_enabled=False))


def test_a_question_longer_than_the_embedder_reads_is_never_matched(cached_teams, world):
    long_question = QUESTION + " Context: " + "the quick brown fox jumps over it " * 60
    complete(world.team_a, long_question, pipeline="direct")
    assert not SemanticCacheEntry.objects.exists()


def test_entries_expire_and_the_per_team_cap_holds(cached_teams, world, settings):
    settings.GATEWAY_SEMANTIC_CACHE_MAX_ENTRIES_PER_TEAM = 2
    for question in ["Where is the office?", "When does it open?", "Who approves leave?"]:
        complete(world.team_a, question, pipeline="direct")
    assert SemanticCacheEntry.objects.filter(team=world.team_a).count() == 2
    get_redis().flushdb()  # the exact cache would answer these first
    fresh = complete(world.team_a, "Who approves leave?", pipeline="direct")
    assert fresh.served.cache_status == "semantic-hit"
    get_redis().flushdb()
    SemanticCacheEntry.objects.update(expires_at="2000-01-01T00:00:00Z")
    again = complete(world.team_a, "Who approves leave?", pipeline="direct")
    assert again.served.cache_status == "miss"
    assert SemanticCacheEntry.objects.filter(team=world.team_a).count() == 1  # pruned, stored


def test_over_http_a_paraphrase_costs_nothing_and_skips_the_provider(gateway, world, primary):
    from gateway.tests.knowledge_docs import warm_server

    warm_server(gateway.url, gateway.secret)
    UsageRecord.objects.all().delete()
    TeamGatewaySettings.objects.create(
        team=world.team_a, cache_ttl_seconds=300, semantic_cache_enabled=True
    )
    client = gateway.openai()
    first = client.chat.completions.with_raw_response.create(
        model="gpt-primary", messages=[{"role": "user", "content": QUESTION}], max_tokens=50
    )
    assert first.headers["X-Gateway-Cache"] == "miss"
    upstream_calls = len(primary.requests)
    second = client.chat.completions.with_raw_response.create(
        model="gpt-primary", messages=[{"role": "user", "content": PARAPHRASE}], max_tokens=50
    )
    assert second.headers["X-Gateway-Cache"] == "semantic-hit"
    assert second.parse().choices[0].message.content == first.parse().choices[0].message.content
    assert second.parse().model_extra["x_gateway"]["cache"] == "semantic-hit"
    assert len(primary.requests) == upstream_calls  # the provider was not asked again
    paid, free = ledger_rows(2, team=world.team_a, pipeline="direct")
    assert (paid.cached, free.cached, free.status) == (False, True, "cached")
    assert paid.cost_usd > 0
    assert free.cost_usd == 0
    # No-cache asks the provider, whatever the cache holds.
    third = client.chat.completions.with_raw_response.create(
        model="gpt-primary",
        messages=[{"role": "user", "content": PARAPHRASE}],
        max_tokens=50,
        extra_headers={"Cache-Control": "no-cache"},
    )
    assert third.headers["X-Gateway-Cache"] == "miss"
    assert len(primary.requests) == upstream_calls + 1
