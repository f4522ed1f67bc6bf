"""AnthropicProvider against a local server that speaks Anthropic's wire protocol."""

from __future__ import annotations

import socket
import time
from contextlib import aclosing

import anthropic
import httpx2
import pytest

from gateway.providers.anthropic import AnthropicProvider
from gateway.providers.base import ProviderConfig, ProviderError, ProviderTimeout
from gateway.testing.peers import PeerServer
from gateway.types import (
    ChatRequest,
    Message,
    StreamEnd,
    TextDelta,
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
)

API_KEY = "sk-ant-test-key-123"
WEATHER = Tool(
    name="get_weather",
    description="Weather for a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="module")
def peer():
    with PeerServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_peer(peer):
    peer.reset()


def _config(base_url, *, api_key=API_KEY, timeout=5.0):
    return ProviderConfig(
        id=1, kind="anthropic", name="peer", base_url=base_url, api_key=api_key,
        timeout_seconds=timeout,
    )  # fmt: skip


@pytest.fixture
async def provider(peer):
    instance = AnthropicProvider(_config(peer.base_url))
    yield instance
    await instance.aclose()


def _request(*texts, **options):
    messages = [Message(role="user", content=text) for text in texts]
    return ChatRequest(messages=messages, max_tokens=options.pop("max_tokens", 100), **options)


async def _collect(provider, request, model="peer-claude"):
    async with aclosing(provider.stream(request, model=model)) as events:
        return [event async for event in events]


async def _stream_error(provider, request):
    with pytest.raises(ProviderError) as caught:
        await _collect(provider, request)
    return caught.value


# --- answers ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_complete_text(provider, peer):
    request = ChatRequest(
        messages=[Message(role="system", content="Be brief."),
                  Message(role="user", content="hello big world")],
        max_tokens=100,
        user="user-9",
    )  # fmt: skip
    completion = await provider.complete(request, model="peer-claude")
    assert completion.text == "Echo: hello big world"
    assert completion.finish_reason == "stop"
    assert completion.model == "peer-claude"
    assert completion.tool_calls == []
    # The peer counts words: "Be brief." + "hello big world"; the answer has 4.
    assert (completion.usage.input_tokens, completion.usage.output_tokens) == (5, 4)

    sent = peer.requests[-1]
    assert sent.path == "/v1/messages"
    # SDK 2.x sends the key as a bearer token, not as x-api-key.
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert sent.body["system"] == "Be brief."
    assert sent.body["metadata"] == {"user_id": "user-9"}
    assert not sent.body.get("stream")


@pytest.mark.anyio
async def test_complete_stop_reasons(provider):
    long = await provider.complete(_request("one two three four", max_tokens=2), model="m")
    assert (long.finish_reason, long.usage.output_tokens) == ("length", 2)
    stopped = await provider.complete(_request("say STOP now", stop=["STOP"]), model="m")
    assert (stopped.text, stopped.finish_reason) == ("Echo: say ", "stop")


@pytest.mark.anyio
async def test_complete_tool_use(provider, peer):
    request = _request("please call tool", tools=[WEATHER], tool_choice=ToolChoice(mode="auto"))
    completion = await provider.complete(request, model="peer-claude")
    assert completion.finish_reason == "tool_calls"
    assert completion.text == ""
    [call] = completion.tool_calls
    assert (call.name, call.arguments) == ("get_weather", '{"city": "Paris"}')
    assert call.id.startswith("toolu_")
    sent = peer.requests[-1].body
    assert sent["tools"] == [{"name": "get_weather", "description": "Weather for a city",
                              "input_schema": WEATHER.parameters}]  # fmt: skip
    assert sent["tool_choice"] == {"type": "auto"}


@pytest.mark.anyio
async def test_tool_results_are_sent_as_one_user_turn(provider, peer):
    request = ChatRequest(
        messages=[
            Message(role="user", content="Weather?"),
            Message(role="assistant", content="", tool_calls=[
                ToolCall(id="toolu_1", name="get_weather", arguments='{"city": "Paris"}')]),
            Message(role="tool", content="Sunny", tool_call_id="toolu_1"),
            Message(role="user", content="thanks"),
        ],
        max_tokens=50,
        tools=[WEATHER],
    )  # fmt: skip
    completion = await provider.complete(request, model="peer-claude")
    assert completion.finish_reason == "stop"
    assert [turn["role"] for turn in peer.requests[-1].body["messages"]] == [
        "user", "assistant", "user",
    ]  # fmt: skip
    assert peer.requests[-1].body["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "Sunny"},
        {"type": "text", "text": "thanks"},
    ]


@pytest.mark.anyio
async def test_stream_text(provider, peer):
    events = await _collect(provider, _request("hello big world"))
    *deltas, end = events
    assert all(isinstance(event, TextDelta) for event in deltas)
    assert "".join(event.text for event in deltas) == "Echo: hello big world"
    assert len(deltas) == 4  # one per word
    assert end == StreamEnd(finish_reason="stop", usage=end.usage, model="peer-claude")
    assert (end.usage.input_tokens, end.usage.output_tokens) == (3, 4)
    assert peer.requests[-1].body["stream"] is True


@pytest.mark.anyio
async def test_stream_max_tokens(provider):
    *_, end = await _collect(provider, _request("one two three four", max_tokens=3))
    assert (end.finish_reason, end.usage.output_tokens) == ("length", 3)


@pytest.mark.anyio
async def test_stream_tool_use(provider):
    events = await _collect(provider, _request("now call tool", tools=[WEATHER]))
    first, *fragments, end = events
    assert isinstance(first, ToolCallDelta)
    assert (first.index, first.name) == (0, "get_weather")
    assert first.id
    assert first.id.startswith("toolu_")
    assert all(isinstance(f, ToolCallDelta) and f.index == 0 and f.id is None for f in fragments)
    assert "".join(f.arguments for f in [first, *fragments]) == '{"city": "Paris"}'
    assert isinstance(end, StreamEnd)
    assert end.finish_reason == "tool_calls"
    assert end.usage.output_tokens == len(fragments)


# --- failures --------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("status", [429, 500, 503, 529])
async def test_transient_statuses_are_retryable(provider, peer, status):
    peer.set(error_rate=1.0, error_status=status)
    with pytest.raises(ProviderError) as caught:
        await provider.complete(_request("hi"), model="peer-claude")
    assert (caught.value.status, caught.value.retryable) == (status, True)
    assert str(status) in caught.value.message
    streamed = await _stream_error(provider, _request("hi"))
    assert (streamed.status, streamed.retryable) == (status, True)


@pytest.mark.anyio
@pytest.mark.parametrize("status", [400, 404, 422])
async def test_request_errors_are_not_retryable(provider, peer, status):
    peer.set(error_rate=1.0, error_status=status)
    with pytest.raises(ProviderError) as caught:
        await provider.complete(_request("hi"), model="peer-claude")
    assert (caught.value.status, caught.value.retryable) == (status, False)
    streamed = await _stream_error(provider, _request("hi"))
    assert (streamed.status, streamed.retryable) == (status, False)


@pytest.mark.anyio
async def test_wrong_key_is_not_retryable_and_not_leaked(peer):
    peer.set(api_key="the-right-key")
    wrong = AnthropicProvider(_config(peer.base_url, api_key="sk-ant-wrong-key"))
    try:
        with pytest.raises(ProviderError) as caught:
            await wrong.complete(_request("hi"), model="peer-claude")
    finally:
        await wrong.aclose()
    assert (caught.value.status, caught.value.retryable) == (401, False)
    assert "sk-ant-wrong-key" not in caught.value.message
    assert "invalid x-api-key" in caught.value.message


@pytest.mark.anyio
async def test_missing_key_sends_a_placeholder(peer):
    keyless = AnthropicProvider(_config(peer.base_url, api_key=None))
    try:
        await keyless.complete(_request("hi"), model="peer-claude")
    finally:
        await keyless.aclose()
    assert peer.requests[-1].headers["authorization"] == "Bearer not-needed"


@pytest.mark.anyio
async def test_timeouts(peer):
    slow = AnthropicProvider(_config(peer.base_url, timeout=0.3))
    try:
        peer.set(latency_ms=1500)
        with pytest.raises(ProviderTimeout):
            await slow.complete(_request("hi"), model="peer-claude")
        with pytest.raises(ProviderTimeout):
            await _collect(slow, _request("hi"))
        # Headers and message_start arrive at once, then the first token is late.
        peer.set(latency_ms=0, ttft_ms=1500)
        with pytest.raises(ProviderTimeout) as caught:
            await _collect(slow, _request("hi"))
    finally:
        await slow.aclose()
    assert (caught.value.status, caught.value.retryable) == (504, True)


@pytest.mark.anyio
async def test_dropped_connection_is_retryable(provider, peer):
    peer.set(fail=True)
    with pytest.raises(ProviderError) as caught:
        await provider.complete(_request("hi"), model="peer-claude")
    assert (caught.value.status, caught.value.retryable) == (None, True)
    streamed = await _stream_error(provider, _request("hi"))
    assert (streamed.status, streamed.retryable) == (None, True)


@pytest.mark.anyio
async def test_nothing_listening_is_retryable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        refused = AnthropicProvider(_config(f"http://127.0.0.1:{port}"))
        try:
            with pytest.raises(ProviderError) as caught:
                await refused.complete(_request("hi"), model="peer-claude")
        finally:
            await refused.aclose()
    assert type(caught.value) is ProviderError
    assert (caught.value.status, caught.value.retryable) == (None, True)


@pytest.mark.anyio
async def test_mid_stream_drop_raises_from_the_stream(provider, peer):
    peer.set(fail_after_tokens=2)
    received = []

    async def consume():
        async with aclosing(provider.stream(_request("a b c d e f"), model="m")) as events:
            async for event in events:
                received.append(event)

    with pytest.raises(ProviderError) as caught:
        await consume()
    assert [event.text for event in received] == ["Echo: ", "a "]
    assert (caught.value.status, caught.value.retryable) == (None, True)
    assert not any(isinstance(event, StreamEnd) for event in received)


@pytest.mark.anyio
async def test_early_exit_closes_the_upstream_response(provider, peer, monkeypatch):
    closed = []
    original_close = anthropic.AsyncStream.close

    async def recording_close(self):
        closed.append(self)
        await original_close(self)

    monkeypatch.setattr(anthropic.AsyncStream, "close", recording_close)
    peer.set(tokens_per_second=20)  # 41 words: two seconds if read to the end
    started = time.monotonic()
    async with aclosing(provider.stream(_request(" ".join(["word"] * 40)), model="m")) as events:
        async for event in events:
            assert isinstance(event, TextDelta)
            break
    assert time.monotonic() - started < 1.0
    assert len(closed) == 1
    assert closed[0].response.is_closed
    # The client is still usable afterwards.
    peer.set(tokens_per_second=0)
    assert (await provider.complete(_request("again"), model="m")).text == "Echo: again"


# --- `event: error` inside a 200 stream (the peer does not send these) -----------------


def _sse(*frames):
    return b"".join(f"event: {name}\ndata: {data}\n\n".encode() for name, data in frames)


_MESSAGE_START = (
    "message_start",
    '{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant",'
    '"model":"m","content":[],"stop_reason":null,"stop_sequence":null,'
    '"usage":{"input_tokens":3,"output_tokens":0}}}',
)


async def _provider_answering(body: bytes) -> AnthropicProvider:
    async def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    instance = AnthropicProvider(_config("http://anthropic.invalid"))
    await instance.aclose()
    instance._client = anthropic.AsyncAnthropic(
        api_key=API_KEY, base_url="http://anthropic.invalid", max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)),
    )  # fmt: skip
    return instance


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("error_type", "status", "retryable"),
    [("overloaded_error", 529, True), ("api_error", 500, True),
     ("rate_limit_error", 429, True), ("invalid_request_error", 400, False),
     ("something_new", None, True)],
)  # fmt: skip
async def test_error_event_mid_stream(error_type, status, retryable):
    error = f'{{"type":"error","error":{{"type":"{error_type}","message":"Overloaded"}}}}'
    instance = await _provider_answering(_sse(_MESSAGE_START, ("error", error)))
    try:
        failure = await _stream_error(instance, _request("hi"))
    finally:
        await instance.aclose()
    assert (failure.status, failure.retryable) == (status, retryable)
    assert "Overloaded" in failure.message


@pytest.mark.anyio
async def test_stream_without_message_stop_is_an_error():
    instance = await _provider_answering(_sse(_MESSAGE_START))
    try:
        failure = await _stream_error(instance, _request("hi"))
    finally:
        await instance.aclose()
    assert failure.retryable
    assert "message_stop" in failure.message
