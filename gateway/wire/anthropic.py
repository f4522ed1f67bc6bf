"""Anthropic's Messages wire format, in both directions.

Client-facing: our ``/v1/messages`` endpoint parses Anthropic request bodies into a
``ChatRequest`` and renders answers, streams and errors the way Anthropic does, so the
official SDKs work unchanged. Upstream-facing: the Anthropic provider turns a
``ChatRequest`` into ``messages.create`` arguments and Anthropic's answers back into
``Completion`` / ``StreamEvent``.

Input is validated with pydantic; output is built from plain dicts and ``json.dumps``
because rendering runs once per streamed token.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar

from anthropic import types as anthropic_types
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError
from pydantic_core import PydanticCustomError

from core.errors import ApplicationError, ValidationFailed
from gateway.pipelines.grounding import grounded
from gateway.types import (
    ChatRequest,
    Citations,
    Completion,
    FinishReason,
    Message,
    StreamEnd,
    StreamEvent,
    TextDelta,
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    Usage,
)

Loc = tuple[str | int, ...]

# ---------------------------------------------------------------------------------------
# Client-facing: parsing a Messages request
# ---------------------------------------------------------------------------------------


def _string_or_blocks(value: object) -> str | list[dict[str, Any]]:
    # A plain validator instead of a pydantic union: a union reports one error per member,
    # and the first of them ("Input should be a valid string") would hide the real problem.
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return value
    raise PydanticCustomError(
        "content_type", "Input should be a string or a list of content blocks"
    )


Content = Annotated[str | list[dict[str, Any]], PlainValidator(_string_or_blocks)]


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _TextIn(_In):
    type: Literal["text"]
    text: str


class _ToolUseIn(_In):
    type: Literal["tool_use"]
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    input: dict[str, Any]


class _ToolResultIn(_In):
    type: Literal["tool_result"]
    tool_use_id: str = Field(min_length=1)
    content: Content = ""


_Block = _TextIn | _ToolUseIn | _ToolResultIn
_BLOCK_MODELS: dict[str, type[_Block]] = {
    "text": _TextIn,
    "tool_use": _ToolUseIn,
    "tool_result": _ToolResultIn,
}


class _TurnIn(_In):
    role: Literal["user", "assistant"]
    content: Content


class _ToolIn(_In):
    name: str = Field(min_length=1)
    description: str = ""
    input_schema: dict[str, Any]


class _ToolChoiceIn(_In):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None


class _MetadataIn(_In):
    user_id: str | None = None


class _MessagesBody(_In):
    model: str = Field(min_length=1)
    max_tokens: int = Field(ge=1)
    messages: list[_TurnIn] = Field(min_length=1)
    system: Content | None = None
    stream: bool = False
    temperature: float | None = Field(default=None, ge=0, le=1)
    top_p: float | None = Field(default=None, ge=0, le=1)
    stop_sequences: list[str] | None = None
    tools: list[_ToolIn] | None = None
    tool_choice: _ToolChoiceIn | None = None
    metadata: _MetadataIn | None = None
    # Gateway extensions (as on /v1/chat/completions): the pipeline and the knowledge
    # collections a RAG answer draws on.
    pipeline: Literal["auto", "direct", "rag", "agent"] | None = None
    collections: list[Annotated[str, Field(min_length=1)]] | None = None


_TOOL_CHOICE_MODES: dict[str, Literal["auto", "none", "required", "tool"]] = {
    "auto": "auto",
    "any": "required",
    "tool": "tool",
    "none": "none",
}


@dataclass(frozen=True, slots=True)
class AnthropicCall:
    model: str
    stream: bool
    request: ChatRequest
    pipeline: str | None = None
    collections: list[str] = field(default_factory=list)


def parse_messages_request(
    body: object, *, max_tokens_ceiling: int, max_messages: int
) -> AnthropicCall:
    """Validate a ``POST /v1/messages`` body; raise ValidationFailed naming the bad field."""
    if not isinstance(body, dict):
        raise ValidationFailed("The request body must be a JSON object.")
    raw_messages = body.get("messages")
    # Counted before validation, so an oversized list costs nothing to refuse.
    if isinstance(raw_messages, list) and len(raw_messages) > max_messages:
        raise ValidationFailed(
            f"messages: at most {max_messages} messages are allowed per request.",
            param="messages",
        )
    parsed = _validate(_MessagesBody, body, ())
    if parsed.max_tokens > max_tokens_ceiling:
        raise ValidationFailed(
            f"max_tokens: {parsed.max_tokens} is more than the allowed {max_tokens_ceiling}.",
            param="max_tokens",
        )
    messages = _system_messages(parsed.system)
    for i, turn in enumerate(parsed.messages):
        messages.extend(_turn_messages(turn, ("messages", i, "content")))
    request = ChatRequest(
        messages=messages,
        max_tokens=parsed.max_tokens,
        temperature=parsed.temperature,
        top_p=parsed.top_p,
        stop=list(parsed.stop_sequences or []),
        tools=[_tool(tool) for tool in parsed.tools or []],
        tool_choice=_tool_choice(parsed.tool_choice),
        user=parsed.metadata.user_id if parsed.metadata else None,
    )
    return AnthropicCall(
        model=parsed.model,
        stream=parsed.stream,
        request=request,
        pipeline=parsed.pipeline,
        collections=list(parsed.collections or []),
    )


_M = TypeVar("_M", bound=BaseModel)


def _validate(model: type[_M], raw: object, loc: Loc) -> _M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        raise _invalid(first["msg"], (*loc, *first["loc"])) from None


def _invalid(message: str, loc: Loc) -> ValidationFailed:
    # Message in Anthropic's own style ("messages.1.role: ..."), param as a JSON path.
    if not loc:
        return ValidationFailed(message)
    dotted = ".".join(str(part) for part in loc)
    return ValidationFailed(f"{dotted}: {message}", param=_param(loc))


def _param(loc: Loc) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(f".{part}" if parts else part)
    return "".join(parts)


def _block(raw: dict[str, Any], loc: Loc) -> _Block:
    kind = raw.get("type")
    if not isinstance(kind, str):
        raise _invalid("Field required", (*loc, "type"))
    model = _BLOCK_MODELS.get(kind)
    if model is None:
        raise _invalid(f"content blocks of type '{kind[:40]}' are not supported here.", loc)
    return _validate(model, raw, loc)


def _text_of(content: str | list[dict[str, Any]], loc: Loc) -> str:
    """The text of a string or a list of text blocks (system prompts, tool results)."""
    if isinstance(content, str):
        return content
    texts: list[str] = []
    for j, raw in enumerate(content):
        block = _block(raw, (*loc, j))
        if not isinstance(block, _TextIn):
            raise _invalid(f"'{block.type}' blocks are not allowed here.", (*loc, j))
        texts.append(block.text)
    return "\n\n".join(texts)


def _system_messages(system: str | list[dict[str, Any]] | None) -> list[Message]:
    text = _text_of(system, ("system",)) if system is not None else ""
    return [Message(role="system", content=text)] if text else []


def _turn_messages(turn: _TurnIn, loc: Loc) -> list[Message]:
    if isinstance(turn.content, str):
        return [Message(role=turn.role, content=turn.content)]
    blocks = [(_block(raw, (*loc, j)), (*loc, j)) for j, raw in enumerate(turn.content)]
    if turn.role == "assistant":
        return [_assistant_message(blocks)]
    return _user_messages(blocks)


def _assistant_message(blocks: list[tuple[_Block, Loc]]) -> Message:
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block, loc in blocks:
        if isinstance(block, _ToolResultIn):
            raise _invalid("tool_result blocks are only allowed in user messages.", loc)
        if isinstance(block, _TextIn):
            texts.append(block.text)
        else:
            arguments = json.dumps(block.input, ensure_ascii=False)
            calls.append(ToolCall(id=block.id, name=block.name, arguments=arguments))
    return Message(role="assistant", content="\n\n".join(texts), tool_calls=calls)


def _user_messages(blocks: list[tuple[_Block, Loc]]) -> list[Message]:
    # Tool results become "tool" messages; text around them stays in order as user turns.
    messages: list[Message] = []
    texts: list[str] = []
    for block, loc in blocks:
        if isinstance(block, _ToolUseIn):
            raise _invalid("tool_use blocks are only allowed in assistant messages.", loc)
        if isinstance(block, _TextIn):
            texts.append(block.text)
            continue
        if texts:
            messages.append(Message(role="user", content="\n\n".join(texts)))
            texts = []
        result = _text_of(block.content, (*loc, "content"))
        messages.append(Message(role="tool", content=result, tool_call_id=block.tool_use_id))
    if texts or not messages:
        messages.append(Message(role="user", content="\n\n".join(texts)))
    return messages


def _tool(tool: _ToolIn) -> Tool:
    return Tool(name=tool.name, description=tool.description, parameters=tool.input_schema)


def _tool_choice(choice: _ToolChoiceIn | None) -> ToolChoice | None:
    if choice is None:
        return None
    if choice.type == "tool" and not choice.name:
        raise _invalid("a name is required when type is 'tool'", ("tool_choice", "name"))
    name = choice.name if choice.type == "tool" else None
    return ToolChoice(mode=_TOOL_CHOICE_MODES[choice.type], name=name)


# ---------------------------------------------------------------------------------------
# Client-facing: rendering answers, streams and errors
# ---------------------------------------------------------------------------------------

_STOP_REASONS: dict[FinishReason, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}

# Anthropic's error types by status. 413 is "request_too_large" in Anthropic's API
# documentation, although the SDK's ErrorObject union does not list it.
_ERROR_TYPES: dict[int, str] = {
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def anthropic_error_type(status: int) -> str:
    default = "api_error" if status >= 500 else "invalid_request_error"
    return _ERROR_TYPES.get(status, default)


def render_error(exc: ApplicationError, *, request_id: str) -> dict[str, object]:
    return {
        "type": "error",
        "error": {"type": anthropic_error_type(exc.status_code), "message": exc.message},
        "request_id": request_id,
    }


def render_message(
    completion: Completion,
    *,
    message_id: str,
    model: str,
    extra: Mapping[str, object] | None = None,
) -> dict[str, object]:
    content: list[dict[str, object]] = []
    if completion.text:
        content.append({"type": "text", "text": completion.text})
    content.extend(_tool_use_block(call) for call in completion.tool_calls)
    body: dict[str, object] = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _STOP_REASONS[completion.finish_reason],
        "stop_sequence": None,
        "usage": {
            "input_tokens": completion.usage.input_tokens,
            "output_tokens": completion.usage.output_tokens,
        },
    }
    if extra:
        body.update(extra)
    return body


def _tool_use_block(call: ToolCall) -> dict[str, object]:
    return {
        "type": "tool_use",
        "id": call.id,
        "name": call.name,
        "input": _json_object(call.arguments),
    }


def _json_object(arguments: str) -> dict[str, Any]:
    # Anthropic's tool input is always an object; models (or OpenAI upstreams) sometimes
    # produce truncated or non-object JSON, which clients could not use anyway.
    try:
        value = json.loads(arguments) if arguments else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _frame(name: str, payload: Mapping[str, object]) -> bytes:
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return f"event: {name}\ndata: {data}\n\n".encode()


class MessageStreamEncoder:
    """StreamEvents -> Anthropic SSE frames, one encoder per response.

    Call ``encode`` for each event (a StreamEnd emits the closing ``message_delta``),
    optionally ``extra_event``, then ``finish`` for ``message_stop``.
    """

    def __init__(self, *, message_id: str, model: str, input_tokens_estimate: int) -> None:
        self._message_id = message_id
        self._model = model
        self._input_tokens_estimate = input_tokens_estimate
        self._started = False
        self._next_index = 0
        self._open_index: int | None = None  # content block being written, if any
        self._text_index: int | None = None  # the open block, when it is a text block
        self._tool_blocks: dict[int, int] = {}  # tool call index -> content block index
        self._citations: Citations | None = None

    def encode(self, event: StreamEvent) -> bytes:
        frames = self._start()
        if isinstance(event, Citations):
            self._citations = event  # sent last, just before message_stop (see ``finish``)
        elif isinstance(event, TextDelta):
            frames += self._text(event)
        elif isinstance(event, ToolCallDelta):
            frames += self._tool_call(event)
        else:
            frames += self._end(event)
        return frames

    def extra_event(self, name: str, payload: Mapping[str, object]) -> bytes:
        return self._start() + _frame(name, payload)

    def finish(self) -> bytes:
        frames = self._start()
        if self._citations is not None:
            citations = [c.as_dict() for c in self._citations.citations]
            frames += _frame("citations", {"type": "citations", "citations": citations})
        return frames + _frame("message_stop", {"type": "message_stop"})

    def error(self, exc: ApplicationError) -> bytes:
        error = {"type": anthropic_error_type(exc.status_code), "message": exc.message}
        return _frame("error", {"type": "error", "error": error})

    def _start(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        message: dict[str, object] = {
            "id": self._message_id,
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": self._input_tokens_estimate, "output_tokens": 0},
        }
        start = _frame("message_start", {"type": "message_start", "message": message})
        return start + _frame("ping", {"type": "ping"})

    def _text(self, event: TextDelta) -> bytes:
        if not event.text:
            return b""
        frames = b""
        if self._text_index is None:
            frames += self._close_block() + self._open_block({"type": "text", "text": ""})
            self._text_index = self._next_index - 1
        delta = {"type": "text_delta", "text": event.text}
        return frames + self._delta(self._text_index, delta)

    def _tool_call(self, event: ToolCallDelta) -> bytes:
        frames = b""
        index = self._tool_blocks.get(event.index)
        if index is None:
            block = {
                "type": "tool_use",
                "id": event.id or f"toolu_{uuid.uuid4().hex[:24]}",
                "name": event.name or "",
                "input": {},
            }
            frames += self._close_block() + self._open_block(block)
            index = self._tool_blocks[event.index] = self._next_index - 1
        # A delta for an earlier, already closed call (upstreams that interleave parallel
        # calls) still goes to that call's block: clients accumulate by index.
        if event.arguments:
            delta = {"type": "input_json_delta", "partial_json": event.arguments}
            frames += self._delta(index, delta)
        return frames

    def _end(self, event: StreamEnd) -> bytes:
        input_tokens = event.usage.input_tokens or self._input_tokens_estimate
        delta = {"stop_reason": _STOP_REASONS[event.finish_reason], "stop_sequence": None}
        usage = {"input_tokens": input_tokens, "output_tokens": event.usage.output_tokens}
        return self._close_block() + _frame(
            "message_delta", {"type": "message_delta", "delta": delta, "usage": usage}
        )

    def _open_block(self, block: Mapping[str, object]) -> bytes:
        index = self._open_index = self._next_index
        self._next_index += 1
        payload = {"type": "content_block_start", "index": index, "content_block": block}
        return _frame("content_block_start", payload)

    def _delta(self, index: int, delta: Mapping[str, object]) -> bytes:
        payload = {"type": "content_block_delta", "index": index, "delta": delta}
        return _frame("content_block_delta", payload)

    def _close_block(self) -> bytes:
        if self._open_index is None:
            return b""
        payload = {"type": "content_block_stop", "index": self._open_index}
        self._open_index = self._text_index = None
        return _frame("content_block_stop", payload)


# ---------------------------------------------------------------------------------------
# Upstream-facing: ChatRequest -> messages.create arguments
# ---------------------------------------------------------------------------------------

_UPSTREAM_TOOL_CHOICE: dict[str, str] = {
    "auto": "auto",
    "required": "any",
    "tool": "tool",
    "none": "none",
}

_JSON_ONLY = "Respond with a single valid JSON object and nothing else: no prose, no code fences."


def to_anthropic_params(
    request: ChatRequest, *, model: str, sampling: bool = False
) -> dict[str, object]:
    """Keyword arguments for ``client.messages.create`` (without ``stream``).

    ``sampling``: send temperature/top_p. Off by default: the SDK no longer has these
    parameters and current Claude models reject them with a 400 ("deprecated for this
    model"), which OpenAI clients that always send a temperature would hit on every call.
    """
    request = grounded(request)  # retrieved passages join the system prompt, delimited
    params: dict[str, object] = {
        "model": model,
        "max_tokens": request.max_tokens,
        "messages": _upstream_turns(request.messages),
    }
    system = "\n\n".join(
        part for part in (request.system_text, _format_instruction(request)) if part
    )
    if system:
        params["system"] = system
    if request.stop:
        params["stop_sequences"] = list(request.stop)
    if request.tools:
        params["tools"] = [_upstream_tool(tool) for tool in request.tools]
        if request.tool_choice is not None:
            params["tool_choice"] = _upstream_tool_choice(request.tool_choice)
    if request.user:
        params["metadata"] = {"user_id": request.user}
    if sampling:
        extra = _sampling(request)
        if extra:
            params["extra_body"] = extra
    return params


def _sampling(request: ChatRequest) -> dict[str, object]:
    extra: dict[str, object] = {}
    if request.temperature is not None:
        # OpenAI allows 0..2, Anthropic 0..1.
        extra["temperature"] = min(max(request.temperature, 0.0), 1.0)
    if request.top_p is not None:
        extra["top_p"] = request.top_p
    return extra


def _upstream_turns(messages: Iterable[Message]) -> list[dict[str, object]]:
    # Anthropic wants user/assistant alternation, so neighbours with the same role merge.
    turns: list[tuple[str, list[dict[str, object]]]] = []
    for message in messages:
        if message.role == "system":
            continue
        role, blocks = _upstream_blocks(message)
        if not blocks:
            continue
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(blocks)
        else:
            turns.append((role, blocks))
    return [
        {"role": role, "content": _tool_results_first(blocks) if role == "user" else blocks}
        for role, blocks in turns
    ]


def _upstream_blocks(message: Message) -> tuple[str, list[dict[str, object]]]:
    if message.role == "tool":
        result: dict[str, object] = {"type": "tool_result", "tool_use_id": message.tool_call_id}
        if message.content:
            result["content"] = message.content
        return "user", [result]
    # Anthropic rejects empty text blocks.
    blocks: list[dict[str, object]] = []
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    if message.role == "assistant":
        blocks.extend(_tool_use_block(call) for call in message.tool_calls)
    return message.role, blocks


def _tool_results_first(blocks: list[dict[str, object]]) -> list[dict[str, object]]:
    # Anthropic requires tool_result blocks before any text in a user turn.
    return sorted(blocks, key=lambda block: block["type"] != "tool_result")


def _upstream_tool(tool: Tool) -> dict[str, object]:
    upstream: dict[str, object] = {
        "name": tool.name,
        "input_schema": tool.parameters or {"type": "object", "properties": {}},
    }
    if tool.description:
        upstream["description"] = tool.description
    return upstream


def _upstream_tool_choice(choice: ToolChoice) -> dict[str, object]:
    upstream: dict[str, object] = {"type": _UPSTREAM_TOOL_CHOICE[choice.mode]}
    if choice.mode == "tool":
        upstream["name"] = choice.name
    return upstream


def _format_instruction(request: ChatRequest) -> str:
    # Anthropic's structured outputs (output_config.format) reject some JSON Schema
    # features and older models; an instruction works everywhere.
    response_format = request.response_format or {}
    kind = response_format.get("type")
    if kind == "json_object":
        return _JSON_ONLY
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if schema:
            return f"{_JSON_ONLY} It must match this JSON Schema: {json.dumps(schema)}"
        return _JSON_ONLY
    return ""


# ---------------------------------------------------------------------------------------
# Upstream-facing: Anthropic answers -> Completion / StreamEvents
# ---------------------------------------------------------------------------------------

_FINISH_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def _finish_reason(stop_reason: str | None) -> FinishReason:
    return _FINISH_REASONS.get(stop_reason or "", "stop")


def _prompt_tokens(usage: anthropic_types.Usage) -> int:
    # Anthropic counts cache writes and reads apart from input_tokens; the prompt's size
    # is their sum.
    return (
        usage.input_tokens
        + (usage.cache_creation_input_tokens or 0)
        + (usage.cache_read_input_tokens or 0)
    )


def from_anthropic_message(message: anthropic_types.Message) -> Completion:
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in message.content:
        if isinstance(block, anthropic_types.TextBlock):
            texts.append(block.text)
        elif isinstance(block, anthropic_types.ToolUseBlock):
            arguments = json.dumps(block.input, ensure_ascii=False)
            calls.append(ToolCall(id=block.id, name=block.name, arguments=arguments))
    usage = Usage(
        input_tokens=_prompt_tokens(message.usage), output_tokens=message.usage.output_tokens
    )
    return Completion(
        text="".join(texts),
        finish_reason=_finish_reason(message.stop_reason),
        usage=usage,
        model=message.model,
        tool_calls=calls,
    )


class EventDecoder:
    """Anthropic's raw stream events -> StreamEvents, one decoder per stream."""

    def __init__(self) -> None:
        self.model = ""
        self.stopped = False  # saw message_stop: the stream is complete
        self._usage = anthropic_types.Usage(input_tokens=0, output_tokens=0)
        self._stop_reason: str | None = None
        self._tool_calls = 0
        self._tool_index_by_block: dict[int, int] = {}

    def decode(self, event: anthropic_types.RawMessageStreamEvent) -> list[StreamEvent]:
        if isinstance(event, anthropic_types.RawContentBlockDeltaEvent):
            return self._delta(event)
        if isinstance(event, anthropic_types.RawContentBlockStartEvent):
            return self._block_start(event)
        if isinstance(event, anthropic_types.RawMessageStartEvent):
            self.model = event.message.model
            self._usage = event.message.usage.model_copy()
        elif isinstance(event, anthropic_types.RawMessageDeltaEvent):
            self._message_delta(event)
        elif isinstance(event, anthropic_types.RawMessageStopEvent):
            self.stopped = True
        return []

    def finish(self) -> StreamEnd:
        usage = Usage(
            input_tokens=_prompt_tokens(self._usage), output_tokens=self._usage.output_tokens
        )
        return StreamEnd(
            finish_reason=_finish_reason(self._stop_reason), usage=usage, model=self.model
        )

    def _block_start(self, event: anthropic_types.RawContentBlockStartEvent) -> list[StreamEvent]:
        block = event.content_block
        if isinstance(block, anthropic_types.ToolUseBlock):
            index = self._tool_index_by_block[event.index] = self._tool_calls
            self._tool_calls += 1
            arguments = json.dumps(block.input) if block.input else ""
            return [ToolCallDelta(index=index, id=block.id, name=block.name, arguments=arguments)]
        if isinstance(block, anthropic_types.TextBlock) and block.text:
            return [TextDelta(text=block.text)]
        return []

    def _delta(self, event: anthropic_types.RawContentBlockDeltaEvent) -> list[StreamEvent]:
        delta = event.delta
        if isinstance(delta, anthropic_types.TextDelta):
            return [TextDelta(text=delta.text)] if delta.text else []
        if isinstance(delta, anthropic_types.InputJSONDelta) and delta.partial_json:
            index = self._tool_index_by_block.get(event.index)
            if index is not None:
                return [ToolCallDelta(index=index, arguments=delta.partial_json)]
        return []  # thinking, signatures, citations: not part of the gateway's model

    def _message_delta(self, event: anthropic_types.RawMessageDeltaEvent) -> None:
        if event.delta.stop_reason is not None:
            self._stop_reason = event.delta.stop_reason
        # Counts here are cumulative totals that replace message_start's; the optional ones
        # are left out when unchanged, so those keep their earlier value.
        delta, usage = event.usage, self._usage
        usage.output_tokens = delta.output_tokens
        if delta.input_tokens is not None:
            usage.input_tokens = delta.input_tokens
        if delta.cache_creation_input_tokens is not None:
            usage.cache_creation_input_tokens = delta.cache_creation_input_tokens
        if delta.cache_read_input_tokens is not None:
            usage.cache_read_input_tokens = delta.cache_read_input_tokens
