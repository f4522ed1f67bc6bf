"""Anthropic Messages wire format: parsing, rendering (checked with the SDK's own models),
streaming and the upstream conversions."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import anthropic
import pytest
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import ErrorResponse, RawMessageStreamEvent, ToolUseBlock
from anthropic.types import Message as AnthropicMessage
from pydantic import TypeAdapter

from core.errors import (
    ApplicationError,
    BadGateway,
    Forbidden,
    GatewayTimeout,
    NotFound,
    NotImplementedYet,
    PayloadTooLarge,
    PaymentRequired,
    ServiceUnavailable,
    TooManyRequests,
    Unauthenticated,
    Unprocessable,
    ValidationFailed,
)
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
from gateway.wire.anthropic import (
    EventDecoder,
    MessageStreamEncoder,
    from_anthropic_message,
    parse_messages_request,
    render_error,
    render_message,
    to_anthropic_params,
)

STREAM_EVENT = TypeAdapter(RawMessageStreamEvent)


def _parse(body, *, ceiling=1000, max_messages=10):
    return parse_messages_request(body, max_tokens_ceiling=ceiling, max_messages=max_messages)


def _body(**overrides):
    body = {
        "model": "claude-test",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hello"}],
    }
    body.update(overrides)
    return body


# --- parsing ---------------------------------------------------------------------------


def test_parse_minimal_body():
    call = _parse(_body())
    assert call.model == "claude-test"
    assert call.stream is False
    assert call.request.max_tokens == 100
    assert call.request.messages == [Message(role="user", content="Hello")]
    assert call.request.tools == []
    assert call.request.tool_choice is None


def test_parse_full_body_with_tools():
    body = _body(
        system=[{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Be kind."}],
        stream=True,
        temperature=0.3,
        top_p=0.9,
        top_k=40,  # unknown to us: ignored
        stop_sequences=["END"],
        metadata={"user_id": "user-42"},
        tools=[
            {
                "name": "get_weather",
                "description": "Weather for a city",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
                "cache_control": {"type": "ephemeral"},
            }
        ],
        tool_choice={"type": "any"},
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me check."},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                     "input": {"city": "Paris"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1",
                     "content": [{"type": "text", "text": "Sunny"}]},
                ],
            },
        ],
    )  # fmt: skip
    call = _parse(body)
    request = call.request
    assert call.stream is True
    assert request.messages == [
        Message(role="system", content="Be brief.\n\nBe kind."),
        Message(role="user", content="Weather in Paris?"),
        Message(
            role="assistant",
            content="Let me check.",
            tool_calls=[ToolCall(id="toolu_1", name="get_weather", arguments='{"city": "Paris"}')],
        ),
        Message(role="tool", content="Sunny", tool_call_id="toolu_1"),
    ]
    assert request.temperature == 0.3
    assert request.top_p == 0.9
    assert request.stop == ["END"]
    assert request.user == "user-42"
    assert request.tools == [
        Tool(
            name="get_weather",
            description="Weather for a city",
            parameters={"type": "object", "properties": {"city": {"type": "string"}}},
        )
    ]
    assert request.tool_choice == ToolChoice(mode="required")


def test_user_turn_with_tool_results_and_text_keeps_order():
    body = _body(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Before"},
                    {"type": "tool_result", "tool_use_id": "a", "content": "one"},
                    {"type": "tool_result", "tool_use_id": "b"},
                    {"type": "text", "text": "After"},
                    {"type": "text", "text": "More"},
                ],
            }
        ]
    )
    assert _parse(body).request.messages == [
        Message(role="user", content="Before"),
        Message(role="tool", content="one", tool_call_id="a"),
        Message(role="tool", content="", tool_call_id="b"),
        Message(role="user", content="After\n\nMore"),
    ]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, ToolChoice(mode="auto")),
        ({"type": "any"}, ToolChoice(mode="required")),
        ({"type": "none"}, ToolChoice(mode="none")),
        ({"type": "tool", "name": "f"}, ToolChoice(mode="tool", name="f")),
    ],
)
def test_tool_choice_mapping(choice, expected):
    assert _parse(_body(tool_choice=choice)).request.tool_choice == expected


def test_system_string_and_first_assistant_message_are_accepted():
    body = _body(system="Sys", messages=[{"role": "assistant", "content": "Hi"}])
    assert _parse(body).request.messages == [
        Message(role="system", content="Sys"),
        Message(role="assistant", content="Hi"),
    ]


def _with_messages(*messages):
    return _body(messages=list(messages))


INVALID_BODIES = [
    pytest.param(["not", "an", "object"], None, id="not-an-object"),
    pytest.param({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}, "model",
                 id="missing-model"),
    pytest.param({"model": "m", "messages": [{"role": "user", "content": "x"}]}, "max_tokens",
                 id="missing-max-tokens"),
    pytest.param(_body(max_tokens=0), "max_tokens", id="max-tokens-zero"),
    pytest.param(_body(max_tokens=1001), "max_tokens", id="max-tokens-over-ceiling"),
    pytest.param(_body(max_tokens="many"), "max_tokens", id="max-tokens-not-int"),
    pytest.param(_body(messages=[]), "messages", id="no-messages"),
    pytest.param(_body(messages=[{"role": "user", "content": "x"}] * 11), "messages",
                 id="too-many-messages"),
    pytest.param(_with_messages({"role": "user", "content": "x"}, {"role": "system",
                 "content": "y"}), "messages[1].role", id="bad-role"),
    pytest.param(_with_messages({"role": "user"}), "messages[0].content", id="missing-content"),
    pytest.param(_with_messages({"role": "user", "content": 5}), "messages[0].content",
                 id="content-not-string-or-list"),
    pytest.param(_with_messages({"role": "user", "content": [{"type": "text", "text": "a"}, {
        "type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}}]}),
        "messages[0].content[1]", id="image-block"),
    pytest.param(_with_messages({"role": "user", "content": [{"type": "document", "source": {}}]}),
                 "messages[0].content[0]", id="document-block"),
    pytest.param(_with_messages({"role": "user", "content": [{"text": "no type"}]}),
                 "messages[0].content[0].type", id="block-without-type"),
    pytest.param(_with_messages({"role": "user", "content": [{"type": "text"}]}),
                 "messages[0].content[0].text", id="text-block-without-text"),
    pytest.param(_with_messages({"role": "user", "content": [{"type": "tool_use", "id": "t",
                 "name": "f", "input": {}}]}), "messages[0].content[0]", id="tool-use-from-user"),
    pytest.param(_with_messages({"role": "user", "content": "x"}, {"role": "assistant", "content": [
        {"type": "tool_result", "tool_use_id": "t", "content": "r"}]}), "messages[1].content[0]",
        id="tool-result-from-assistant"),
    pytest.param(_with_messages({"role": "assistant", "content": [{"type": "tool_use", "id": "t",
                 "name": "f", "input": "not an object"}]}), "messages[0].content[0].input",
                 id="tool-use-input-not-object"),
    pytest.param(_with_messages({"role": "user", "content": [{"type": "tool_result", "tool_use_id":
        "t", "content": [{"type": "image", "source": {}}]}]}), "messages[0].content[0].content[0]",
        id="image-in-tool-result"),
    pytest.param(_body(system=5), "system", id="system-not-text"),
    pytest.param(_body(system=[{"type": "image", "source": {}}]), "system[0]", id="system-image"),
    pytest.param(_body(temperature=1.5), "temperature", id="temperature-over-1"),
    pytest.param(_body(top_p=-0.1), "top_p", id="top-p-negative"),
    pytest.param(_body(stop_sequences="END"), "stop_sequences", id="stop-sequences-not-list"),
    pytest.param(_body(tools=[{"name": "f"}]), "tools[0].input_schema", id="tool-without-schema"),
    pytest.param(_body(tool_choice={"type": "required"}), "tool_choice.type", id="bad-tool-choice"),
    pytest.param(_body(tool_choice={"type": "tool"}), "tool_choice.name", id="tool-choice-no-name"),
    pytest.param(_body(stream="sometimes"), "stream", id="stream-not-bool"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "param"), INVALID_BODIES)
def test_invalid_bodies_name_the_field(body, param):
    with pytest.raises(ValidationFailed) as caught:
        _parse(body)
    assert caught.value.param == param
    assert caught.value.status_code == 400
    if param:
        # Anthropic's own message style: "messages.1.role: ..."
        dotted = param.replace("[", ".").replace("]", "")
        assert caught.value.message.startswith(dotted)


def test_unsupported_block_message_says_so():
    body = _with_messages({"role": "user", "content": [{"type": "image", "source": {}}]})
    with pytest.raises(ValidationFailed, match="not supported"):
        _parse(body)


def test_error_messages_do_not_echo_content():
    secret = "top secret prompt text"
    with pytest.raises(ValidationFailed) as caught:
        _parse(_with_messages({"role": "robot", "content": secret}))
    assert secret not in caught.value.message


# --- rendering a message ---------------------------------------------------------------


def _completion(**overrides) -> Completion:
    completion = Completion(
        text="Hello there",
        finish_reason="stop",
        usage=Usage(input_tokens=12, output_tokens=3),
        model="upstream-model",
    )
    return dataclasses.replace(completion, **overrides)


def test_render_message_is_a_valid_anthropic_message():
    body = render_message(_completion(), message_id="msg_1", model="claude-test")
    message = AnthropicMessage.model_validate(body)
    assert message.id == "msg_1"
    assert message.model == "claude-test"
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello there"
    assert message.stop_reason == "end_turn"
    assert message.stop_sequence is None
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 3)


def test_render_message_with_tool_calls_and_extra():
    completion = _completion(
        text="",
        finish_reason="tool_calls",
        tool_calls=[
            ToolCall(id="toolu_a", name="get_weather", arguments='{"city": "Paris"}'),
            ToolCall(id="toolu_b", name="broken", arguments='{"city": "Par'),
            ToolCall(id="toolu_c", name="listy", arguments="[1, 2]"),
        ],
    )
    body = render_message(
        completion, message_id="msg_2", model="m", extra={"citations": [{"source": "a.pdf"}]}
    )
    assert body["citations"] == [{"source": "a.pdf"}]
    message = AnthropicMessage.model_validate(body)
    assert message.stop_reason == "tool_use"
    blocks = [block for block in message.content if isinstance(block, ToolUseBlock)]
    assert len(blocks) == len(message.content) == 3
    assert blocks[0].input == {"city": "Paris"}
    assert blocks[1].input == {}  # truncated JSON: an empty object, not a crash
    assert blocks[2].input == {}


@pytest.mark.parametrize(
    ("finish", "stop_reason"),
    [("stop", "end_turn"), ("length", "max_tokens"), ("tool_calls", "tool_use"),
     ("content_filter", "refusal")],
)  # fmt: skip
def test_render_message_stop_reasons(finish, stop_reason):
    body = render_message(_completion(finish_reason=finish), message_id="m", model="m")
    assert AnthropicMessage.model_validate(body).stop_reason == stop_reason


# --- rendering a stream ----------------------------------------------------------------


def _frames(data: bytes):
    """Split SSE bytes into (event name, payload) pairs, checking the framing."""
    assert data.endswith(b"\n\n")
    frames = []
    for chunk in data.decode().split("\n\n")[:-1]:
        event_line, data_line = chunk.split("\n")
        assert event_line.startswith("event: ")
        assert data_line.startswith("data: ")
        name, payload = event_line[len("event: ") :], json.loads(data_line[len("data: ") :])
        assert payload["type"] == name
        frames.append((name, payload))
    return frames


def _encode_all(events, *, estimate=7, extra=None):
    encoder = MessageStreamEncoder(message_id="msg_s", model="claude-test",
                                   input_tokens_estimate=estimate)  # fmt: skip
    data = b"".join(encoder.encode(event) for event in events)
    if extra:
        data += encoder.extra_event(*extra)
    return data + encoder.finish()


def _accumulate(frames):
    """Validate every frame with the SDK's own event models and fold them with the SDK's
    own accumulator, as a client's ``messages.stream()`` would."""
    snapshot, json_bufs = None, dict[int, bytes]()
    for name, payload in frames:
        if name == "ping":
            continue
        event = STREAM_EVENT.validate_python(payload)
        snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=json_bufs)
    return snapshot


