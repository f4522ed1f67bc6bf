"""OpenAI and every server that speaks its Chat Completions API (vLLM, Ollama, llama.cpp,
Gemini's compatible endpoint), through the official async SDK.

One SDK client per provider instance: it owns an HTTP connection pool, and the gateway
keeps providers alive across requests, so connections (and TLS sessions) are reused.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any, cast

import openai
from openai import AsyncStream
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from gateway.providers.base import (
    Provider,
    ProviderConfig,
    ProviderError,
    ProviderTimeout,
    is_retryable_status,
)
from gateway.types import ChatRequest, Completion, StreamEvent
from gateway.wire.openai import ChunkDecoder, from_openai_completion, to_openai_params

# Upstream bodies can be whole HTML error pages from a proxy; keep messages readable.
_MAX_MESSAGE_CHARS = 500
# OpenAI echoes a masked rejected key ("sk-proj-abc***xyz"); drop even the fragments.
_KEY_LIKE = re.compile(r"sk-[A-Za-z0-9_*\-]{4,}")


class OpenAIProvider(Provider):
    kind = "openai"

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        self._client = openai.AsyncOpenAI(
            # Local servers (Ollama, llama.cpp) need no key, but the SDK insists on one.
            api_key=config.api_key or "not-needed",
            base_url=config.base_url or None,
            max_retries=0,  # retries are the pool's decision, made the same for every provider
            timeout=config.timeout_seconds,
        )

    async def complete(self, request: ChatRequest, *, model: str) -> Completion:
        params = to_openai_params(request, model=model, stream=False)
        try:
            response = await self._create(params)
        except openai.OpenAIError as exc:
            raise self._classify(exc) from exc
        if not isinstance(response, ChatCompletion):
            # The SDK hands back the raw text when a 200 is not JSON (a proxy's HTML page).
            raise ProviderError("The provider's answer was not a chat completion.", retryable=True)
        return from_openai_completion(response)

    async def stream(self, request: ChatRequest, *, model: str) -> AsyncIterator[StreamEvent]:
        params = to_openai_params(request, model=model, stream=True)
        decoder = ChunkDecoder()
        try:
            upstream = cast(AsyncStream[ChatCompletionChunk], await self._create(params))
            # `async with` closes the HTTP response however we leave: finished, failed, or
            # the consumer stopped early (GeneratorExit / cancellation at a yield).
            async with upstream:
                async for chunk in upstream:
                    for event in decoder.decode(chunk):
                        yield event
        except openai.OpenAIError as exc:
            raise self._classify(exc) from exc
        if not decoder.finished:
            # The connection ended cleanly but the answer did not: treat it as a failure
            # rather than bill and cache a truncated reply as if it were whole.
            raise ProviderError("The provider's stream ended before it finished.", retryable=True)
        yield decoder.finish(model)

    async def aclose(self) -> None:
        await self._client.close()

    async def _create(self, params: dict[str, object]) -> object:
        # The arguments are built at run time by the wire module, which the SDK's typed
        # overloads cannot check; callers narrow the result by the `stream` they asked for.
        create: Any = self._client.chat.completions.create
        return await create(**params)

    def _classify(self, exc: openai.OpenAIError) -> ProviderError:
        if isinstance(exc, openai.APITimeoutError):
            return ProviderTimeout()
        if isinstance(exc, openai.APIConnectionError):
            # The SDK's own text is always "Connection error."; the transport's says what
            # happened (refused, reset, body cut short mid-stream).
            detail = str(exc.__cause__ or "") or str(exc)
            return ProviderError(
                f"The connection to the provider failed: {self._scrub(detail)}", retryable=True
            )
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            message = self._scrub(_upstream_message(exc))
            return ProviderError(
                f"The provider answered {status}: {message}",
                status=status,
                retryable=is_retryable_status(status),
            )
        # An error event inside a stream, or a body the SDK could not read: the request
        # itself was accepted, so another attempt may well succeed.
        return ProviderError(f"The provider failed: {self._scrub(str(exc))}", retryable=True)

    def _scrub(self, text: str) -> str:
        if self.config.api_key:
            text = text.replace(self.config.api_key, "***")
        return _KEY_LIKE.sub("sk-***", text)[:_MAX_MESSAGE_CHARS]


def _upstream_message(exc: openai.APIStatusError) -> str:
    """The provider's own words: the ``message`` of its error body, else the raw body."""
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message")
        if isinstance(message, str) and message:
            return message
    if isinstance(body, str) and body:
        return body
    return exc.message
