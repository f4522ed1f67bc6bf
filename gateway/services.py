"""The gateway's in-process API: everything between an authenticated, parsed request and
the answer. The HTTP views and the browser chat both call these two functions, so both get
the same routes and fallbacks, rate limits, budgets, cache and ledger."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings

from accounts.access import KeyContext
from billing.models import UsageStatus
from core.errors import ApplicationError, BadGateway, NotFound, PayloadTooLarge, Unprocessable
from gateway import cache, governance, pool
from gateway.catalogue import Catalogue, ModelEntry, RouteEntry, current_catalogue
from gateway.governance import Gate, Outcome
from gateway.providers.base import ProviderError
from gateway.redis_policy import redis_guarded
from gateway.router import choose_pipeline
from gateway.tokens import estimate_prompt_tokens
from gateway.types import ChatRequest, Completion, StreamEnd, StreamEvent, TextDelta, ToolCallDelta

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class GatewayCall:
    key: KeyContext
    model: str  # a route alias or a model name, as the client asked
    request: ChatRequest
    request_id: str
    pipeline: str | None = None  # None: the endpoint's default
    collections: list[str] = field(default_factory=list)
    use_cache: bool = True  # False for "Cache-Control: no-cache"


@dataclass(slots=True)
class Served:
    """What the client is told about how its request was served."""

    model: ModelEntry
    route: RouteEntry | None
    pipeline: str
    fallbacks: int
    cached: bool
    limit_headers: dict[str, str]

    def headers(self) -> dict[str, str]:
        return {
            "X-Gateway-Model": self.model.name,
            "X-Gateway-Provider": self.model.provider.name,
            "X-Gateway-Fallbacks": str(self.fallbacks),
            "X-Gateway-Pipeline": self.pipeline,
            "X-Gateway-Cache": "hit" if self.cached else "miss",
            **self.limit_headers,
        }

    def summary(self) -> dict[str, object]:
        return {
            "model": self.model.name,
            "provider": self.model.provider.name,
            "route": self.route.name if self.route else None,
            "pipeline": self.pipeline,
            "fallbacks": self.fallbacks,
            "cached": self.cached,
        }


@dataclass(slots=True)
class ChatResult:
    completion: Completion
    served: Served
    latency_ms: float
    cost: Decimal


@dataclass(slots=True)
class ChatStream:
    served: Served
    events: AsyncIterator[StreamEvent]


@dataclass(slots=True)
class _Plan:
    chain: list[ModelEntry]
    route: RouteEntry | None
    pipeline: str


def _chain(catalogue: Catalogue, call: GatewayCall) -> tuple[list[ModelEntry], RouteEntry | None]:
    found = catalogue.chain_for(call.key.team_id, call.model)
    if found is None:
        raise NotFound(
            f"The model '{call.model}' does not exist or your team may not use it.",
            code="model_not_found",
            param="model",
        )
    return found


def _fitting(chain: list[ModelEntry], request: ChatRequest) -> list[ModelEntry]:
    """Drop models whose context window cannot hold the prompt plus some answer."""
    prompt_tokens = estimate_prompt_tokens(request)
    fitting = [
        m
        for m in chain
        if prompt_tokens + min(request.max_tokens, m.max_output_tokens) <= m.context_window
    ]
    if not fitting:
        largest = max(m.context_window for m in chain)
        raise Unprocessable(
            f"The prompt (about {prompt_tokens} tokens) plus max_tokens does not fit the context "
            f"window of any model for this request (largest: {largest} tokens).",
            code="context_length_exceeded",
            param="messages",
        )
    return fitting


def _check_prompt_size(request: ChatRequest) -> None:
    characters = sum(len(m.content) for m in request.messages)
    limit = settings.GATEWAY_MAX_PROMPT_CHARS
    if characters > limit:
        raise PayloadTooLarge(
            f"The prompt has {characters} characters; the limit is {limit}.", param="messages"
        )


async def _catalogue() -> Catalogue:
    return await redis_guarded(current_catalogue(), what="catalogue check", fallback=None) or (
        await current_catalogue(skip_version_check=True)
    )


async def _prepare(call: GatewayCall) -> tuple[_Plan, Gate]:
    _check_prompt_size(call.request)
    catalogue = await _catalogue()
    chain, route = _chain(catalogue, call)
    policy = catalogue.policy(call.key.team_id)
    pipeline = choose_pipeline(
        call.pipeline,
        team_default=policy.default_pipeline,
        request=call.request,
        collections=call.collections,
    )
    plan = _Plan(_fitting(chain, call.request), route, pipeline)
    cache_key = None
    if call.use_cache and policy.cache_ttl_seconds > 0:
        cache_key = cache.cache_key(
            team_id=call.key.team_id, model=call.model, pipeline=pipeline, request=call.request
        )
    gate = await governance.admit(
        key=call.key, policy=policy, chain=plan.chain, request=call.request, cache_key=cache_key
    )
    return plan, gate


def _outcome(call: GatewayCall, plan: _Plan, *, stream: bool) -> Outcome:
    return Outcome(
        status=UsageStatus.OK, model_requested=call.model, pipeline=plan.pipeline, stream=stream
    )


async def _from_cache(plan: _Plan, gate: Gate) -> tuple[Completion, ModelEntry] | None:
    hit = await governance.cached_answer(gate)
    if hit is None:
        return None
    completion, served_name = hit
    served = next((m for m in plan.chain if m.name == served_name), plan.chain[0])
    return completion, served


async def chat_complete(call: GatewayCall) -> ChatResult:
    started = time.perf_counter()
    plan, gate = await _prepare(call)
    outcome = _outcome(call, plan, stream=False)
    try:
        hit = await _from_cache(plan, gate)
        if hit is not None:
            outcome.completion, outcome.served = hit
            outcome.status, outcome.cached = UsageStatus.CACHED, True
        else:
            result = await pool.complete(plan.chain, call.request)
            outcome.completion, outcome.served, outcome.fallbacks = (
                result.completion,
                result.served_by,
                result.trace.fallbacks,
            )
    except asyncio.CancelledError:
        outcome.status = UsageStatus.CLIENT_CANCELLED
        outcome.served = outcome.served or plan.chain[0]
        governance.settle_detached(gate, outcome, request_id=call.request_id)
        raise
    except ApplicationError:
        # Every provider failed or one refused the request: the ledger records the attempt
        # (at no cost) and the reservation is released.
        outcome.status, outcome.served = UsageStatus.PROVIDER_ERROR, plan.chain[0]
        await asyncio.shield(governance.settle_detached(gate, outcome, request_id=call.request_id))
        raise
    await asyncio.shield(governance.settle_detached(gate, outcome, request_id=call.request_id))
    assert outcome.completion is not None
    assert outcome.served is not None
    usage = outcome.completion.usage
    cost = (
        Decimal(0)
        if outcome.cached
        else outcome.served.cost(usage.input_tokens, usage.output_tokens)
    )
    served = Served(
        outcome.served, plan.route, plan.pipeline, outcome.fallbacks, outcome.cached, gate.headers()
    )
    return ChatResult(outcome.completion, served, (time.perf_counter() - started) * 1000, cost)


async def chat_stream(call: GatewayCall) -> ChatStream:
    """Open a stream. Fallbacks happen inside, before the first event; afterwards an
    upstream failure surfaces from ``events`` as BadGateway for the caller to report."""
    plan, gate = await _prepare(call)
    outcome = _outcome(call, plan, stream=True)
    try:
        hit = await _from_cache(plan, gate)
        if hit is not None:
            outcome.completion, outcome.served = hit
            outcome.status, outcome.cached = UsageStatus.CACHED, True
            served = Served(outcome.served, plan.route, plan.pipeline, 0, True, gate.headers())
            return ChatStream(served, _replay(hit[0], gate, outcome, call.request_id))
        opened = await pool.open_stream(plan.chain, call.request)
    except asyncio.CancelledError:
        outcome.status = UsageStatus.CLIENT_CANCELLED
        governance.settle_detached(gate, outcome, request_id=call.request_id)
        raise
    except ApplicationError:
        outcome.status, outcome.served = UsageStatus.PROVIDER_ERROR, plan.chain[0]
        await asyncio.shield(governance.settle_detached(gate, outcome, request_id=call.request_id))
        raise
    outcome.served, outcome.fallbacks = opened.served_by, opened.trace.fallbacks
    outcome.ttft_ms = int((time.perf_counter() - gate.started) * 1000)
    served = Served(
        opened.served_by, plan.route, plan.pipeline, outcome.fallbacks, False, gate.headers()
    )
    return ChatStream(served, _relay(opened, gate, outcome, call.request_id))


async def _replay(
    completion: Completion, gate: Gate, outcome: Outcome, request_id: str
) -> AsyncIterator[StreamEvent]:
    """A cached completion, told as a stream."""
    try:
        if completion.text:
            yield TextDelta(completion.text)
        for index, tool_call in enumerate(completion.tool_calls):
            yield ToolCallDelta(
                index=index, id=tool_call.id, name=tool_call.name, arguments=tool_call.arguments
            )
        yield StreamEnd(
            finish_reason=completion.finish_reason, usage=completion.usage, model=completion.model
        )
    finally:
        governance.settle_detached(gate, outcome, request_id=request_id)


async def _relay(
    opened: pool.PoolStream, gate: Gate, outcome: Outcome, request_id: str
) -> AsyncIterator[StreamEvent]:
    """Pass events through, watching them so the ledger knows what was used however the
    stream ends: completed, cut by the client, or failed upstream."""
    error: ProviderError | None = None
    cancelled = False
    text: list[str] = []
    try:
        event: StreamEvent = opened.first_event
        while True:
            if isinstance(event, TextDelta):
                text.append(event.text)
            elif isinstance(event, StreamEnd):
                outcome.completion = Completion(
                    text="".join(text),
                    finish_reason=event.finish_reason,
                    usage=event.usage,
                    model=event.model,
                )
            yield event
            if isinstance(event, StreamEnd):
                break
            event = await anext(opened.rest)
    except StopAsyncIteration:
        error = ProviderError("The provider ended the stream without finishing it.", retryable=True)
        outcome.status = UsageStatus.PROVIDER_ERROR
        raise BadGateway(
            "The provider ended the stream early.", code="stream_interrupted"
        ) from None
    except ProviderError as exc:
        error = exc
        outcome.status = UsageStatus.PROVIDER_ERROR
        raise BadGateway(
            f"The provider failed mid-stream: {exc.message}", code="stream_interrupted"
        ) from exc
    except (asyncio.CancelledError, GeneratorExit):
        cancelled = True  # the client went away: says nothing about the provider's health
        outcome.status = UsageStatus.CLIENT_CANCELLED
        raise
    finally:
        outcome.partial_output_chars = sum(map(len, text))  # what a cut-short stream used
        if outcome.completion is None and outcome.status == UsageStatus.OK:
            outcome.status = UsageStatus.CLIENT_CANCELLED
        governance.settle_detached(gate, outcome, request_id=request_id)
        await opened.rest.aclose()  # type: ignore[attr-defined]
        if not cancelled:
            await pool.stream_finished(opened.served_by, error=error)