def test_text_stream_follows_anthropic_event_sequence():
    events = [
        TextDelta("Hel"),
        TextDelta(""),
        TextDelta("lo"),
        StreamEnd(finish_reason="stop", usage=Usage(input_tokens=9, output_tokens=2), model="u"),
    ]
    frames = _frames(_encode_all(events))
    assert [name for name, _ in frames] == [
        "message_start", "ping", "content_block_start", "content_block_delta",
        "content_block_delta", "content_block_stop", "message_delta", "message_stop",
    ]  # fmt: skip
    start = frames[0][1]["message"]
    assert start["usage"] == {"input_tokens": 7, "output_tokens": 0}
    assert start["content"] == []
    assert start["stop_reason"] is None
    message = _accumulate(frames)
    assert message.content[0].text == "Hello"
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (9, 2)


def test_tool_use_stream():
    events = [
        TextDelta("Checking."),
        ToolCallDelta(index=0, id="toolu_a", name="get_weather", arguments=""),
        ToolCallDelta(index=0, arguments='{"city": '),
        ToolCallDelta(index=0, arguments='"Paris"}'),
        ToolCallDelta(index=1, id="toolu_b", name="get_time", arguments='{"tz": "CET"}'),
        StreamEnd(finish_reason="tool_calls", usage=Usage(0, 20), model="u"),
    ]
    frames = _frames(_encode_all(events))
    starts = [p for name, p in frames if name == "content_block_start"]
    assert [(s["index"], s["content_block"]["type"]) for s in starts] == [
        (0, "text"), (1, "tool_use"), (2, "tool_use"),
    ]  # fmt: skip
    assert starts[1]["content_block"] == {
        "type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {},
    }  # fmt: skip
    stops = [p["index"] for name, p in frames if name == "content_block_stop"]
    assert stops == [0, 1, 2]
    message = _accumulate(frames)
    assert message.content[0].text == "Checking."
    assert message.content[1].input == {"city": "Paris"}
    assert (message.content[2].id, message.content[2].input) == ("toolu_b", {"tz": "CET"})
    assert message.stop_reason == "tool_use"
    # No input tokens reported upstream: the estimate stands.
    assert (message.usage.input_tokens, message.usage.output_tokens) == (7, 20)


