"""OpenAIProvider against a local server that speaks the real OpenAI wire protocol
(gateway.testing.peers): the SDK, HTTP, SSE and failure modes are all real."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing, asynccontextmanager

import httpx2
import openai
import pytest

from gateway.providers.base import ProviderConfig, ProviderError, ProviderTimeout
from gateway.providers.openai import OpenAIProvider
from gateway.testing.peers import PeerServer
from gateway.types import (
    ChatRequest,
    Message,
    StreamEnd,
    StreamEvent,
    TextDelta,
    Tool,
    ToolCallDelta,
    Usage,
)

pytestmark = pytest.mark.anyio

WEATHER = Tool(
    name="get_weather",
    description="Weather for a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def peer_server() -> Iterator[PeerServer]:
    with PeerServer() as server:
        yield server


@pytest.fixture
def peer(peer_server: PeerServer) -> PeerServer:
    peer_server.reset()
    return peer_server


def config(base_url: str, **overrides: object) -> ProviderConfig:
    fields: dict[str, object] = {
        "id": 1,
        "kind": "openai",
        "name": "peer",
        "base_url": base_url,
        "api_key": None,
        "timeout_seconds": 5.0,
        **overrides,
    }
    return ProviderConfig(**fields)  # type: ignore[arg-type]


@asynccontextmanager
async def provider(peer: PeerServer, **overrides: object) -> AsyncIterator[OpenAIProvider]:
    instance = OpenAIProvider(config(f"{peer.base_url}/v1", **overrides))
    try:
        yield instance
    finally:
        await instance.aclose()


def ask(text: str, **fields: object) -> ChatRequest:
    return ChatRequest(messages=[Message(role="user", content=text)], max_tokens=100, **fields)  # type: ignore[arg-type]


async def collect(
    stream: AsyncIterator[StreamEvent], into: list[StreamEvent] | None = None
) -> list[StreamEvent]:
    """Every event, closing the stream however it ends; ``into`` keeps them on failure."""
    events = [] if into is None else into
    async with aclosing(stream):  # type: ignore[type-var]
        async for event in stream:
            events.append(event)
    return events


# --- success ----------------------------------------------------------------------------------


async def test_complete_text(peer: PeerServer) -> None:
    async with provider(peer) as p:
        completion = await p.complete(ask("hello there friend", temperature=0.3), model="peer-gpt")

    assert completion.text == "Echo: hello there friend"
    assert completion.finish_reason == "stop"
    assert completion.usage == Usage(input_tokens=3, output_tokens=4)
    assert completion.model == "peer-gpt"
    assert completion.tool_calls == []
    sent = peer.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.body["model"] == "peer-gpt"
    assert sent.body["max_tokens"] == 100
    assert sent.body["temperature"] == 0.3
    assert "top_p" not in sent.body
    assert sent.headers["authorization"] == "Bearer not-needed"


async def test_complete_length_finish(peer: PeerServer) -> None:
    request = ChatRequest(
        messages=[Message(role="user", content="one two three four five")], max_tokens=2
    )
    async with provider(peer) as p:
        completion = await p.complete(request, model="peer-gpt")

    assert completion.finish_reason == "length"
    assert completion.usage.output_tokens == 2


async def test_complete_tool_call(peer: PeerServer) -> None:
    async with provider(peer) as p:
        completion = await p.complete(ask("please call tool now", tools=[WEATHER]), model="m")

    assert completion.finish_reason == "tool_calls"
    assert len(completion.tool_calls) == 1
    call = completion.tool_calls[0]
    assert call.name == "get_weather"
    assert call.id
    assert json.loads(call.arguments) == {"city": "Paris"}
    assert peer.requests[-1].body["tools"][0]["function"]["name"] == "get_weather"


async def test_api_key_is_sent_as_bearer(peer: PeerServer) -> None:
    peer.set(api_key="sk-peer-secret")
    async with provider(peer, api_key="sk-peer-secret") as p:
        completion = await p.complete(ask("hi"), model="m")

    assert completion.text == "Echo: hi"


async def test_stream_text(peer: PeerServer) -> None:
    async with provider(peer) as p:
        events = await collect(p.stream(ask("stream me some words"), model="peer-gpt"))

    *deltas, end = events
    assert all(isinstance(event, TextDelta) for event in deltas)
    assert "".join(event.text for event in deltas) == "Echo: stream me some words"  # type: ignore[union-attr]
    assert len(deltas) == 5  # one per word
    assert end == StreamEnd(finish_reason="stop", usage=Usage(4, 5), model="peer-gpt")
    sent = peer.requests[-1].body
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}


async def test_stream_tool_call(peer: PeerServer) -> None:
    async with provider(peer) as p:
        events = await collect(p.stream(ask("call tool please", tools=[WEATHER]), model="m"))

    *deltas, end = events
    assert all(isinstance(event, ToolCallDelta) for event in deltas)
    first = deltas[0]
    assert isinstance(first, ToolCallDelta)
    assert first.name == "get_weather"
    assert first.id
    assert {event.index for event in deltas} == {0}  # type: ignore[union-attr]
    arguments = "".join(event.arguments for event in deltas)  # type: ignore[union-attr]
    assert json.loads(arguments) == {"city": "Paris"}
    assert isinstance(end, StreamEnd)
    assert end.finish_reason == "tool_calls"
    assert end.usage.output_tokens > 0


async def test_provider_is_reused_across_calls(peer: PeerServer) -> None:
    async with provider(peer) as p:
        for word in ("one", "two", "three"):
            assert (await p.complete(ask(word), model="m")).text == f"Echo: {word}"
            events = await collect(p.stream(ask(word), model="m"))
            assert isinstance(events[-1], StreamEnd)


# --- failures ---------------------------------------------------------------------------------


async def test_slow_answer_is_a_timeout(peer: PeerServer) -> None:
    peer.set(latency_ms=1500)
    async with provider(peer, timeout_seconds=0.2) as p:
        with pytest.raises(ProviderTimeout) as caught:
            await p.complete(ask("hi"), model="m")

    assert caught.value.retryable is True
    assert caught.value.status == 504


async def test_slow_first_token_is_a_timeout(peer: PeerServer) -> None:
    peer.set(ttft_ms=1500)
    async with provider(peer, timeout_seconds=0.2) as p:
        with pytest.raises(ProviderTimeout):
            await collect(p.stream(ask("hi"), model="m"))


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503])
async def test_retryable_statuses(peer: PeerServer, status: int) -> None:
    peer.set(error_rate=1.0, error_status=status)
    async with provider(peer) as p:
        with pytest.raises(ProviderError) as caught:
            await p.complete(ask("hi"), model="m")

    assert not isinstance(caught.value, ProviderTimeout)
    assert caught.value.status == status
    assert caught.value.retryable is True
    assert f"Injected failure ({status})" in caught.value.message
    assert peer.request_count == 1  # the SDK's own retries are off


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_client_errors_are_not_retryable(peer: PeerServer, status: int) -> None:
    peer.set(error_rate=1.0, error_status=status)
    async with provider(peer) as p:
        with pytest.raises(ProviderError) as caught:
            await p.complete(ask("hi"), model="m")

    assert caught.value.status == status
    assert caught.value.retryable is False


async def test_stream_error_status_is_classified_too(peer: PeerServer) -> None:
    peer.set(error_rate=1.0, error_status=429)
    async with provider(peer) as p:
        with pytest.raises(ProviderError) as caught:
            await collect(p.stream(ask("hi"), model="m"))

    assert (caught.value.status, caught.value.retryable) == (429, True)


async def test_wrong_key_is_not_retryable_and_not_echoed(peer: PeerServer) -> None:
    peer.set(api_key="sk-the-right-one")
    async with provider(peer, api_key="sk-wrong-secret-value") as p:
        with pytest.raises(ProviderError) as caught:
            await p.complete(ask("hi"), model="m")

    assert (caught.value.status, caught.value.retryable) == (401, False)
    assert "sk-wrong-secret-value" not in str(caught.value)
    assert "sk-the-right-one" not in str(caught.value)


def test_upstream_messages_echoing_a_key_are_scrubbed() -> None:
    # Real OpenAI echoes a masked rejected key; nothing of it may reach our logs or clients.
    p = OpenAIProvider(config("http://127.0.0.1:9/v1", api_key="sk-proj-abcdef123456"))
    request = httpx2.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    echoed = "Incorrect API key provided: sk-proj-abcdef123456 (sk-proj-ab***3456)."
    response = httpx2.Response(401, request=request, json={"error": {"message": echoed}})
    upstream = openai.AuthenticationError(
        "Error code: 401", response=response, body={"message": echoed}
    )

    classified = p._classify(upstream)

    assert "abcdef" not in classified.message
    assert "***3456" not in classified.message
    assert "Incorrect API key provided" in classified.message


async def test_dropped_connection_is_retryable(peer: PeerServer) -> None:
    peer.set(fail=True)
    async with provider(peer) as p:
        with pytest.raises(ProviderError) as caught:
            await p.complete(ask("hi"), model="m")

    assert not isinstance(caught.value, ProviderTimeout)
    assert (caught.value.status, caught.value.retryable) == (None, True)


async def test_nothing_listening_is_retryable(peer: PeerServer) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    p = OpenAIProvider(config(f"http://127.0.0.1:{port}/v1"))
    try:
        with pytest.raises(ProviderError) as caught:
            await p.complete(ask("hi"), model="m")
        with pytest.raises(ProviderError):
            await collect(p.stream(ask("hi"), model="m"))
    finally:
        await p.aclose()

    assert (caught.value.status, caught.value.retryable) == (None, True)


async def test_drop_mid_stream_raises_from_the_stream(peer: PeerServer) -> None:
    peer.set(fail_after_tokens=2)
    received: list[StreamEvent] = []
    async with provider(peer) as p:
        with pytest.raises(ProviderError) as caught:
            await collect(p.stream(ask("a b c d e f g"), model="m"), into=received)

    assert [type(event) for event in received] == [TextDelta, TextDelta]
    assert not any(isinstance(event, StreamEnd) for event in received)
    assert caught.value.retryable is True


async def test_early_exit_closes_the_upstream_response(peer: PeerServer) -> None:
    # Paced so the full answer would take ~10 s: leaving must not wait for (or read) it.
    peer.set(tokens_per_second=5, reply=" ".join(["word"] * 50))
    async with provider(peer) as p:
        stream = p.stream(ask("hi"), model="m")
        first = await anext(aiter(stream))
        started = time.monotonic()
        await stream.aclose()  # type: ignore[attr-defined]
        closing_took = time.monotonic() - started

        assert isinstance(first, TextDelta)
        assert closing_took < 1.0
        peer.reset()
        # The provider (and its connection pool) is still fine afterwards.
        assert (await p.complete(ask("again"), model="m")).text == "Echo: again"
