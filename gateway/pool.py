"""The provider pool: per-attempt timeouts, retries with backoff and jitter, circuit
breakers, and the fallback chain. Every provider gets exactly the same treatment.

Retryable failures (timeouts, connection errors, 429, 5xx) are retried on the same model,
then the next model in the chain is tried. Non-retryable failures (the upstream rejected
the request itself: 400, 404, 422) end the request at once: the same request would be
rejected everywhere, and trying elsewhere would only hide the mistake.

Streams fail over only until their first event is in hand; the caller sends nothing to
the client before that, so a fallback is invisible to it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

from django.conf import settings

from core.errors import ApplicationError, BadGateway, GatewayTimeout, ValidationFailed
from gateway.breaker import (
    BreakerState,
    breaker_admit,
    breaker_record_failure,
    breaker_record_success,
)
from gateway.catalogue import ModelEntry
from gateway.providers.base import ProviderError, ProviderTimeout
from gateway.providers.registry import provider_for
from gateway.redis_policy import redis_guarded
from gateway.types import ChatRequest, Completion, StreamEvent

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Attempt:
    model: str
    provider: str
    outcome: str  # ok | error | timeout | breaker_open
    status: int | None = None
    detail: str = ""
    latency_ms: float = 0.0


@dataclass(slots=True)
class PoolTrace:
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def fallbacks(self) -> int:
        """How many models of the chain were given up on (before the one that answered)."""
        tried = list(dict.fromkeys(a.model for a in self.attempts))  # in order, distinct
        return max(len(tried) - 1, 0)


@dataclass(slots=True)
class PoolResult:
    completion: Completion
    served_by: ModelEntry
    trace: PoolTrace


@dataclass(slots=True)
class PoolStream:
    served_by: ModelEntry
    trace: PoolTrace
    first_event: StreamEvent
    rest: AsyncIterator[StreamEvent]


def _backoff_seconds(retry: int) -> float:
    """Exponential backoff with full jitter: uniform in [0, base * 2**retry], capped."""
    ceiling = min(settings.GATEWAY_BACKOFF_MAX_MS, settings.GATEWAY_BACKOFF_BASE_MS * 2**retry)
    return random.uniform(0, ceiling) / 1000  # noqa: S311 - jitter, not cryptography


def _fit_to_model(request: ChatRequest, model: ModelEntry) -> ChatRequest:
    if request.max_tokens <= model.max_output_tokens:
        return request
    return replace(request, max_tokens=model.max_output_tokens)


def _client_error(exc: ProviderError, model: ModelEntry) -> ApplicationError:
    """A non-retryable upstream refusal, told to the client without provider secrets."""
    if exc.status in (401, 403):
        return BadGateway(
            f"The provider behind '{model.name}' refused the gateway's credentials; "
            "an administrator needs to fix its configuration.",
            code="provider_auth_failed",
        )
    return ValidationFailed(
        f"The provider rejected the request for '{model.name}': {exc.message}",
        code="upstream_rejected",
    )


def _exhausted(trace: PoolTrace) -> ApplicationError:
    summary = "; ".join(
        f"{a.model}: {a.outcome}{f' {a.status}' if a.status else ''}" for a in trace.attempts
    )
    if (
        trace.attempts
        and all(a.outcome in {"timeout", "breaker_open"} for a in trace.attempts)
        and any(a.outcome == "timeout" for a in trace.attempts)
    ):
        return GatewayTimeout(f"No provider answered in time ({summary}).")
    return BadGateway(
        f"Every provider in the chain failed ({summary}).", code="all_providers_failed"
    )


async def _admitted(model: ModelEntry, trace: PoolTrace) -> bool:
    state = await redis_guarded(
        breaker_admit(model.provider.id, probe_ttl_seconds=model.provider.timeout_seconds),
        what="circuit breaker check",
        fallback=BreakerState.CLOSED,
    )
    if state is BreakerState.OPEN:
        trace.attempts.append(Attempt(model.name, model.provider.name, "breaker_open"))
        return False
    return True


async def _failed(model: ModelEntry, trace: PoolTrace, exc: ProviderError, started: float) -> None:
    outcome = "timeout" if isinstance(exc, ProviderTimeout) else "error"
    trace.attempts.append(
        Attempt(
            model.name,
            model.provider.name,
            outcome,
            exc.status,
            exc.message[:200],
            _ms_since(started),
        )
    )
    if exc.retryable:
        await redis_guarded(
            breaker_record_failure(model.provider.id), what="circuit breaker", fallback=False
        )
    logger.warning(
        "provider %s (%s) failed: %s %s", model.provider.name, model.name, outcome, exc.status
    )


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


async def complete(chain: list[ModelEntry], request: ChatRequest) -> PoolResult:
    trace = PoolTrace()
    for model in chain:
        for retry in range(settings.GATEWAY_RETRIES + 1):
            if not await _admitted(model, trace):
                break
            provider = provider_for(model.provider)
            started = time.perf_counter()
            try:
                async with asyncio.timeout(model.provider.timeout_seconds):
                    completion = await provider.complete(
                        _fit_to_model(request, model), model=model.upstream_name
                    )
            except TimeoutError:
                exc: ProviderError = ProviderTimeout()
            except ProviderError as caught:
                exc = caught
            else:
                await redis_guarded(
                    breaker_record_success(model.provider.id), what="circuit breaker", fallback=None
                )
                trace.attempts.append(
                    Attempt(model.name, model.provider.name, "ok", 200, "", _ms_since(started))
                )
                return PoolResult(completion, model, trace)
            await _failed(model, trace, exc, started)
            if not exc.retryable:
                raise _client_error(exc, model)
            if retry < settings.GATEWAY_RETRIES:
                await asyncio.sleep(_backoff_seconds(retry))
    raise _exhausted(trace)


async def open_stream(chain: list[ModelEntry], request: ChatRequest) -> PoolStream:
    """Find a model whose stream produces a first event; fall back until one does."""
    trace = PoolTrace()
    for model in chain:
        for retry in range(settings.GATEWAY_RETRIES + 1):
            if not await _admitted(model, trace):
                break
            stream = provider_for(model.provider).stream(
                _fit_to_model(request, model), model=model.upstream_name
            )
            started = time.perf_counter()
            try:
                async with asyncio.timeout(model.provider.timeout_seconds):
                    first = await anext(aiter(stream))
            except TimeoutError:
                exc: ProviderError = ProviderTimeout()
            except StopAsyncIteration:
                exc = ProviderError(
                    "The provider ended the stream without a response.", retryable=True
                )
            except ProviderError as caught:
                exc = caught
            else:
                trace.attempts.append(
                    Attempt(model.name, model.provider.name, "ok", 200, "", _ms_since(started))
                )
                return PoolStream(model, trace, first, stream)
            await stream.aclose()  # type: ignore[attr-defined]
            await _failed(model, trace, exc, started)
            if not exc.retryable:
                raise _client_error(exc, model)
            if retry < settings.GATEWAY_RETRIES:
                await asyncio.sleep(_backoff_seconds(retry))
    raise _exhausted(trace)


async def stream_finished(model: ModelEntry, *, error: ProviderError | None) -> None:
    """Report how a stream that had started ended, for the provider's breaker."""
    if error is None:
        await redis_guarded(
            breaker_record_success(model.provider.id), what="circuit breaker", fallback=None
        )
    elif error.retryable:
        await redis_guarded(
            breaker_record_failure(model.provider.id), what="circuit breaker", fallback=False
        )
