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
from gateway import cache, governance, pool, semantic_cache
from gateway.catalogue import Catalogue, ModelEntry, RouteEntry, TeamPolicy, current_catalogue
from gateway.governance import Gate, Outcome
from gateway.models import Pipeline
from gateway.pipelines import rag
from gateway.providers.base import ProviderError
from gateway.redis_policy import redis_guarded
from gateway.router import choose_pipeline
from gateway.tokens import estimate_prompt_tokens
from gateway.types import (
    ChatRequest,
    Citation,
    Citations,
    Completion,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
)

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
    # The HTTP API: answer, then settle (the ledger row goes through the ledger stream,
    # decision 0023). In-process callers keep the default and get the row before the answer.
    answer_first: bool = False


@dataclass(slots=True)
class Served:
    """What the client is told about how its request was served."""

    model: ModelEntry
    route: RouteEntry | None
    pipeline: str
    fallbacks: int
    cached: bool
    limit_headers: dict[str, str]
    similarity: float | None = None  # set when the semantic cache answered

    def headers(self) -> dict[str, str]:
        return {
            "X-Gateway-Model": self.model.name,
            "X-Gateway-Provider": self.model.provider.name,
            "X-Gateway-Fallbacks": str(self.fallbacks),
            "X-Gateway-Pipeline": self.pipeline,
            "X-Gateway-Cache": self.cache_status,
            **self.limit_headers,
        }

    @property
    def cache_status(self) -> str:
        if not self.cached:
            return "miss"
        return "hit" if self.similarity is None else "semantic-hit"

    def summary(self) -> dict[str, object]:
        return {
            "model": self.model.name,
            "provider": self.model.provider.name,
            "route": self.route.name if self.route else None,
            "pipeline": self.pipeline,
            "fallbacks": self.fallbacks,
            "cached": self.cached,
            **(
                {"cache": self.cache_status, "similarity": round(self.similarity, 4)}
                if self.similarity is not None
                else {}
            ),
        }


@dataclass(slots=True)
class ChatResult:
    completion: Completion
    served: Served
    latency_ms: float
    cost: Decimal

    @property
    def citations(self) -> list[Citation]:
        """The sources of a RAG answer (empty for other pipelines)."""
        return self.completion.citations


@dataclass(slots=True)
class ChatStream:
    served: Served
    events: AsyncIterator[StreamEvent]


@dataclass(slots=True)
class _Plan:
    chain: list[ModelEntry]
    route: RouteEntry | None
    pipeline: str
    policy: TeamPolicy
    rag: rag.RagScope | None = None


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
    scope, priced = None, call.request
    if pipeline == Pipeline.RAG:
        # Unknown collections are refused before anything is charged; admission prices
        # the request with room for the passages retrieval may add.
        scope = await rag.resolve_scope(team_id=call.key.team_id, requested=call.collections)
        priced = rag.admission_request(call.request)
    plan = _Plan(_fitting(chain, priced), route, pipeline, policy, scope)
    cache_key = None
    if call.use_cache and policy.cache_ttl_seconds > 0:
        cache_key = cache.cache_key(
            team_id=call.key.team_id,
            model=call.model,
            pipeline=pipeline,
            request=call.request,
            scope=scope.cache_scope if scope else "",
        )
    gate = await governance.admit(
        key=call.key, policy=policy, chain=plan.chain, request=priced, cache_key=cache_key
    )
    gate.answer_first = call.answer_first
    return plan, gate


async def _settle(call: GatewayCall, gate: Gate, outcome: Outcome) -> None:
    """Settle before answering, or (``answer_first``) let it finish in the background."""
    task = governance.settle_detached(gate, outcome, request_id=call.request_id)
    if not call.answer_first:
        await asyncio.shield(task)


def _outcome(call: GatewayCall, plan: _Plan, *, stream: bool) -> Outcome:
    return Outcome(
        status=UsageStatus.OK, model_requested=call.model, pipeline=plan.pipeline, stream=stream
    )


@dataclass(slots=True)
class _CacheHit:
    completion: Completion
    served: ModelEntry
    similarity: float | None  # None: the exact cache answered


async def _from_cache(call: GatewayCall, plan: _Plan, gate: Gate) -> _CacheHit | None:
    """The exact cache first, then the semantic cache. A semantic miss leaves its probe
    on the gate, so settlement stores the fresh answer under it."""
    hit = await governance.cached_answer(gate)
    similarity = None
    if hit is None:
        if not (call.use_cache and semantic_cache.eligible(call.request, policy=plan.policy)):
            return None
        semantic = await _semantic_lookup(call, plan, gate)
        if semantic is None:
            return None
        hit, similarity = (semantic.completion, semantic.served_model), semantic.similarity
    completion, served_name = hit
    served = next((m for m in plan.chain if m.name == served_name), plan.chain[0])
    return _CacheHit(completion, served, similarity)