def test_empty_stream_still_has_start_and_stop():
    frames = _frames(_encode_all([StreamEnd(finish_reason="length", usage=Usage(), model="u")]))
    assert [name for name, _ in frames] == ["message_start", "ping", "message_delta",
                                           "message_stop"]  # fmt: skip
    message = _accumulate(frames)
    assert message.content == []
    assert message.stop_reason == "max_tokens"


def test_extra_event_goes_before_message_stop():
    end = StreamEnd(finish_reason="stop", usage=Usage(1, 1), model="u")
    citations = ("citations", {"type": "citations", "sources": ["a.pdf"]})
    data = _encode_all([TextDelta("x"), end], extra=citations)
    names = [name for name, _ in _frames(data)]
    assert names[-3:] == ["message_delta", "citations", "message_stop"]


def test_stream_error_frame():
    encoder = MessageStreamEncoder(message_id="m", model="m", input_tokens_estimate=1)
    frames = _frames(encoder.error(ServiceUnavailable("Overloaded, try again.")))
    assert frames == [
        ("error", {"type": "error", "error": {"type": "overloaded_error",
                                              "message": "Overloaded, try again."}}),
    ]  # fmt: skip
    ErrorResponse.model_validate(frames[0][1])


def test_stream_frames_are_compact_and_keep_unicode():
    data = _encode_all([TextDelta("héllo ✓"), StreamEnd("stop", Usage(), "u")])
    assert "héllo ✓".encode() in data
    assert b'", "' not in data
    assert b'": ' not in data


