"""Admission and settlement around every model call: rate limits, budget reservations, the
response cache and the ledger. The order follows the request path of the architecture:
rate limit -> budget reservation -> cache -> (pipeline and pool) -> settle.

Redis failures follow REDIS_FAILURE_POLICY: ``reject`` answers 503 and lets nothing
through unmetered; ``allow`` (development only) passes through and logs loudly.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import redis

from accounts.access import KeyContext
from billing.budgets import NANO, Reservation, budget_reserve, budget_settle
from billing.models import UsageStatus
from billing.selectors import month_start
from billing.services import HARD_LIMIT_PERCENT, UsageEntry, budget_alerts_for, usage_record_create
from core.asyncdb import run_detached
from core.errors import PaymentRequired
from core.redis import get_async_redis
from gateway import cache, ledger, ratelimit, semantic_cache
from gateway.catalogue import ModelEntry, TeamPolicy
from gateway.redis_policy import redis_guarded
from gateway.tokens import estimate_prompt_tokens, prompt_tokens_upper_bound, tokens_for_chars
from gateway.types import ChatRequest, Completion

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Gate:
    """What admission took, so settlement can give back exactly the difference."""

    key: KeyContext
    policy: TeamPolicy
    admission: ratelimit.Admission | None
    reservation: Reservation | None
    cache_key: str | None
    estimated_prompt_tokens: int
    started: float = field(default_factory=time.perf_counter)
    semantic: semantic_cache.Probe | None = None  # a semantic-cache miss to store under
    # The HTTP API answers first and settles after, its ledger row through the ledger
    # stream (decision 0023); in-process callers wait for a row INSERTed at once.
    answer_first: bool = False
    settlement: asyncio.Task[None] | None = None  # set once: a request settles once

    def headers(self) -> dict[str, str]:
        return self.admission.headers() if self.admission else {}


def worst_case_cost(chain: list[ModelEntry], request: ChatRequest) -> Decimal:
    """The most any model of the chain could charge for this request."""
    prompt = prompt_tokens_upper_bound(request)
    return max(m.cost(prompt, min(request.max_tokens, m.max_output_tokens)) for m in chain)


async def admit(
    *,
    key: KeyContext,
    policy: TeamPolicy,
    chain: list[ModelEntry],
    request: ChatRequest,
    cache_key: str | None,
) -> Gate:
    estimate = estimate_prompt_tokens(request)
    keyless = key.key_id is None  # the browser chat: a person, no key; team buckets only
    limits = ratelimit.Limits(
        key_rpm=0 if keyless else key.rpm_limit if key.rpm_limit is not None else policy.rpm,
        key_tpm=0 if keyless else key.tpm_limit if key.tpm_limit is not None else policy.tpm,
        team_rpm=policy.rpm,
        team_tpm=policy.tpm,
    )
    admission = await redis_guarded(
        ratelimit.admit(
            key_id=key.key_id or 0,  # unused when keyless: key limits of 0 skip its buckets
            team_id=key.team_id,
            limits=limits,
            tokens=estimate + request.max_tokens,
        ),
        what="rate limiting",
        fallback=None,
    )
    try:
        reservation = await redis_guarded(
            budget_reserve(
                team_id=key.team_id,
                limit_usd=policy.budget_limit_usd,
                amount=worst_case_cost(chain, request),
            ),
            what="budget reservation",
            fallback=None,
        )
    except PaymentRequired as refused:
        # The hard limit is reached in practice: raise its alert (once a month), give back
        # the rate-limit charge, and refuse.
        if admission is not None:
            await redis_guarded(
                ratelimit.correct_tokens(admission, actual_tokens=0),
                what="rate limiting",
                fallback=None,
            )
        await _raise_alerts(
            key,
            policy,
            spent=Decimal(refused.extra.get("spent_nano", 0)) / NANO,
            percents=[HARD_LIMIT_PERCENT] if refused.code == "budget_exceeded" else [],
        )
        raise
    return Gate(key, policy, admission, reservation, cache_key, estimate)


async def _raise_alerts(
    key: KeyContext, policy: TeamPolicy, *, spent: Decimal, percents: list[int]
) -> None:
    if policy.budget_limit_usd is None:
        return
    await run_detached(
        budget_alerts_for,
        team_id=key.team_id,
        organization_id=key.organization_id,
        month=month_start(),
        spent=spent,
        limit=policy.budget_limit_usd,
        percents=percents,
    )


async def cached_answer(gate: Gate) -> tuple[Completion, str] | None:
    if gate.cache_key is None:
        return None
    raw = await redis_guarded(
        get_async_redis().get(gate.cache_key), what="cache lookup", fallback=None
    )
    return cache.decode_entry(raw) if raw is not None else None


@dataclass(slots=True)
class Outcome:
    """How the call ended, for the ledger."""

    status: UsageStatus
    model_requested: str
    pipeline: str
    stream: bool
    served: ModelEntry | None = None
    completion: Completion | None = None
    cached: bool = False
    fallbacks: int = 0
    ttft_ms: int | None = None
    partial_output_chars: int = 0  # for streams cut before the provider reported usage


def _usage_and_cost(gate: Gate, outcome: Outcome) -> tuple[int, int, Decimal]:
    if outcome.completion is not None:
        usage = outcome.completion.usage
        input_tokens, output_tokens = usage.input_tokens, usage.output_tokens
    elif outcome.served is not None and (
        outcome.status == UsageStatus.CLIENT_CANCELLED or outcome.partial_output_chars
    ):
        # Cut short before usage was reported: the provider saw the prompt and produced
        # what was streamed, and will bill it; charge our estimate of that.
        input_tokens = gate.estimated_prompt_tokens
        output_tokens = tokens_for_chars(outcome.partial_output_chars)
    else:
        return 0, 0, Decimal(0)  # refused or failed before producing anything: nothing used
    if outcome.cached or outcome.served is None:
        return input_tokens, output_tokens, Decimal(0)
    return input_tokens, output_tokens, outcome.served.cost(input_tokens, output_tokens)


async def settle(gate: Gate, outcome: Outcome, *, request_id: str) -> None:
    """Ledger row first (the source of truth), then the Redis mirrors and the cache.
    A failure in a later step is logged and never undoes the ledger row.

    With ``gate.answer_first`` the row is appended to the ledger stream in the same Redis
    round trip as the token correction and the cache store (one pipeline), and written to
    PostgreSQL by a drainer in batches; if Redis refuses, it is INSERTed here instead."""
    input_tokens, output_tokens, cost = _usage_and_cost(gate, outcome)
    entry = None
    if outcome.served is not None or outcome.cached:
        entry = UsageEntry(
            request_id=request_id,
            organization_id=gate.key.organization_id,
            team_id=gate.key.team_id,
            api_key_id=gate.key.key_id,
            user_id=gate.key.user_id,
            model_requested=outcome.model_requested,
            model_used=outcome.served.name if outcome.served else "",
            provider=outcome.served.provider.name if outcome.served else "",
            pipeline=outcome.pipeline,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=cost,
            latency_ms=int((time.perf_counter() - gate.started) * 1000),
            ttft_ms=outcome.ttft_ms,
            status=outcome.status,
            cached=outcome.cached,
            stream=outcome.stream,
            fallbacks=outcome.fallbacks,
        )
        if not gate.answer_first:
            await run_detached(usage_record_create, entry)
    streamed = entry if gate.answer_first else None
    tokens = 0 if outcome.cached else input_tokens + output_tokens
    try:
        await _settle_in_one_trip(gate, outcome, streamed, tokens=tokens, request_id=request_id)
    except (redis.RedisError, OSError) as exc:
        logger.error("could not settle Redis counters for %s: %s", request_id, exc)
        if streamed is not None:
            # Not (surely) in the stream: write it now. If the append did land, the
            # drainer's INSERT of the same request id does nothing.
            await run_detached(usage_record_create, streamed)
    else:
        try:
            await _settle_budget(gate, cost=cost)
        except (redis.RedisError, OSError) as exc:
            # The ledger row is safe; the counters are rebuilt from it when they go missing.
            logger.error("could not settle the budget counter for %s: %s", request_id, exc)
    answered = outcome.status == UsageStatus.OK and outcome.completion and outcome.served
    if gate.semantic is not None and answered:
        assert outcome.completion is not None
        assert outcome.served is not None
        try:
            await semantic_cache.store(
                gate.semantic, outcome.completion, served_model=outcome.served.name
            )
        except Exception:
            logger.exception("could not store a semantic cache entry for %s", request_id)


async def _settle_in_one_trip(
    gate: Gate, outcome: Outcome, entry: UsageEntry | None, *, tokens: int, request_id: str
) -> None:
    """The ledger append (first), the token correction and the cache store: one pipeline."""
    pipe = get_async_redis().pipeline(transaction=False)
    if entry is not None:
        ledger.append(pipe, entry)
    if gate.admission is not None:
        ratelimit.queue_token_correction(pipe, gate.admission, actual_tokens=tokens)
    storable = (
        outcome.status == UsageStatus.OK
        and outcome.completion is not None
        and outcome.served is not None
    )
    if gate.cache_key and storable and gate.policy.cache_ttl_seconds > 0:
        assert outcome.completion is not None
        assert outcome.served is not None
        pipe.set(
            gate.cache_key,
            cache.encode_entry(outcome.completion, served_model=outcome.served.name),
            ex=gate.policy.cache_ttl_seconds,
        )
    if not len(pipe):
        return
    async with pipe:
        results = await pipe.execute(raise_on_error=False)
    if entry is not None:
        if isinstance(results[0], Exception):
            raise results[0]
        ledger.ensure_drainer()
    for result in results[1 if entry is not None else 0 :]:
        if isinstance(result, Exception):
            logger.error("settlement step failed for %s: %s", request_id, result)


async def _settle_budget(gate: Gate, *, cost: Decimal) -> None:
    if gate.reservation is None:
        return
    spent_nano = await budget_settle(gate.reservation, actual=cost)
    limit = gate.policy.budget_limit_usd
    if spent_nano is not None and limit and cost > 0:
        spent = Decimal(spent_nano) / NANO
        crossed = [
            p
            for p in (gate.policy.alert_threshold_percent, HARD_LIMIT_PERCENT)
            if spent * 100 >= limit * p
        ]
        if crossed:
            await _raise_alerts(gate.key, gate.policy, spent=spent, percents=crossed)


# Settlements run as tasks of their own, so a client that disconnects (which cancels the
# request's task) cannot cancel the ledger write. The set keeps strong references.
_settling: set[asyncio.Task[None]] = set()


def settle_detached(gate: Gate, outcome: Outcome, *, request_id: str) -> asyncio.Task[None]:
    """Start the request's settlement (once: later calls return the same task)."""
    if gate.settlement is not None:
        return gate.settlement
    task = asyncio.get_running_loop().create_task(settle(gate, outcome, request_id=request_id))
    gate.settlement = task
    _keep(task)
    return task


