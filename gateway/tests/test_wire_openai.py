"""The OpenAI wire format: parsing client bodies, rendering answers and stream frames, and
the upstream direction. Rendered output is checked with the OpenAI SDK's own models, so
"it parses in the official client" is what the tests assert, not our idea of the shape."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk, completion_create_params
from pydantic import TypeAdapter

from core.errors import GatewayTimeout, TooManyRequests, ValidationFailed
from gateway.types import (
    ChatRequest,
    Completion,
    Message,
    StreamEnd,
    TextDelta,
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    Usage,
)
from gateway.wire.openai import (
    ChatStreamEncoder,
    ChunkDecoder,
    OpenAIChatCall,
    completion_from_json,
    error_status,
    parse_chat_request,
    render_completion,
    render_error,
    render_model,
    render_model_list,
    to_openai_params,
)

LIMITS = {"max_tokens_ceiling": 4096, "default_max_tokens": 512, "max_messages": 8}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def parse(body: object, **limits: int) -> OpenAIChatCall:
    return parse_chat_request(body, **{**LIMITS, **limits})


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "gpt-test", "messages": [{"role": "user", "content": "Hi"}], **fields}


def tool_conversation() -> list[dict[str, Any]]:
    return [
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "18C, sunny"},
    ]


# --- parsing: valid bodies -----------------------------------------------------------------


def test_minimal_body_gets_defaults():
    call = parse(body())

    assert call.model == "gpt-test"
    assert call.stream is False
    assert call.include_usage is False
    assert call.pipeline is None
    assert call.collections == []
    request = call.request
    assert request.messages == [Message(role="user", content="Hi")]
    assert request.max_tokens == 512
    assert request.temperature is None
    assert request.top_p is None
    assert request.stop == []
    assert request.tools == []
    assert request.tool_choice is None


def test_full_body_with_tools_and_sampling():
    call = parse(
        body(
            messages=tool_conversation(),
            stream=True,
            stream_options={"include_usage": True},
            max_tokens=100,
            temperature=0.2,
            top_p=0.9,
            stop="END",
            n=1,
            tools=[WEATHER_TOOL],
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
            response_format={"type": "json_object"},
            user="user-42",
            pipeline="rag",
            collections=["handbook", "faq"],
            # Fields we do not use are ignored, not rejected.
            seed=7,
            frequency_penalty=0.5,
            logit_bias={"50256": -100},
        )
    )

    assert call.stream is True
    assert call.include_usage is True
    assert call.pipeline == "rag"
    assert call.collections == ["handbook", "faq"]
    request = call.request
    assert [m.role for m in request.messages] == ["system", "user", "assistant", "tool"]
    assert request.system_text == "Be brief."
    assert request.messages[2].tool_calls == [
        ToolCall(id="call_1", name="get_weather", arguments='{"city":"Paris"}')
    ]
    assert request.messages[2].content == ""
    assert request.messages[3].tool_call_id == "call_1"
    assert request.messages[3].content == "18C, sunny"
    assert request.max_tokens == 100
    assert request.temperature == 0.2
    assert request.top_p == 0.9
    assert request.stop == ["END"]
    assert request.tools == [
        Tool(
            name="get_weather",
            description="Weather for a city",
            parameters={"type": "object", "properties": {"city": {"type": "string"}}},
        )
    ]
    assert request.tool_choice == ToolChoice(mode="tool", name="get_weather")
    assert request.response_format == {"type": "json_object"}
    assert request.user == "user-42"


def test_text_parts_are_joined():
    parts = [{"type": "text", "text": "Hello, "}, {"type": "text", "text": "world"}]
    call = parse(body(messages=[{"role": "user", "content": parts}]))

    assert call.request.last_user_text == "Hello, world"


def test_max_completion_tokens_wins_over_max_tokens():
    assert parse(body(max_tokens=50, max_completion_tokens=70)).request.max_tokens == 70


def test_tool_without_description_or_parameters_gets_empty_schema():
    call = parse(body(tools=[{"type": "function", "function": {"name": "now"}}]))

    assert call.request.tools == [
        Tool(name="now", description="", parameters={"type": "object", "properties": {}})
    ]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", ToolChoice(mode="auto")),
        ("none", ToolChoice(mode="none")),
        ("required", ToolChoice(mode="required")),
    ],
)
def test_tool_choice_modes(choice, expected):
    assert parse(body(tools=[WEATHER_TOOL], tool_choice=choice)).request.tool_choice == expected


def test_include_usage_only_counts_when_streaming():
    assert parse(body(stream_options={"include_usage": True})).include_usage is False


def test_harmless_tool_choice_without_tools_is_dropped():
    assert parse(body(tool_choice="auto")).request.tool_choice is None


# --- parsing: invalid bodies ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad_body", "param"),
    [
        pytest.param({"messages": [{"role": "user", "content": "x"}]}, "model", id="no-model"),
        pytest.param(body(model=""), "model", id="empty-model"),
        pytest.param(body(model=5), "model", id="model-not-string"),
        pytest.param(body(messages=[]), "messages", id="no-messages"),
        pytest.param(body(messages="hi"), "messages", id="messages-not-list"),
        pytest.param(
            body(messages=[{"role": "user", "content": "a"}] * 9), "messages", id="too-many"
        ),
        pytest.param(
            body(messages=[{"role": "user", "content": "a"}, {"role": "robot", "content": "b"}]),
            "messages[1].role",
            id="bad-role",
        ),
        pytest.param(body(messages=[{"content": "a"}]), "messages[0].role", id="no-role"),
        pytest.param(
            body(messages=[{"role": "user", "content": 5}]), "messages[0].content", id="num"
        ),
        pytest.param(body(messages=[{"role": "user"}]), "messages[0].content", id="no-content"),
        pytest.param(
            body(messages=[{"role": "user", "content": [{"type": "text"}]}]),
            "messages[0].content",
            id="part-without-text",
        ),
        pytest.param(
            body(messages=[{"role": "tool", "content": "x", "tool_call_id": "nope"}]),
            "messages[0].tool_call_id",
            id="orphan-tool-result",
        ),
        pytest.param(
            body(messages=[{"role": "tool", "content": "x"}]),
            "messages[0].tool_call_id",
            id="tool-without-id",
        ),
        pytest.param(
            body(
                messages=[
                    {
                        "role": "user",
                        "content": "x",
                        "tool_calls": tool_conversation()[2]["tool_calls"],
                    }
                ]
            ),
            "messages[0].tool_calls",
            id="user-with-tool-calls",
        ),
        pytest.param(
            body(
                messages=[
                    {
                        "role": "assistant",
                        "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f"}}],
                    }
                ]
            ),
            "messages[0].tool_calls[0].function.arguments",
            id="tool-call-without-arguments",
        ),
        pytest.param(body(max_tokens=0), "max_tokens", id="max-tokens-zero"),
        pytest.param(body(max_tokens="100"), "max_tokens", id="max-tokens-string"),
        pytest.param(body(max_tokens=1.5), "max_tokens", id="max-tokens-float"),
        pytest.param(body(temperature=2.5), "temperature", id="temperature-high"),
        pytest.param(body(temperature=-0.1), "temperature", id="temperature-negative"),
        pytest.param(body(top_p=1.5), "top_p", id="top-p-high"),
        pytest.param(body(stop=["a", "b", "c", "d", "e"]), "stop", id="five-stops"),
        pytest.param(body(stop=5), "stop", id="stop-number"),
        pytest.param(body(n=2), "n", id="n-two"),
        pytest.param(body(stream="yes"), "stream", id="stream-string"),
        pytest.param(
            body(stream=True, stream_options={"include_usage": "yes"}),
            "stream_options.include_usage",
            id="include-usage-string",
        ),
        pytest.param(
            body(tools=[{"type": "custom", "custom": {"name": "x"}}]),
            "tools[0].type",
            id="custom-tool",
        ),
        pytest.param(
            body(tools=[{"type": "function", "function": {"name": "bad name!"}}]),
            "tools[0].function.name",
            id="tool-name",
        ),
        pytest.param(body(tools=[WEATHER_TOOL], tool_choice="always"), "tool_choice", id="tc"),
        pytest.param(body(tool_choice="required"), "tool_choice", id="tool-choice-no-tools"),
        pytest.param(
            body(tools=[WEATHER_TOOL], tool_choice={"type": "function", "function": {}}),
            "tool_choice",
            id="tool-choice-no-name",
        ),
        pytest.param(
            body(
                tools=[WEATHER_TOOL],
                tool_choice={"type": "function", "function": {"name": "other"}},
            ),
            "tool_choice.function.name",
            id="tool-choice-unknown-tool",
        ),
        pytest.param(body(response_format="json"), "response_format", id="response-format"),
        pytest.param(body(user=12), "user", id="user-number"),
        pytest.param(body(pipeline="magic"), "pipeline", id="pipeline"),
        pytest.param(body(collections="handbook"), "collections", id="collections-string"),
        pytest.param(body(collections=[""]), "collections[0]", id="collection-empty-name"),
    ],
)
def test_invalid_body_names_the_field(bad_body, param):
    with pytest.raises(ValidationFailed) as caught:
        parse(bad_body)

    assert caught.value.param == param
    assert caught.value.status_code == 400
    assert caught.value.message


@pytest.mark.parametrize("part_type", ["image_url", "input_audio", "file"])
def test_media_parts_are_not_supported(part_type):
    part = {"type": part_type, part_type: {"url": "https://example.com/cat.png"}}
    bad = body(
        messages=[
            {"role": "user", "content": "a"},
            {"role": "user", "content": [{"type": "text", "text": "Look"}, part]},
        ]
    )

    with pytest.raises(ValidationFailed, match="not supported") as caught:
        parse(bad)

    assert caught.value.param == "messages[1].content"


@pytest.mark.parametrize("not_an_object", [None, [], "text", 3])
def test_body_must_be_an_object(not_an_object):
    with pytest.raises(ValidationFailed, match="JSON object"):
        parse(not_an_object)


def test_max_tokens_above_ceiling_names_the_limit():
    with pytest.raises(ValidationFailed, match="4096") as caught:
        parse(body(max_tokens=5000))

    assert caught.value.param == "max_tokens"


def test_missing_field_message_is_readable():
    with pytest.raises(ValidationFailed) as caught:
        parse({"messages": [{"role": "user", "content": "x"}]})

    assert caught.value.message == "Missing required parameter: 'model'."


# --- rendering completions -----------------------------------------------------------------


def completion(**fields: Any) -> Completion:
    defaults: dict[str, Any] = {
        "text": "Hello there",
        "finish_reason": "stop",
        "usage": Usage(input_tokens=12, output_tokens=3),
        "model": "upstream-model",
    }
    return Completion(**{**defaults, **fields})


def test_render_completion_is_a_valid_chat_completion():
    rendered = render_completion(
        completion(), response_id="chatcmpl-1", model="gpt-test", created=1700000000
    )

    parsed = ChatCompletion.model_validate(rendered)
    assert parsed.id == "chatcmpl-1"
    assert parsed.model == "gpt-test"
    assert parsed.created == 1700000000
    assert parsed.choices[0].message.content == "Hello there"
    assert parsed.choices[0].message.tool_calls is None
    assert parsed.choices[0].finish_reason == "stop"
    assert parsed.usage is not None
    assert parsed.usage.prompt_tokens == 12
    assert parsed.usage.completion_tokens == 3
    assert parsed.usage.total_tokens == 15
    assert rendered["system_fingerprint"] is None


def test_render_completion_with_tool_calls_has_null_content():
    calls = [ToolCall(id="call_1", name="get_weather", arguments='{"city":"Paris"}')]
    rendered = render_completion(
        completion(text="", tool_calls=calls, finish_reason="tool_calls"),
        response_id="chatcmpl-2",
        model="gpt-test",
        created=1,
    )

    message = ChatCompletion.model_validate(rendered).choices[0].message
    assert message.content is None
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    assert call.type == "function"
    assert call.id == "call_1"
    assert call.function.name == "get_weather"
    assert call.function.arguments == '{"city":"Paris"}'


def test_render_completion_merges_extra_at_top_level():
    rendered = render_completion(
        completion(),
        response_id="chatcmpl-3",
        model="gpt-test",
        created=1,
        extra={"x_gateway": {"pipeline": "direct"}, "citations": []},
    )

    assert rendered["x_gateway"] == {"pipeline": "direct"}
    assert rendered["citations"] == []
    ChatCompletion.model_validate(rendered)


# --- stream frames -------------------------------------------------------------------------


def frames(data: bytes) -> list[str]:
    """Split SSE bytes into data payloads, asserting every frame is well-formed."""
    assert data.endswith(b"\n\n") or data == b""
    payloads = []
    for frame in data.decode().split("\n\n")[:-1]:
        assert frame.startswith("data: ")
        assert "\n" not in frame
        payloads.append(frame.removeprefix("data: "))
    return payloads


def chunks(data: bytes) -> list[ChatCompletionChunk]:
    return [ChatCompletionChunk.model_validate(json.loads(p)) for p in frames(data)]


def encoder(include_usage: bool = False) -> ChatStreamEncoder:
    return ChatStreamEncoder(
        response_id="chatcmpl-9", model="gpt-test", created=1700000000, include_usage=include_usage
    )


def test_text_stream_frames():
    enc = encoder()
    out = enc.encode(TextDelta("Hel")) + enc.encode(TextDelta("lo"))
    out += enc.encode(StreamEnd(finish_reason="stop", usage=Usage(5, 2), model="m"))
    parsed = chunks(out)

    assert [c.choices[0].delta.role for c in parsed] == ["assistant", None, None, None]
    assert [c.choices[0].delta.content for c in parsed] == ["", "Hel", "lo", None]
    assert [c.choices[0].finish_reason for c in parsed] == [None, None, None, "stop"]
    assert {(c.id, c.model, c.created, c.object) for c in parsed} == {
        ("chatcmpl-9", "gpt-test", 1700000000, "chat.completion.chunk")
    }
    assert all(c.usage is None for c in parsed)
    assert b": " not in out.replace(b"data: ", b"")  # compact JSON


def test_usage_chunk_when_requested():
    enc = encoder(include_usage=True)
    enc.encode(TextDelta("Hi"))
    parsed = chunks(enc.encode(StreamEnd(finish_reason="length", usage=Usage(7, 4), model="m")))

    assert parsed[0].choices[0].finish_reason == "length"
    assert parsed[1].choices == []
    assert parsed[1].usage is not None
    assert (parsed[1].usage.prompt_tokens, parsed[1].usage.completion_tokens) == (7, 4)
    assert parsed[1].usage.total_tokens == 11


def test_empty_stream_still_starts_with_role():
    parsed = chunks(encoder().encode(StreamEnd(finish_reason="stop", usage=Usage(), model="m")))

    assert parsed[0].choices[0].delta.role == "assistant"
    assert parsed[1].choices[0].finish_reason == "stop"


def test_empty_text_delta_emits_nothing_after_start():
    enc = encoder()
    enc.encode(TextDelta("a"))

    assert enc.encode(TextDelta("")) == b""


def test_tool_call_stream_frames():
    enc = encoder()
    out = enc.encode(ToolCallDelta(index=1, id="call_1", name="get_weather", arguments=""))
    out += enc.encode(ToolCallDelta(index=1, arguments='{"city":'))
    out += enc.encode(ToolCallDelta(index=1, arguments='"Paris"}'))
    out += enc.encode(ToolCallDelta(index=3, id="call_2", name="get_time", arguments="{}"))
    out += enc.encode(StreamEnd(finish_reason="tool_calls", usage=Usage(1, 1), model="m"))
    parsed = chunks(out)[1:]  # after the role chunk

    calls = [c.choices[0].delta.tool_calls[0] for c in parsed[:4]]  # type: ignore[index]
    # Renumbered 0, 1 in order of appearance, whatever the provider's indices were.
    assert [c.index for c in calls] == [0, 0, 0, 1]
    assert [c.id for c in calls] == ["call_1", None, None, "call_2"]
    assert [c.type for c in calls] == ["function", None, None, "function"]
    assert [c.function.name for c in calls] == ["get_weather", None, None, "get_time"]  # type: ignore[union-attr]
    arguments = "".join(c.function.arguments for c in calls[:3])  # type: ignore[union-attr,misc]
    assert json.loads(arguments) == {"city": "Paris"}
    assert parsed[4].choices[0].finish_reason == "tool_calls"


def test_extra_frame_error_and_done():
    enc = encoder()
    extra = chunks(enc.extra_frame({"citations": [{"source": "handbook.pdf", "page": 3}]}))[0]
    error = json.loads(frames(enc.error(GatewayTimeout("Upstream took too long.")))[0])

    assert extra.choices == []
    assert extra.model_extra == {"citations": [{"source": "handbook.pdf", "page": 3}]}
    assert error["error"]["message"] == "Upstream took too long."
    assert error["error"]["type"] == "timeout_error"
    assert error["error"]["code"] == "upstream_timeout"
    assert enc.done() == b"data: [DONE]\n\n"


# --- errors and models ---------------------------------------------------------------------


def test_render_error_shape():
    exc = ValidationFailed("Bad role.", param="messages[0].role")

    assert render_error(exc, request_id="req_1") == {
        "error": {
            "message": "Bad role.",
            "type": "invalid_request_error",
            "param": "messages[0].role",
            "code": "invalid_request",
            "request_id": "req_1",
        }
    }
    assert error_status(exc) == 400
    assert error_status(TooManyRequests("slow down", retry_after=3)) == 429


def test_render_models():
    listing = render_model_list(
        [
            render_model("gpt-test", created=1, owned_by="acme"),
            render_model("m2", created=2, owned_by="x"),
        ]
    )

    assert listing == {
        "object": "list",
        "data": [
            {"id": "gpt-test", "object": "model", "created": 1, "owned_by": "acme"},
            {"id": "m2", "object": "model", "created": 2, "owned_by": "x"},
        ],
    }


# --- upstream direction --------------------------------------------------------------------


def _materialise(value: Any) -> Any:
    """The SDK's param types use Iterable, which pydantic validates lazily: force it."""
    if isinstance(value, dict):
        return {key: _materialise(item) for key, item in value.items()}
    if isinstance(value, list | tuple) or hasattr(value, "__next__"):
        return [_materialise(item) for item in value]
    return value