# --- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "error_type"),
    [
        (ValidationFailed("bad"), "invalid_request_error"),
        (Unprocessable("too long"), "invalid_request_error"),
        (Unauthenticated("who?"), "authentication_error"),
        (PaymentRequired("budget"), "billing_error"),
        (Forbidden("no"), "permission_error"),
        (NotFound("gone"), "not_found_error"),
        (TooManyRequests("slow down", retry_after=3), "rate_limit_error"),
        (NotImplementedYet("later"), "api_error"),
        (BadGateway("upstream"), "api_error"),
        (ServiceUnavailable("busy"), "overloaded_error"),
        (GatewayTimeout("slow"), "timeout_error"),
        (ApplicationError("plain"), "invalid_request_error"),
    ],
)
def test_render_error_types_are_ones_the_sdk_knows(exc, error_type):
    body = render_error(exc, request_id="req_1")
    assert body == {
        "type": "error",
        "error": {"type": error_type, "message": exc.message},
        "request_id": "req_1",
    }
    parsed = ErrorResponse.model_validate(body)
    assert parsed.error.type == error_type


def test_render_error_request_too_large():
    # Anthropic's documented type for 413; the SDK's ErrorObject union does not list it.
    body = render_error(PayloadTooLarge("too big"), request_id="req_2")
    assert body["error"] == {"type": "request_too_large", "message": "too big"}


# --- upstream: ChatRequest -> messages.create ------------------------------------------


def _params(request: ChatRequest, **options: Any) -> dict[str, Any]:
    return to_anthropic_params(request, model="m", **options)