def _keep(task: asyncio.Task[Any]) -> None:
    _settling.add(task)
    task.add_done_callback(_settling.discard)


async def settlements_finished() -> None:
    """Wait for every settlement started so far (graceful shutdown, tests)."""
    await asyncio.sleep(0)  # let settlements scheduled from finalizers start
    while _settling:
        await asyncio.gather(*list(_settling), return_exceptions=True)


def settle_if_abandoned(
    events: AsyncIterator[Any],
    gate: Gate,
    outcome: Outcome,
    *,
    request_id: str,
    close: Callable[[], Coroutine[Any, Any, object]] | None = None,
) -> None:
    """Settle a stream whose consumer dropped it without ever starting it.

    A generator that never started never runs its ``finally``: a client that vanished
    between the stream's opening and its first byte would leave its reservation held and
    the provider's call out of the ledger. When the generator is freed without having
    settled, this settles it as cut by the client (the provider saw the prompt) and closes
    the upstream response."""
    loop = asyncio.get_running_loop()

    def abandoned() -> None:
        if gate.settlement is not None or loop.is_closed():
            return
        if outcome.status == UsageStatus.OK:
            outcome.status = UsageStatus.CLIENT_CANCELLED

        def start() -> None:
            settle_detached(gate, outcome, request_id=request_id)
            if close is not None:
                _keep(loop.create_task(_quietly(close())))

        loop.call_soon_threadsafe(start)

    weakref.finalize(events, abandoned)


async def _quietly(closing: Coroutine[Any, Any, object]) -> None:
    try:
        await closing
    except Exception as exc:  # the upstream connection is being thrown away anyway
        logger.debug("closing an abandoned stream: %s", exc)