def sdk_accepts(params: dict[str, object], *, stream: bool) -> dict[str, Any]:
    typed = (
        completion_create_params.CompletionCreateParamsStreaming
        if stream
        else completion_create_params.CompletionCreateParamsNonStreaming
    )
    assert set(params) <= set(typed.__annotations__), "a key the SDK does not know"
    return _materialise(TypeAdapter(typed).validate_python(params))


def test_round_trip_to_openai_params():
    call = parse(
        body(
            messages=tool_conversation(),
            max_completion_tokens=300,
            temperature=0.5,
            stop=["END"],
            tools=[WEATHER_TOOL],
            tool_choice="required",
            response_format={"type": "json_object"},
            user="u1",
        )
    )

    params = to_openai_params(call.request, model="upstream-model", stream=False)
    validated = sdk_accepts(params, stream=False)

    assert validated["model"] == "upstream-model"
    assert validated["max_tokens"] == 300
    assert validated["temperature"] == 0.5
    assert validated["stop"] == ["END"]
    assert validated["tool_choice"] == "required"
    assert validated["response_format"] == {"type": "json_object"}
    assert validated["user"] == "u1"
    assert "stream" not in params
    assert params["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "18C, sunny"},
    ]
    assert params["tools"] == [WEATHER_TOOL]


