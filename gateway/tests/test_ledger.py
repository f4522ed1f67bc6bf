"""The ledger stream (decision 0023): rows appended at settlement reach PostgreSQL exactly
once, even when a drainer dies holding them or a row can never be written; a stream
dropped before it started is settled all the same."""

from __future__ import annotations

import dataclasses
import gc
import itertools
from decimal import Decimal
from typing import Any

import redis.asyncio
from asgiref.sync import async_to_sync

from accounts.access import KeyContext
from accounts.models import Scope, Team
from billing.budgets import month_spend_nano
from billing.models import TeamBudget, UsageRecord, UsageStatus
from billing.services import UsageEntry
from core.redis import get_async_redis, get_redis
from gateway import governance, ledger, services
from gateway.catalogue import ModelEntry, default_policy
from gateway.providers.base import ProviderConfig
from gateway.tests.conftest import make_catalogue
from gateway.types import ChatRequest, Completion, Message, Usage

_ids = itertools.count(1)


def _entry(team: Team, request_id: str, cost: str = "0.0001250000") -> UsageEntry:
    return UsageEntry(
        request_id=request_id,
        organization_id=team.organization_id,
        team_id=team.pk,
        api_key_id=None,
        user_id=None,
        model_requested="m",
        model_used="m",
        provider="p",
        pipeline="direct",
        input_tokens=10,
        output_tokens=5,
        cost_usd=Decimal(cost),
        latency_ms=3,
        ttft_ms=None,
        status=UsageStatus.OK,
        cached=False,
        stream=False,
        fallbacks=0,
    )


def _append(*entries: UsageEntry) -> None:
    async def run() -> None:
        pipe = get_async_redis().pipeline(transaction=False)
        for entry in entries:
            ledger.append(pipe, entry)
        async with pipe:
            await pipe.execute()

    async_to_sync(run)()


def test_entries_round_trip_exactly() -> None:
    class FakeTeam:
        pk, organization_id = 7, 3

    entry = _entry(FakeTeam(), "r-1", cost="0.0000000123")  # type: ignore[arg-type]
    assert ledger.decode(ledger.encode(entry)) == entry


def test_appended_rows_are_written_once_even_when_delivered_twice(world) -> None:
    team = world.team_a
    # The same request appended twice (a settlement retried after a lost reply).
    _append(_entry(team, "a"), _entry(team, "b"), _entry(team, "a"))
    assert async_to_sync(ledger.drain_all)() == 3
    assert sorted(UsageRecord.objects.values_list("request_id", flat=True)) == ["a", "b"]
    assert get_redis().xlen(ledger.STREAM) == 0  # acknowledged and deleted
    assert UsageRecord.objects.get(request_id="a").cost_usd == Decimal("0.000125")


def test_entries_a_crashed_drainer_held_are_taken_over(world) -> None:
    team = world.team_a
    _append(_entry(team, "held-1"), _entry(team, "held-2"))
    redis = get_redis()
    redis.xgroup_create(ledger.STREAM, ledger.GROUP, id="0", mkstream=True)
    # A drainer in another process read them, then died before writing.
    delivered: Any = redis.xreadgroup(ledger.GROUP, "dead-process", {ledger.STREAM: ">"}, count=10)
    assert len(delivered[0][1]) == 2
    assert async_to_sync(ledger.drain_once)() == 0  # not new any more: not read again
    assert not UsageRecord.objects.exists()
    # Once idle long enough, any drainer claims them (idle threshold 0 here).
    assert async_to_sync(ledger.drain_once)(reclaim_idle_ms=0) == 2
    assert UsageRecord.objects.count() == 2
    assert redis.xpending(ledger.STREAM, ledger.GROUP)["pending"] == 0


def test_a_row_that_cannot_be_written_is_set_aside_not_lost(world) -> None:
    team = world.team_a
    orphan = dataclasses.replace(_entry(team, "orphan"), team_id=999_999)  # its team is gone
    _append(_entry(team, "fine"), orphan)
    async_to_sync(ledger.drain_all)()
    assert list(UsageRecord.objects.values_list("request_id", flat=True)) == ["fine"]
    dead: Any = get_redis().xrange(ledger.DEAD)
    (_, fields), *_ = dead
    assert ledger.decode(fields[b"e"]).request_id == "orphan"
    assert b"team" in fields[b"reason"]
    assert get_redis().xlen(ledger.STREAM) == 0


