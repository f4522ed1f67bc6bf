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
from dataclasses import dataclass, field
from decimal import Decimal

import redis

from accounts.access import KeyContext
from billing.budgets import NANO, Reservation, budget_reserve, budget_settle
from billing.models import UsageStatus
from billing.selectors import month_start
from billing.services import HARD_LIMIT_PERCENT, UsageEntry, budget_alerts_for, usage_record_create
from core.asyncdb import run_detached
from core.errors import PaymentRequired
from core.redis import get_async_redis
from gateway import cache, ratelimit
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
    limits = ratelimit.Limits(
        key_rpm=key.rpm_limit if key.rpm_limit is not None else policy.rpm,
        key_tpm=key.tpm_limit if key.tpm_limit is not None else policy.tpm,
        team_rpm=policy.rpm,
        team_tpm=policy.tpm,
    )
    admission = await redis_guarded(
        ratelimit.admit(
            key_id=key.key_id,
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
            percents=[HARD_LIMIT_PERCENT],
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
    A failure in a later step is logged and never undoes the ledger row."""
    input_tokens, output_tokens, cost = _usage_and_cost(gate, outcome)
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
        await run_detached(usage_record_create, entry)
    try:
        await _settle_mirrors(gate, outcome, cost=cost, tokens=input_tokens + output_tokens)
    except (redis.RedisError, OSError) as exc:
        # The ledger row is written; the counters are rebuilt from it when they go missing.
        logger.error("could not settle Redis counters for %s: %s", request_id, exc)


async def _settle_mirrors(gate: Gate, outcome: Outcome, *, cost: Decimal, tokens: int) -> None:
    if gate.admission is not None:
        await ratelimit.correct_tokens(
            gate.admission, actual_tokens=0 if outcome.cached else tokens
        )
    if gate.reservation is not None:
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
    storable = (
        outcome.status == UsageStatus.OK
        and outcome.completion is not None
        and outcome.served is not None
    )
    if gate.cache_key and storable and gate.policy.cache_ttl_seconds > 0:
        assert outcome.completion is not None
        assert outcome.served is not None
        await get_async_redis().set(
            gate.cache_key,
            cache.encode_entry(outcome.completion, served_model=outcome.served.name),
            ex=gate.policy.cache_ttl_seconds,
        )


# Settlements run as tasks of their own, so a client that disconnects (which cancels the
# request's task) cannot cancel the ledger write. The set keeps strong references.
_settling: set[asyncio.Task[None]] = set()


def settle_detached(gate: Gate, outcome: Outcome, *, request_id: str) -> asyncio.Task[None]:
    task = asyncio.get_running_loop().create_task(settle(gate, outcome, request_id=request_id))
    _settling.add(task)
    task.add_done_callback(_settling.discard)
    return task