def test_to_openai_params_streaming_and_minimal():
    request = ChatRequest(messages=[Message(role="user", content="Hi")], max_tokens=10)

    params = to_openai_params(request, model="m", stream=True)
    sdk_accepts(params, stream=True)

    assert params == {
        "model": "m",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 10,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_named_tool_choice_upstream():
    request = ChatRequest(
        messages=[Message(role="user", content="Hi")],
        max_tokens=10,
        tools=[Tool(name="f", description="", parameters={"type": "object"})],
        tool_choice=ToolChoice(mode="tool", name="f"),
    )

    params = to_openai_params(request, model="m", stream=False)
    sdk_accepts(params, stream=False)

    assert params["tool_choice"] == {"type": "function", "function": {"name": "f"}}


def test_tool_choice_without_tools_is_not_sent():
    request = ChatRequest(
        messages=[Message(role="user", content="Hi")],
        max_tokens=10,
        tool_choice=ToolChoice(mode="auto"),
    )

    assert "tool_choice" not in to_openai_params(request, model="m", stream=False)


def sdk_completion(**message: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-up",
        "object": "chat.completion",
        "created": 1,
        "model": "upstream-2024",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", **message},
                "finish_reason": message.pop("finish_reason", "stop"),
            }
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13},
    }


def test_completion_from_json_text():
    result = completion_from_json(sdk_completion(content="Hi"))

    assert result == Completion(
        text="Hi", finish_reason="stop", usage=Usage(9, 4), model="upstream-2024"
    )


