"""OpenAI and every server that speaks its Chat Completions API (vLLM, Ollama, llama.cpp,
Gemini's compatible endpoint), through the official async SDK.

One SDK client per provider instance: it owns an HTTP connection pool, and the gateway
keeps providers alive across requests, so connections (and TLS sessions) are reused.

Calls go through the SDK's documented generic ``client.post(path, body=..., cast_to=object)``
rather than ``chat.completions.create``: the same client, headers, auth, timeouts and
error classes (``openai.APIStatusError`` ...), without the two costs ``create`` adds on
every call, which the gateway does not need: walking the arguments through the SDK's
typed-dict transform (our wire module already built plain JSON) and building pydantic
``ChatCompletion`` models from the answer (we read four fields of it). Measured on the
benchmark's peer: 1.9 -> 1.2 ms of CPU per call (bench/sdk_ceiling.py, docs/benchmarks.md).
Streams use the SDK's own ``AsyncStream`` (SSE parsing, error events) with dict chunks.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any, cast

import openai
from openai import AsyncStream

from gateway.providers.base import (
    Provider,
    ProviderConfig,
    ProviderError,
    ProviderTimeout,
    is_retryable_status,
)
from gateway.types import (
    ChatRequest,
    Completion,
    StreamEvent,
)
from gateway.wire.openai import ChunkDecoder, completion_from_json, to_openai_params

# Upstream bodies can be whole HTML error pages from a proxy; keep messages readable.
_MAX_MESSAGE_CHARS = 500
# OpenAI echoes a masked rejected key ("sk-proj-abc***xyz"); drop even the fragments.
_KEY_LIKE = re.compile(r"sk-[A-Za-z0-9_*\-]{4,}")
_PATH = "/chat/completions"


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
            response = await self._post(params, stream=False)
        except openai.OpenAIError as exc:
            raise self._classify(exc) from exc
        if not isinstance(response, dict) or not isinstance(response.get("choices", []), list):
            # The SDK hands back the raw text when a 200 is not JSON (a proxy's HTML page).
            raise ProviderError("The provider's answer was not a chat completion.", retryable=True)
        return completion_from_json(response)

    async def stream(self, request: ChatRequest, *, model: str) -> AsyncIterator[StreamEvent]:
        params = to_openai_params(request, model=model, stream=True)
        decoder = ChunkDecoder()
        try:
            upstream = cast(AsyncStream[object], await self._post(params, stream=True))
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

    async def _post(self, params: dict[str, object], *, stream: bool) -> object:
        # cast_to=object: the SDK returns the decoded JSON (dicts) instead of models.
        post: Any = self._client.post
        if stream:
            return await post(
                _PATH, body=params, cast_to=object, stream=True, stream_cls=AsyncStream[object]
            )
        return await post(_PATH, body=params, cast_to=object)

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
