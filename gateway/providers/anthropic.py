"""Anthropic's Messages API as a gateway provider, through the official async SDK.

One upstream attempt per call (SDK retries off, see providers/base.py); failures are
classified into ProviderError / ProviderTimeout so the pool can retry or fall back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import anthropic
import httpx2

from gateway.providers.base import (
    Provider,
    ProviderConfig,
    ProviderError,
    ProviderTimeout,
    is_retryable_status,
)
from gateway.types import ChatRequest, Completion, StreamEvent
from gateway.wire.anthropic import EventDecoder, from_anthropic_message, to_anthropic_params

# An `event: error` frame arrives inside a 200 response, so the SDK's error carries status
# 200; the error type in its body tells what really happened.
_STATUS_BY_ERROR_TYPE: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
_MAX_DETAIL = 300

# What the SDK raises, and what escapes it unwrapped while a stream's body is read.
_UPSTREAM_ERRORS = (anthropic.APIError, httpx2.TransportError)


class AnthropicProvider(Provider):
    kind = "anthropic"

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        # One client per provider: it owns the connection pool that requests share.
        self._client = anthropic.AsyncAnthropic(
            api_key=config.api_key or "not-needed",
            base_url=config.base_url or None,
            max_retries=0,
            timeout=config.timeout_seconds,
        )

    async def complete(self, request: ChatRequest, *, model: str) -> Completion:
        params = _kwargs(request, model)
        try:
            message = await self._client.messages.create(**params, stream=False)
        except _UPSTREAM_ERRORS as exc:
            raise self._provider_error(exc) from exc
        return from_anthropic_message(message)

    async def stream(self, request: ChatRequest, *, model: str) -> AsyncIterator[StreamEvent]:
        params = _kwargs(request, model)
        try:
            upstream = await self._client.messages.create(**params, stream=True)
        except _UPSTREAM_ERRORS as exc:
            raise self._provider_error(exc) from exc
        decoder = EventDecoder()
        try:
            async for event in upstream:
                for decoded in decoder.decode(event):
                    yield decoded
        except _UPSTREAM_ERRORS as exc:
            raise self._provider_error(exc) from exc
        finally:
            # Also runs when the consumer stops early (aclose): frees the connection.
            await upstream.close()
        if not decoder.stopped:
            raise ProviderError("The Anthropic stream ended before message_stop.", retryable=True)
        yield decoder.finish()

    async def aclose(self) -> None:
        await self._client.close()

    def _provider_error(self, exc: Exception) -> ProviderError:
        if isinstance(exc, anthropic.APITimeoutError | httpx2.TimeoutException):
            return ProviderTimeout()
        if isinstance(exc, anthropic.APIConnectionError | httpx2.TransportError):
            return ProviderError("The connection to Anthropic failed.", retryable=True)
        if isinstance(exc, anthropic.APIStatusError):
            status = _status_of(exc)
            detail = self._scrub(exc.api_message or exc.type or "no details")[:_MAX_DETAIL]
            label = f"{status}" if status is not None else "an error"
            return ProviderError(
                f"Anthropic returned {label}: {detail}",
                status=status,
                retryable=is_retryable_status(status),
            )
        # APIResponseValidationError and the like: an answer we could not read.
        return ProviderError("Anthropic sent an answer the SDK could not read.", retryable=True)

    def _scrub(self, text: str) -> str:
        # Upstream messages are passed on; make sure the key never is.
        key = self.config.api_key
        return text.replace(key, "[redacted]") if key else text


def _kwargs(request: ChatRequest, model: str) -> dict[str, Any]:
    # The SDK's create() is typed with one keyword per field; our params are built as a
    # plain dict, so it is handed over as Any.
    return cast("dict[str, Any]", to_anthropic_params(request, model=model))


def _status_of(exc: anthropic.APIStatusError) -> int | None:
    if exc.status_code >= 400:
        return exc.status_code
    return _STATUS_BY_ERROR_TYPE.get(exc.type or "")