def test_params_merge_roles_and_tool_results():
    request = ChatRequest(
        messages=[
            Message(role="system", content="Be brief."),
            Message(role="user", content="Hi"),
            Message(role="user", content="Weather in Paris and Rome?"),
            Message(role="assistant", content="", tool_calls=[
                ToolCall(id="t1", name="get_weather", arguments='{"city": "Paris"}'),
                ToolCall(id="t2", name="get_weather", arguments="not json"),
            ]),
            Message(role="tool", content="Sunny", tool_call_id="t1"),
            Message(role="tool", content="", tool_call_id="t2"),
            Message(role="user", content="And tomorrow?"),
            Message(role="system", content="Use metric."),
        ],
        max_tokens=256,
        stop=["END"],
        user="user-7",
    )  # fmt: skip
    params = to_anthropic_params(request, model="claude-x")
    assert params == {
        "model": "claude-x",
        "max_tokens": 256,
        "system": "Be brief.\n\nUse metric.",
        "stop_sequences": ["END"],
        "metadata": {"user_id": "user-7"},
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "Hi"},
                {"type": "text", "text": "Weather in Paris and Rome?"},
            ]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "t1", "name": "get_weather",
                 "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "t2", "name": "get_weather", "input": {}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "Sunny"},
                {"type": "tool_result", "tool_use_id": "t2"},
                {"type": "text", "text": "And tomorrow?"},
            ]},
        ],
    }  # fmt: skip


def test_params_put_tool_results_before_text_in_a_user_turn():
    request = ChatRequest(
        messages=[
            Message(role="assistant", content="", tool_calls=[ToolCall("t1", "f", "{}")]),
            Message(role="user", content="Here you go"),
            Message(role="tool", content="42", tool_call_id="t1"),
        ],
        max_tokens=10,
    )
    user_turn = _params(request)["messages"][1]
    assert [block["type"] for block in user_turn["content"]] == ["tool_result", "text"]


def test_params_tools_choice_and_response_format():
    request = ChatRequest(
        messages=[Message(role="user", content="Go")],
        max_tokens=10,
        tools=[
            Tool(name="f", description="does f", parameters={"type": "object"}),
            Tool(name="g", description="", parameters={}),
        ],
        tool_choice=ToolChoice(mode="tool", name="g"),
        response_format={"type": "json_object"},
    )
    params = _params(request)
    assert params["tools"] == [
        {"name": "f", "description": "does f", "input_schema": {"type": "object"}},
        {"name": "g", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert params["tool_choice"] == {"type": "tool", "name": "g"}
    assert "JSON" in params["system"]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("auto", {"type": "auto"}), ("required", {"type": "any"}), ("none", {"type": "none"})],
)
def test_params_tool_choice_modes(mode, expected):
    request = ChatRequest(
        messages=[Message(role="user", content="Go")],
        max_tokens=10,
        tools=[Tool(name="f", description="", parameters={"type": "object"})],
        tool_choice=ToolChoice(mode=mode),
    )
    assert _params(request)["tool_choice"] == expected


def test_params_tool_choice_without_tools_is_dropped():
    request = ChatRequest(
        messages=[Message(role="user", content="Go")],
        max_tokens=10,
        tool_choice=ToolChoice(mode="none"),
    )
    assert "tool_choice" not in _params(request)


def test_params_json_schema_instruction_includes_schema():
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    request = ChatRequest(
        messages=[Message(role="system", content="Sys"), Message(role="user", content="Go")],
        max_tokens=10,
        response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": schema}},
    )
    system = _params(request)["system"]
    assert system.startswith("Sys\n\n")
    assert json.dumps(schema) in system


def test_params_sampling_only_when_asked_and_clamped():
    request = ChatRequest(
        messages=[Message(role="user", content="Go")], max_tokens=10, temperature=1.7, top_p=0.5
    )
    # Current Claude models reject temperature/top_p, and the SDK has no such parameters.
    assert "extra_body" not in to_anthropic_params(request, model="m")
    params = to_anthropic_params(request, model="m", sampling=True)
    assert params["extra_body"] == {"temperature": 1.0, "top_p": 0.5}


def test_params_are_accepted_by_the_sdk_signature():
    request = ChatRequest(
        messages=[Message(role="user", content="Go")],
        max_tokens=10,
        temperature=0.2,
        tools=[Tool(name="f", description="", parameters={"type": "object"})],
        tool_choice=ToolChoice(mode="auto"),
        stop=["x"],
        user="u",
    )
    import inspect

    signature = inspect.signature(anthropic.AsyncAnthropic(api_key="k").messages.create)
    for sampling in (False, True):
        signature.bind(**to_anthropic_params(request, model="m", sampling=sampling), stream=True)