def _key(team: Team) -> KeyContext:
    return KeyContext(
        key_id=None,
        prefix="test",
        team_id=team.pk,
        organization_id=team.organization_id,
        user_id=None,
        scopes=(Scope.INFERENCE.value,),
    )


def test_a_stream_dropped_before_it_started_still_settles(world, primary, backup) -> None:
    """The client vanished between the stream's opening and its first byte: the
    generator never ran, yet the provider was called. The ledger must say so and the
    reservation must come back."""
    make_catalogue(primary, backup)
    TeamBudget.objects.create(team=world.team_a, monthly_limit_usd=Decimal(10))
    request_id = f"dropped-{next(_ids)}"

    async def run() -> tuple[int, int]:
        call = services.GatewayCall(
            key=_key(world.team_a),
            model="gpt-primary",
            request=ChatRequest(messages=[Message(role="user", content="hello")], max_tokens=50),
            request_id=request_id,
            pipeline="direct",
        )
        opened = await services.chat_stream(call)
        _, reserved_while_open = await month_spend_nano(world.team_a.pk)
        del opened  # never iterated
        gc.collect()
        await governance.settlements_finished()
        _, reserved_after = await month_spend_nano(world.team_a.pk)
        return reserved_while_open, reserved_after

    reserved_while_open, reserved_after = async_to_sync(run)()
    assert reserved_while_open > 0
    assert reserved_after == 0
    row = UsageRecord.objects.get(request_id=request_id)
    assert row.status == UsageStatus.CLIENT_CANCELLED
    assert row.stream
    assert row.input_tokens > 0  # the provider read the prompt
    assert row.cost_usd > 0
    assert primary.request_count == 1


def test_when_redis_refuses_the_append_the_row_is_written_at_once(world, monkeypatch) -> None:
    model = ModelEntry(
        id=1,
        name="m",
        upstream_name="m",
        provider=ProviderConfig(
            id=1, kind="openai", name="p", base_url=None, api_key=None, timeout_seconds=5
        ),
        input_price_per_mtok=Decimal("2.5"),
        output_price_per_mtok=Decimal(10),
        context_window=1000,
        max_output_tokens=100,
        all_teams=True,
        team_ids=frozenset(),
        created=0,
    )
    gate = governance.Gate(
        key=_key(world.team_a),
        policy=default_policy(),
        admission=None,
        reservation=None,
        cache_key=None,
        estimated_prompt_tokens=5,
        answer_first=True,
    )
    outcome = governance.Outcome(
        status=UsageStatus.OK,
        model_requested="m",
        pipeline="direct",
        stream=False,
        served=model,
        completion=Completion(text="hi", finish_reason="stop", usage=Usage(10, 2), model="m"),
    )
    # A real client whose server is gone (nothing listens on this socket).
    gone = redis.asyncio.Redis(unix_socket_path="/nonexistent/redis.sock")
    monkeypatch.setattr(governance, "get_async_redis", lambda: gone)

    async_to_sync(governance.settle)(gate, outcome, request_id="no-redis")

    row = UsageRecord.objects.get(request_id="no-redis")
    assert row.cost_usd == model.cost(10, 2)


def test_the_beat_task_writes_rows_no_live_drainer_will_take(world, settings) -> None:
    from gateway import tasks

    settings.GATEWAY_LEDGER_RECLAIM_SECONDS = 0
    team = world.team_a
    _append(_entry(team, "abandoned-1"), _entry(team, "abandoned-2"))
    redis = get_redis()
    redis.xgroup_create(ledger.STREAM, ledger.GROUP, id="0", mkstream=True)
    redis.xreadgroup(ledger.GROUP, "dead-process", {ledger.STREAM: ">"}, count=1)  # read, died
    _append(_entry(team, "never-read"))

    assert async_to_sync(tasks._drain_abandoned)() == 3
    assert set(UsageRecord.objects.values_list("request_id", flat=True)) == {
        "abandoned-1",
        "abandoned-2",
        "never-read",
    }
    assert redis.xlen(ledger.STREAM) == 0