async def _semantic_lookup(call: GatewayCall, plan: _Plan, gate: Gate) -> semantic_cache.Hit | None:
    try:
        probe = await semantic_cache.probe(
            team_id=call.key.team_id,
            model=call.model,
            pipeline=plan.pipeline,
            collection_ids=plan.rag.collection_ids if plan.rag else (),
            request=call.request,
            policy=plan.policy,
            generation=plan.rag.generation if plan.rag else 0,
        )
        if probe is None:
            return None
        found = await semantic_cache.lookup(probe)
    except Exception:
        # A cache is an optimisation: if the embedder or its table fails, answer anyway.
        logger.exception("semantic cache lookup failed for %s", call.request_id)
        return None
    if found is None:
        gate.semantic = probe
    return found


async def _pipeline_request(
    call: GatewayCall, plan: _Plan
) -> tuple[ChatRequest, list[Citation] | None]:
    """What the provider pool is asked: the request as is, or grounded in documents
    (then with its citations, possibly none: a RAG answer always says what it cites)."""
    if plan.rag is None:
        return call.request, None
    hits = await rag.retrieve(plan.rag, call.request)
    return rag.ground(call.request, hits)


async def chat_complete(call: GatewayCall) -> ChatResult:
    started = time.perf_counter()
    plan, gate = await _prepare(call)
    outcome = _outcome(call, plan, stream=False)
    similarity = None
    try:
        hit = await _from_cache(call, plan, gate)
        if hit is not None:
            outcome.completion, outcome.served = hit.completion, hit.served
            outcome.status, outcome.cached, similarity = UsageStatus.CACHED, True, hit.similarity
        else:
            request, citations = await _pipeline_request(call, plan)
            result = await pool.complete(plan.chain, request)
            result.completion.citations = citations or []
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
        await _settle(call, gate, outcome)
        raise
    await _settle(call, gate, outcome)
    assert outcome.completion is not None
    assert outcome.served is not None
    usage = outcome.completion.usage
    cost = (
        Decimal(0)
        if outcome.cached
        else outcome.served.cost(usage.input_tokens, usage.output_tokens)
    )
    served = Served(
        outcome.served,
        plan.route,
        plan.pipeline,
        outcome.fallbacks,
        outcome.cached,
        gate.headers(),
        similarity,
    )
    return ChatResult(outcome.completion, served, (time.perf_counter() - started) * 1000, cost)


async def chat_stream(call: GatewayCall) -> ChatStream:
    """Open a stream. Fallbacks happen inside, before the first event; afterwards an
    upstream failure surfaces from ``events`` as BadGateway for the caller to report."""
    plan, gate = await _prepare(call)
    outcome = _outcome(call, plan, stream=True)
    try:
        hit = await _from_cache(call, plan, gate)
        if hit is not None:
            outcome.completion, outcome.served = hit.completion, hit.served
            outcome.status, outcome.cached = UsageStatus.CACHED, True
            served = Served(
                hit.served, plan.route, plan.pipeline, 0, True, gate.headers(), hit.similarity
            )
            replay = _replay(hit.completion, gate, outcome, call.request_id, plan.rag is not None)
            governance.settle_if_abandoned(replay, gate, outcome, request_id=call.request_id)
            return ChatStream(served, replay)
        request, citations = await _pipeline_request(call, plan)
        opened = await pool.open_stream(plan.chain, request)
    except asyncio.CancelledError:
        outcome.status = UsageStatus.CLIENT_CANCELLED
        governance.settle_detached(gate, outcome, request_id=call.request_id)
        raise
    except ApplicationError:
        outcome.status, outcome.served = UsageStatus.PROVIDER_ERROR, plan.chain[0]
        await _settle(call, gate, outcome)
        raise
    outcome.served, outcome.fallbacks = opened.served_by, opened.trace.fallbacks
    outcome.ttft_ms = int((time.perf_counter() - gate.started) * 1000)
    served = Served(
        opened.served_by, plan.route, plan.pipeline, outcome.fallbacks, False, gate.headers()
    )
    events = _relay(opened, gate, outcome, call.request_id, citations)
    governance.settle_if_abandoned(
        events,
        gate,
        outcome,
        request_id=call.request_id,
        close=opened.rest.aclose,  # type: ignore[attr-defined]
    )
    return ChatStream(served, events)


async def _replay(
    completion: Completion, gate: Gate, outcome: Outcome, request_id: str, grounded: bool
) -> AsyncIterator[StreamEvent]:
    """A cached completion, told as a stream."""
    try:
        if completion.text:
            yield TextDelta(completion.text)
        for index, tool_call in enumerate(completion.tool_calls):
            yield ToolCallDelta(
                index=index, id=tool_call.id, name=tool_call.name, arguments=tool_call.arguments
            )
        if grounded:
            yield Citations(completion.citations)
        yield StreamEnd(
            finish_reason=completion.finish_reason, usage=completion.usage, model=completion.model
        )
    finally:
        governance.settle_detached(gate, outcome, request_id=request_id)


async def _relay(
    opened: pool.PoolStream,
    gate: Gate,
    outcome: Outcome,
    request_id: str,
    citations: list[Citation] | None,
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
                    citations=citations or [],
                )
                if citations is not None:
                    yield Citations(citations)  # a grounded answer's sources, just before its end
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
