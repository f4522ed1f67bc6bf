"""The gateway's in-process API: everything between an authenticated, parsed request and
the answer. The HTTP views and the browser chat both call these two functions, so both
get the same routes, fallbacks and (with later issues) limits, budgets and ledger."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings

from accounts.access import KeyContext
from core.errors import BadGateway, NotFound, PayloadTooLarge, Unprocessable
from gateway import pool
from gateway.catalogue import Catalogue, ModelEntry, RouteEntry, current_catalogue
from gateway.providers.base import ProviderError
from gateway.router import choose_pipeline
from gateway.tokens import estimate_prompt_tokens
from gateway.types import ChatRequest, Completion, StreamEnd, StreamEvent

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class GatewayCall:
    key: KeyContext
    model: str  # a route alias or a model name, as the client asked
    request: ChatRequest
    request_id: str
    pipeline: str | None = None  # None: the endpoint's default
    collections: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Served:
    """What the client is told about how its request was served."""

    model: ModelEntry
    route: RouteEntry | None
    pipeline: str
    trace: pool.PoolTrace

    @property
    def fallbacks(self) -> int:
        return self.trace.fallbacks

    def headers(self) -> dict[str, str]:
        return {
            "X-Gateway-Model": self.model.name,
            "X-Gateway-Provider": self.model.provider.name,
            "X-Gateway-Fallbacks": str(self.fallbacks),
            "X-Gateway-Pipeline": self.pipeline,
        }

    def summary(self) -> dict[str, object]:
        return {
            "model": self.model.name,
            "provider": self.model.provider.name,
            "route": self.route.name if self.route else None,
            "pipeline": self.pipeline,
            "fallbacks": self.fallbacks,
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
    started: float


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
            f"The prompt has {characters} characters; the limit is {limit}.",
            param="messages",
        )


async def _plan(call: GatewayCall) -> _Plan:
    _check_prompt_size(call.request)
    catalogue = await current_catalogue()
    chain, route = _chain(catalogue, call)
    pipeline = choose_pipeline(
        call.pipeline,
        team_default=catalogue.default_pipeline(call.key.team_id),
        request=call.request,
        collections=call.collections,
    )
    return _Plan(_fitting(chain, call.request), route, pipeline)


async def chat_complete(call: GatewayCall) -> ChatResult:
    started = time.perf_counter()
    plan = await _plan(call)
    result = await pool.complete(plan.chain, call.request)
    usage = result.completion.usage
    return ChatResult(
        completion=result.completion,
        served=Served(result.served_by, plan.route, plan.pipeline, result.trace),
        latency_ms=(time.perf_counter() - started) * 1000,
        cost=result.served_by.cost(usage.input_tokens, usage.output_tokens),
    )


async def chat_stream(call: GatewayCall) -> ChatStream:
    """Open a stream. Fallbacks happen inside, before the first event; afterwards an
    upstream failure surfaces from ``events`` as BadGateway for the caller to report."""
    started = time.perf_counter()
    plan = await _plan(call)
    opened = await pool.open_stream(plan.chain, call.request)
    served = Served(opened.served_by, plan.route, plan.pipeline, opened.trace)
    return ChatStream(served=served, events=_relay(opened), started=started)


async def _relay(opened: pool.PoolStream) -> AsyncIterator[StreamEvent]:
    error: ProviderError | None = None
    cancelled = False
    try:
        yield opened.first_event
        if isinstance(opened.first_event, StreamEnd):
            return
        async for event in opened.rest:
            yield event
    except ProviderError as exc:
        error = exc
        raise BadGateway(
            f"The provider failed mid-stream: {exc.message}", code="stream_interrupted"
        ) from exc
    except (asyncio.CancelledError, GeneratorExit):
        cancelled = True  # the client went away: says nothing about the provider's health
        raise
    finally:
        await opened.rest.aclose()  # type: ignore[attr-defined]
        if not cancelled:
            await pool.stream_finished(opened.served_by, error=error)


def cost_of(model: ModelEntry, end: StreamEnd) -> Decimal:
    return model.cost(end.usage.input_tokens, end.usage.output_tokens)