def test_completion_from_json_tool_calls_and_legacy_finish_reason():
    raw = sdk_completion(
        content=None,
        tool_calls=[{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
    )
    raw["choices"][0]["finish_reason"] = "function_call"

    result = completion_from_json(raw)

    assert result.text == ""
    assert result.finish_reason == "tool_calls"
    assert result.tool_calls == [ToolCall(id="c1", name="f", arguments="{}")]


def test_completion_from_json_without_usage_or_finish_reason():
    raw = sdk_completion(content="Hi")
    del raw["usage"]
    raw["choices"][0]["finish_reason"] = None

    result = completion_from_json(raw)  # as a lax server sends

    assert result.usage == Usage(0, 0)
    assert result.finish_reason == "stop"


def sdk_chunk(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any):
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "upstream-2024",
        "choices": choices,
        **extra,
    }


def test_chunk_decoder_text_and_usage():
    decoder = ChunkDecoder()
    events = []
    for chunk in [
        sdk_chunk({"role": "assistant", "content": ""}),
        sdk_chunk({"content": "Hel"}),
        sdk_chunk({"content": "lo"}),
        sdk_chunk({}, finish="length"),
        sdk_chunk(None, usage={"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}),
    ]:
        events += decoder.decode(chunk)

    assert events == [TextDelta("Hel"), TextDelta("lo")]
    assert decoder.finished
    assert decoder.finish("requested") == StreamEnd(
        finish_reason="length", usage=Usage(5, 2), model="upstream-2024"
    )


def test_chunk_decoder_tool_calls_and_fallback_usage():
    decoder = ChunkDecoder()
    first = {"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}}
    events = decoder.decode(sdk_chunk({"tool_calls": [first]}))
    events += decoder.decode(
        sdk_chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]})
    )
    events += decoder.decode(sdk_chunk({}, finish="tool_calls"))

    assert events == [
        ToolCallDelta(index=0, id="c1", name="f", arguments=""),
        ToolCallDelta(index=0, arguments="{}"),
    ]
    end = decoder.finish("requested")
    assert end.finish_reason == "tool_calls"
    assert end.usage == Usage(0, 2)  # no usage chunk: deltas stand in for tokens


def test_chunk_decoder_unfinished_stream():
    decoder = ChunkDecoder()
    decoder.decode(sdk_chunk({"content": "Hel"}))

    assert not decoder.finished