# --- upstream: Anthropic answers -> Completion / StreamEvents --------------------------


def _anthropic_message(**overrides):
    body = {
        "id": "msg_u",
        "type": "message",
        "role": "assistant",
        "model": "claude-up",
        "content": [
            {"type": "text", "text": "Let me "},
            {"type": "text", "text": "check."},
            {"type": "tool_use", "id": "toolu_9", "name": "get_weather",
             "input": {"city": "Paris"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 3},
    }  # fmt: skip
    body.update(overrides)
    return AnthropicMessage.model_validate(body)


def test_from_anthropic_message():
    completion = from_anthropic_message(_anthropic_message())
    assert completion == Completion(
        text="Let me check.",
        finish_reason="tool_calls",
        usage=Usage(input_tokens=13, output_tokens=5),
        model="claude-up",
        tool_calls=[ToolCall(id="toolu_9", name="get_weather", arguments='{"city": "Paris"}')],
    )


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [("end_turn", "stop"), ("stop_sequence", "stop"), ("pause_turn", "stop"),
     ("max_tokens", "length"), ("tool_use", "tool_calls"), ("refusal", "content_filter"),
     ("model_context_window_exceeded", "length"), (None, "stop")],
)  # fmt: skip
def test_from_anthropic_message_stop_reasons(stop_reason, finish):
    message = _anthropic_message(stop_reason=stop_reason)
    assert from_anthropic_message(message).finish_reason == finish


def _raw(payload):
    return STREAM_EVENT.validate_python(payload)


def test_event_decoder_text_and_tool_use():
    raw_events = [
        {"type": "message_start", "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-up",
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 25, "output_tokens": 1, "cache_creation_input_tokens": 5}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {
            "type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}},
        {"type": "content_block_delta", "index": 1,
         "delta": {"type": "input_json_delta", "partial_json": ""}},
        {"type": "content_block_delta", "index": 1,
         "delta": {"type": "input_json_delta", "partial_json": '{"city": "Paris"}'}},
        {"type": "content_block_stop", "index": 1},
        {"type": "content_block_start", "index": 2, "content_block": {
            "type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}}},
        {"type": "content_block_stop", "index": 2},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
         "usage": {"output_tokens": 42}},
        {"type": "message_stop"},
    ]  # fmt: skip
    decoder = EventDecoder()
    events = [out for raw in raw_events for out in decoder.decode(_raw(raw))]
    assert events == [
        TextDelta("Hi"),
        ToolCallDelta(index=0, id="toolu_1", name="get_weather", arguments=""),
        ToolCallDelta(index=0, arguments='{"city": "Paris"}'),
        ToolCallDelta(index=1, id="toolu_2", name="get_time", arguments=""),
    ]
    assert decoder.stopped
    assert decoder.finish() == StreamEnd(
        finish_reason="tool_calls", usage=Usage(input_tokens=30, output_tokens=42),
        model="claude-up",
    )  # fmt: skip


def test_event_decoder_round_trips_the_encoder():
    events = [
        TextDelta("Hello "),
        TextDelta("world"),
        ToolCallDelta(index=0, id="toolu_a", name="f", arguments=""),
        ToolCallDelta(index=0, arguments='{"a"'),
        ToolCallDelta(index=0, arguments=": 1}"),
    ]
    end = StreamEnd(finish_reason="tool_calls", usage=Usage(11, 4), model="claude-test")
    decoder = EventDecoder()
    decoded = []
    for name, payload in _frames(_encode_all([*copy.deepcopy(events), end])):
        if name != "ping":
            decoded.extend(decoder.decode(_raw(payload)))
    assert decoded == events
    assert decoder.finish() == end


def test_event_decoder_without_message_stop_is_not_complete():
    decoder = EventDecoder()
    assert decoder.finish() == StreamEnd(finish_reason="stop", usage=Usage(), model="")
    assert not decoder.stopped


def test_event_decoder_usage_totals_replace_earlier_ones():
    decoder = EventDecoder()
    start = _anthropic_message(usage={"input_tokens": 10, "output_tokens": 1,
                                      "cache_read_input_tokens": 4})  # fmt: skip
    decoder.decode(_raw({"type": "message_start", "message": start.model_dump()}))
    decoder.decode(_raw({
        "type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"input_tokens": 12, "output_tokens": 8},
    }))  # fmt: skip
    # input_tokens replaced, the cache read count from message_start kept.
    assert decoder.finish().usage == Usage(input_tokens=16, output_tokens=8)
