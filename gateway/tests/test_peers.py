"""The local OpenAI / Anthropic peers, driven through the official SDKs: if the SDKs accept
what the peers send, the gateway's tests against them exercise the real wire protocols."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import httpx2
import openai
import pytest

from gateway.testing.peers import PeerBehaviour, PeerServer

WEATHER_OPENAI = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "strict": True,  # the SDK's stream helper only auto-parses strict tools
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}
WEATHER_ANTHROPIC = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


@pytest.fixture(scope="session")
def peer_server() -> Iterator[PeerServer]:
    with PeerServer() as server:
        yield server


@pytest.fixture
def peer(peer_server: PeerServer) -> PeerServer:
    peer_server.reset()
    return peer_server


@pytest.fixture
def oai(peer: PeerServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{peer.base_url}/v1", api_key="k", max_retries=0) as client:
        yield client


@pytest.fixture
def ant(peer: PeerServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=peer.base_url, api_key="k", max_retries=0) as client:
        yield client


@pytest.fixture
def http(peer: PeerServer) -> Iterator[httpx.Client]:
    """Plain HTTP, as another process (a benchmark driver) would talk to the peer."""
    with httpx.Client(base_url=peer.base_url) as client:
        yield client


def user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def sse_events(http: httpx.Client, path: str, body: dict) -> list[tuple[str | None, str]]:
    """(event name, data) pairs exactly as they come over the wire, no SDK in between."""
    events: list[tuple[str | None, str]] = []
    with http.stream("POST", path, json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        name: str | None = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((name, line.removeprefix("data: ")))
                name = None
    return events


# --- OpenAI -----------------------------------------------------------------------------------


def test_openai_completion_has_the_documented_shape(peer, oai):
    raw = oai.chat.completions.with_raw_response.create(
        model="gpt-test",
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "hello there"}]},
        ],
    )
    completion = raw.parse()

    assert raw.headers["x-request-id"].startswith("req_")
    assert raw.headers["request-id"] == raw.headers["x-request-id"]
    assert completion.id.startswith("chatcmpl-")
    assert completion.object == "chat.completion"
    assert completion.model == "gpt-test"
    choice = completion.choices[0]
    assert (choice.index, choice.finish_reason, choice.logprobs) == (0, "stop", None)
    assert choice.message.role == "assistant"
    assert choice.message.content == "Echo: hello there"
    assert choice.message.tool_calls is None
    usage = completion.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (4, 3, 7)


def test_openai_stream_with_usage(oai):
    chunks = list(
        oai.chat.completions.create(
            model="m",
            messages=user("stream these words"),
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert len({chunk.id for chunk in chunks}) == 1
    first, *middle, last_choice, usage_chunk = chunks
    assert first.choices[0].delta.role == "assistant"
    deltas = [chunk.choices[0].delta.content for chunk in middle]
    assert deltas == ["Echo: ", "stream ", "these ", "words"]
    assert last_choice.choices[0].finish_reason == "stop"
    assert usage_chunk.choices == []
    assert (usage_chunk.usage.prompt_tokens, usage_chunk.usage.completion_tokens) == (3, 4)
    assert all(chunk.usage is None for chunk in chunks[:-1])


def test_openai_stream_without_usage_has_no_usage_chunk(oai):
    chunks = list(oai.chat.completions.create(model="m", messages=user("hi"), stream=True))

    assert all(chunk.choices and chunk.usage is None for chunk in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_openai_wire_ends_with_done(http):
    events = sse_events(
        http, "/v1/chat/completions", {"model": "m", "messages": user("hi"), "stream": True}
    )

    assert events[-1] == (None, "[DONE]")
    assert json.loads(events[0][1])["choices"][0]["delta"]["role"] == "assistant"


def test_openai_stream_helper_final_completion(oai):
    with oai.chat.completions.stream(
        model="m", messages=user("helper please"), stream_options={"include_usage": True}
    ) as stream:
        deltas = [event.delta for event in stream if event.type == "content.delta"]
        final = stream.get_final_completion()

    assert "".join(deltas) == "Echo: helper please"
    assert final.choices[0].message.content == "Echo: helper please"
    assert final.choices[0].finish_reason == "stop"
    assert final.usage is not None
    assert final.usage.completion_tokens == 3


def test_openai_tool_call(peer, oai):
    completion = oai.chat.completions.create(
        model="m", messages=user("please call tool now"), tools=[WEATHER_OPENAI]
    )

    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls
    assert call.id.startswith("call_")
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}


def test_openai_tool_call_streamed(oai):
    chunks = list(
        oai.chat.completions.create(
            model="m", messages=user("call tool"), tools=[WEATHER_OPENAI], stream=True
        )
    )
    calls = [c.choices[0].delta.tool_calls[0] for c in chunks if c.choices[0].delta.tool_calls]

    assert calls[0].id
    assert calls[0].function.name == "get_weather"
    assert all(call.index == 0 and call.id is None for call in calls[1:])
    assert json.loads("".join(call.function.arguments for call in calls)) == {"city": "Paris"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"

    with oai.chat.completions.stream(
        model="m", messages=user("call tool"), tools=[WEATHER_OPENAI]
    ) as stream:
        final = stream.get_final_completion()
    (call,) = final.choices[0].message.tool_calls
    assert call.function.parsed_arguments == {"city": "Paris"}


def test_openai_tool_result_is_echoed_not_called_again(oai):
    messages = [
        *user("call tool"),
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny and warm"},
    ]
    completion = oai.chat.completions.create(model="m", messages=messages, tools=[WEATHER_OPENAI])

    assert completion.choices[0].message.content == "Echo: sunny and warm"
    assert completion.choices[0].finish_reason == "stop"


def test_openai_max_tokens_truncates(oai):
    completion = oai.chat.completions.create(
        model="m", messages=user("one two three four"), max_completion_tokens=2
    )

    assert completion.choices[0].message.content == "Echo: one "
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens == 2


def test_openai_stop_sequence_cuts(oai):
    completion = oai.chat.completions.create(
        model="m", messages=user("alpha beta STOP gamma"), stop=["STOP", "gamma"]
    )

    assert completion.choices[0].message.content == "Echo: alpha beta "
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.completion_tokens == 3


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (404, openai.NotFoundError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
    ],
)
def test_openai_error_statuses(peer, oai, status, error_class):
    peer.set(error_rate=1.0, error_status=status)

    with pytest.raises(error_class) as caught:
        oai.chat.completions.create(model="m", messages=user("hi"))

    error = caught.value
    assert error.status_code == status
    assert set(error.body) == {"message", "type", "param", "code"}  # the SDK unwraps "error"
    assert error.response.json()["error"]["message"] == f"Injected failure ({status})."
    assert error.request_id.startswith("req_")


def test_openai_429_carries_retry_after(peer, oai):
    peer.set(error_rate=1.0, error_status=429, retry_after_ms=2500)

    with pytest.raises(openai.RateLimitError) as caught:
        oai.chat.completions.create(model="m", messages=user("hi"), stream=True)

    assert caught.value.response.headers["retry-after"] == "3"
    assert caught.value.response.headers["retry-after-ms"] == "2500"
    assert (caught.value.code, caught.value.type) == ("rate_limit_exceeded", "requests")


def test_openai_api_key(peer):
    peer.set(api_key="sk-right")
    right = openai.OpenAI(base_url=f"{peer.base_url}/v1", api_key="sk-right", max_retries=0)
    wrong = openai.OpenAI(base_url=f"{peer.base_url}/v1", api_key="sk-wrong", max_retries=0)

    assert right.chat.completions.create(model="m", messages=user("hi")).choices
    with pytest.raises(openai.AuthenticationError) as caught:
        wrong.chat.completions.create(model="m", messages=user("hi"))
    assert caught.value.code == "invalid_api_key"


def test_openai_models(peer, oai):
    assert [model.id for model in oai.models.list()] == ["peer-gpt", "peer-claude"]
    assert oai.models.retrieve("peer-gpt").owned_by == "peer"
    with pytest.raises(openai.NotFoundError):
        oai.models.retrieve("nope")


def test_embeddings_are_deterministic_unit_vectors(peer, oai):
    # The SDK asks for base64 unless told otherwise and decodes it itself.
    first = oai.embeddings.create(model="emb", input=["red apple", "green pear"])
    again = oai.embeddings.create(model="emb", input="red apple", encoding_format="float")

    vectors = [item.embedding for item in first.data]
    assert [item.index for item in first.data] == [0, 1]
    assert all(len(v) == 8 for v in vectors)
    assert all(math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-5) for v in vectors)
    assert vectors[0] != vectors[1]
    assert again.data[0].embedding == pytest.approx(vectors[0], rel=1e-6)
    assert first.usage.prompt_tokens == 4

    peer.set(embedding_dim=16)
    assert len(oai.embeddings.create(model="emb", input="x").data[0].embedding) == 16
    assert len(oai.embeddings.create(model="emb", input="x", dimensions=4).data[0].embedding) == 4


# --- Anthropic --------------------------------------------------------------------------------


def test_anthropic_message_has_the_documented_shape(ant):
    raw = ant.messages.with_raw_response.create(
        model="claude-test",
        max_tokens=100,
        system="be brief",
        messages=[{"role": "user", "content": [{"type": "text", "text": "hello there"}]}],
    )
    message = raw.parse()

    assert raw.headers["request-id"].startswith("req_")
    assert message.id.startswith("msg_")
    assert (message.type, message.role, message.model) == ("message", "assistant", "claude-test")
    assert message.content[0].type == "text"
    assert message.content[0].text == "Echo: hello there"
    assert (message.stop_reason, message.stop_sequence) == ("end_turn", None)
    assert (message.usage.input_tokens, message.usage.output_tokens) == (4, 3)


def test_anthropic_wire_events_are_named_as_documented(http):
    body = {"model": "c", "max_tokens": 50, "messages": user("two words"), "stream": True}
    events = sse_events(http, "/v1/messages", body)

    names = [name for name, _ in events]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        *["content_block_delta"] * 3,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(json.loads(data)["type"] == name for name, data in events)
    start = json.loads(events[0][1])["message"]
    assert start["content"] == []
    assert start["usage"]["input_tokens"] == 2
    delta = json.loads(events[-2][1])
    assert delta["delta"]["stop_reason"] == "end_turn"
    assert delta["usage"]["output_tokens"] == 3


def test_anthropic_raw_stream(ant):
    events = list(
        ant.messages.create(model="c", max_tokens=50, messages=user("raw stream"), stream=True)
    )

    texts = [e.delta.text for e in events if e.type == "content_block_delta"]
    assert "".join(texts) == "Echo: raw stream"
    assert events[0].type == "message_start"
    assert events[-1].type == "message_stop"


def test_anthropic_stream_helper_final_message(ant):
    with ant.messages.stream(model="c", max_tokens=50, messages=user("helper please")) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()

    assert text == "Echo: helper please"
    assert final.content[0].text == text
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (2, 3)


def test_anthropic_tool_use(ant):
    message = ant.messages.create(
        model="c", max_tokens=50, messages=user("call tool please"), tools=[WEATHER_ANTHROPIC]
    )

    assert message.stop_reason == "tool_use"
    (block,) = message.content
    assert block.type == "tool_use"
    assert block.id.startswith("toolu_")
    assert (block.name, block.input) == ("get_weather", {"city": "Paris"})


def test_anthropic_tool_use_streamed(ant):
    with ant.messages.stream(
        model="c", max_tokens=50, messages=user("call tool"), tools=[WEATHER_ANTHROPIC]
    ) as stream:
        events = list(stream)
        final = stream.get_final_message()

    start = next(e for e in events if e.type == "content_block_start")
    assert start.content_block.type == "tool_use"
    fragments = [e.partial_json for e in events if e.type == "input_json"]
    assert len(fragments) > 1
    assert json.loads("".join(fragments)) == {"city": "Paris"}
    assert final.stop_reason == "tool_use"
    assert final.content[0].input == {"city": "Paris"}


def test_anthropic_tool_result_is_echoed(ant):
    messages = [
        *user("call tool"),
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "get_weather", "input": {}}],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "rainy"}],
        },
    ]
    message = ant.messages.create(
        model="c", max_tokens=50, messages=messages, tools=[WEATHER_ANTHROPIC]
    )

    assert message.content[0].text == "Echo: rainy"


def test_anthropic_max_tokens_and_stop_sequences(ant):
    cut = ant.messages.create(model="c", max_tokens=2, messages=user("one two three"))
    stopped = ant.messages.create(
        model="c", max_tokens=50, messages=user("one END two"), stop_sequences=["END"]
    )

    assert (cut.content[0].text, cut.stop_reason) == ("Echo: one ", "max_tokens")
    assert cut.usage.output_tokens == 2
    assert stopped.content[0].text == "Echo: one "
    assert (stopped.stop_reason, stopped.stop_sequence) == ("stop_sequence", "END")

    with ant.messages.stream(
        model="c", max_tokens=50, messages=user("one END two"), stop_sequences=["END"]
    ) as stream:
        final = stream.get_final_message()
    assert (final.stop_reason, final.stop_sequence) == ("stop_sequence", "END")


@pytest.mark.parametrize(
    ("status", "error_class", "error_type"),
    [
        (400, anthropic.BadRequestError, "invalid_request_error"),
        (401, anthropic.AuthenticationError, "authentication_error"),
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (500, anthropic.InternalServerError, "api_error"),
        (529, anthropic.OverloadedError, "overloaded_error"),
    ],
)
def test_anthropic_error_statuses(peer, ant, status, error_class, error_type):
    peer.set(error_rate=1.0, error_status=status)

    with pytest.raises(error_class) as caught:
        ant.messages.create(model="c", max_tokens=10, messages=user("hi"))

    assert caught.value.status_code == status
    assert caught.value.body["type"] == "error"
    assert caught.value.body["error"]["type"] == error_type
    assert caught.value.request_id.startswith("req_")
    if status == 429:
        assert caught.value.response.headers["retry-after"] == "1"


def test_anthropic_api_key(peer, http):
    peer.set(api_key="sk-ant-right")
    right = anthropic.Anthropic(base_url=peer.base_url, api_key="sk-ant-right", max_retries=0)
    wrong = anthropic.Anthropic(base_url=peer.base_url, api_key="sk-ant-wrong", max_retries=0)

    assert right.messages.create(model="c", max_tokens=10, messages=user("hi")).content
    with pytest.raises(anthropic.AuthenticationError) as caught:
        wrong.messages.create(model="c", max_tokens=10, messages=user("hi"))
    assert caught.value.response.json()["error"]["type"] == "authentication_error"
    # The SDK sends the key as a Bearer token; the documented x-api-key header works too.
    assert peer.requests[0].headers["authorization"] == "Bearer sk-ant-right"
    body = {"model": "c", "max_tokens": 5, "messages": user("hi")}
    by_header = http.post("/v1/messages", json=body, headers={"x-api-key": "sk-ant-right"})
    assert by_header.status_code == 200


def test_anthropic_models_and_token_count(ant):
    assert [model.id for model in ant.models.list()] == ["peer-gpt", "peer-claude"]
    assert ant.messages.count_tokens(model="c", messages=user("three words here")).input_tokens == 3


def test_invalid_requests_answer_in_each_api_shape(http):
    missing = http.post("/v1/messages", json={"model": "c", "messages": user("x")})
    not_json = http.post("/v1/chat/completions", content=b"{nope")
    unknown = http.get("/v1/nothing")

    assert missing.status_code == 400
    assert missing.json()["error"] == {
        "type": "invalid_request_error",
        "message": "max_tokens: Field required",
    }
    assert not_json.status_code == 400
    assert not_json.json()["error"]["type"] == "invalid_request_error"
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == "Invalid URL (GET /v1/nothing)"


# --- failures and timing ----------------------------------------------------------------------


def test_hard_failure_drops_the_connection(peer, oai, ant):
    peer.set(fail=True)

    with pytest.raises(openai.APIConnectionError):
        oai.chat.completions.create(model="m", messages=user("hi"))
    with pytest.raises(anthropic.APIConnectionError):
        ant.messages.create(model="c", max_tokens=10, messages=user("hi"))
    assert peer.request_count == 2
    assert peer.stats()["dropped"] == 2


def test_drop_mid_stream_raises_while_iterating(peer, oai, ant):
    peer.set(fail_after_tokens=2)

    received: list[str] = []

    def read_openai() -> None:
        stream = oai.chat.completions.create(model="m", messages=user("a b c d e"), stream=True)
        received.extend(chunk.choices[0].delta.content for chunk in stream)

    with pytest.raises(openai.APIConnectionError):
        read_openai()
    assert received == ["", "Echo: ", "a "]  # the role chunk, then two tokens

    texts: list[str] = []
    # The Anthropic SDK does not wrap transport errors raised while reading a stream: the
    # raw httpx2 error escapes (the OpenAI SDK turns it into APIConnectionError).
    with (
        pytest.raises(httpx2.RemoteProtocolError),
        ant.messages.stream(model="c", max_tokens=50, messages=user("a b c d e")) as stream,
    ):
        texts.extend(stream.text_stream)
    assert texts == ["Echo: ", "a "]


def test_latency_delays_the_answer(peer, oai):
    peer.set(latency_ms=200)

    started = time.monotonic()
    oai.chat.completions.create(model="m", messages=user("hi"))

    assert time.monotonic() - started >= 0.18


def test_ttft_delays_the_first_token(peer, oai, ant):
    peer.set(ttft_ms=200)

    started = time.monotonic()
    stream = oai.chat.completions.create(model="m", messages=user("hi"), stream=True)
    next(iter(stream))
    assert time.monotonic() - started >= 0.18
    stream.close()

    started = time.monotonic()
    with ant.messages.stream(model="c", max_tokens=10, messages=user("hi")) as events:
        next(iter(events.text_stream))
        assert time.monotonic() - started >= 0.18


def test_tokens_per_second_paces_the_stream(peer, oai):
    peer.set(tokens_per_second=20, reply="one two three four five six")

    started = time.monotonic()
    list(oai.chat.completions.create(model="m", messages=user("hi"), stream=True))

    assert time.monotonic() - started >= 0.2  # 5 gaps of 50 ms after the first token


def test_error_rate_is_repeatable(peer, oai):
    def outcomes() -> list[bool]:
        results = []
        for _ in range(20):
            try:
                oai.chat.completions.create(model="m", messages=user("hi"))
                results.append(True)
            except openai.InternalServerError:
                results.append(False)
        return results

    peer.set(error_rate=0.5, seed=7)
    first = outcomes()
    peer.set(seed=7)
    assert outcomes() == first
    assert 0 < first.count(False) < 20


# --- control, records, async ------------------------------------------------------------------


def test_behaviour_over_http_from_another_process(peer, oai, http):
    control = "/_peer"

    changed = http.post(f"{control}/behaviour", json={"reply": "from afar", "latency_ms": 5})
    assert changed.status_code == 200
    assert changed.json()["reply"] == "from afar"
    assert http.get(f"{control}/behaviour").json()["latency_ms"] == 5
    assert peer.behaviour.reply == "from afar"
    assert oai.chat.completions.create(model="m", messages=user("x")).choices[
        0
    ].message.content == ("from afar")

    rejected = http.post(f"{control}/behaviour", json={"error_rate": 3, "bogus": 1})
    assert rejected.status_code == 400
    assert "bogus" in rejected.json()["error"]
    rejected = http.post(f"{control}/behaviour", json={"error_rate": 3})
    assert rejected.status_code == 400
    assert peer.behaviour.error_rate == 0.0

    stats = http.get(f"{control}/stats").json()
    assert stats["paths"] == {"/v1/chat/completions": 1}
    assert stats["statuses"] == {"200": 1}
    assert len(http.get(f"{control}/requests").json()) == 1

    assert http.post(f"{control}/reset").json()["reply"] is None
    assert peer.request_count == 0


def test_requests_are_recorded(peer, oai):
    oai.chat.completions.create(model="m", messages=user("record me"), temperature=0.5)

    assert peer.request_count == 1
    (recorded,) = peer.requests
    assert (recorded.method, recorded.path) == ("POST", "/v1/chat/completions")
    assert recorded.headers["authorization"] == "Bearer k"
    assert recorded.headers["content-type"] == "application/json"
    assert recorded.body["messages"] == user("record me")
    assert recorded.body["temperature"] == 0.5


def test_model_name_override(peer, oai, ant):
    peer.set(model_name_override="gpt-4o-2024-08-06")

    assert oai.chat.completions.create(model="gpt-4o", messages=user("x")).model == (
        "gpt-4o-2024-08-06"
    )
    assert ant.messages.create(model="c", max_tokens=5, messages=user("x")).model == (
        "gpt-4o-2024-08-06"
    )


def test_behaviour_is_validated():
    with pytest.raises(ValueError, match="error_rate"):
        PeerBehaviour(error_rate=2)
    server = PeerServer(PeerBehaviour(reply="fixed"))
    with pytest.raises(ValueError, match="unknown behaviour fields: nope"):
        server.set(nope=1)
    server.set(reply="changed")
    server.reset()
    assert server.behaviour.reply == "fixed"  # reset restores the constructed behaviour


def test_async_clients_and_concurrency(peer):
    async def scenario() -> None:
        oai = openai.AsyncOpenAI(base_url=f"{peer.base_url}/v1", api_key="k", max_retries=0)
        ant = anthropic.AsyncAnthropic(base_url=peer.base_url, api_key="k", max_retries=0)

        async def openai_stream(i: int) -> str:
            stream = await oai.chat.completions.create(
                model="m", messages=user(f"n {i}"), stream=True
            )
            return "".join([c.choices[0].delta.content or "" async for c in stream])

        async def anthropic_stream(i: int) -> str:
            async with ant.messages.stream(model="c", max_tokens=9, messages=user(f"n {i}")) as s:
                return await s.get_final_text()

        texts = await asyncio.gather(
            *(openai_stream(i) for i in range(16)), *(anthropic_stream(i) for i in range(16))
        )
        assert texts == [f"Echo: n {i}" for i in range(16)] * 2
        await oai.close()
        await ant.close()

    peer.set(tokens_per_second=200)
    asyncio.run(scenario())
    assert peer.request_count == 32


def test_server_starts_fast_and_stops():
    started = time.monotonic()
    with PeerServer() as server:
        assert time.monotonic() - started < 1.0
        assert httpx.get(f"{server.base_url}/_peer/stats").status_code == 200
    with pytest.raises(RuntimeError):
        _ = server.base_url
