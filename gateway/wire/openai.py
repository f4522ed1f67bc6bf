"""The OpenAI Chat Completions wire format, in both directions.

Client-facing: parse a ``/v1/chat/completions`` body into a ``ChatRequest`` and render our
``Completion`` / ``StreamEvent``s as OpenAI JSON and SSE frames. Upstream-facing: turn a
``ChatRequest`` into ``chat.completions.create`` arguments for OpenAI-compatible servers
and their answers back into our types.

Input is validated with pydantic (strict: the official API rejects ``"max_tokens": "10"``,
so do we); output is built from plain dicts, because rendering is on the hot path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from core.errors import ApplicationError, ValidationFailed, error_body
from gateway.pipelines.grounding import grounded
from gateway.types import (
    ChatRequest,
    Citations,
    Completion,
    FinishReason,
    Message,
    Role,
    StreamEnd,
    StreamEvent,
    TextDelta,
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    Usage,
)

Pipeline = Literal["auto", "direct", "rag", "agent"]

_EMPTY_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}
_MAX_STOP_SEQUENCES = 4


# One encoder, reused: json.dumps builds a new one per call for non-default options,
# which doubles the cost of each stream frame.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _dumps(payload: object) -> bytes:
    return _encode(payload).encode()


# --------------------------------------------------------------------------------------
# Client-facing input: pydantic models of the request body
# --------------------------------------------------------------------------------------


def _content_as_parts(value: object) -> object:
    # A string is shorthand for one text part; normalising here keeps unions (and their
    # confusing per-branch errors) out of the schema.
    if value is None or isinstance(value, list):
        return value
    if isinstance(value, str):
        return [{"type": "text", "text": value}]
    raise ValueError("must be a string or a list of content parts")


def _stop_as_list(value: object) -> object:
    if value is None or isinstance(value, list):
        return value
    if isinstance(value, str):
        return [value]
    raise ValueError("must be a string or a list of strings")


class _In(BaseModel):
    # Clients send many fields we do not use (seed, logit_bias, ...): ignore, never reject.
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)


class _ContentPart(_In):
    type: str
    text: str | None = None
    refusal: str | None = None


class _FunctionCallIn(_In):
    name: str
    arguments: str


class _ToolCallIn(_In):
    id: str
    type: Literal["function"] = "function"
    function: _FunctionCallIn


class _MessageIn(_In):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Annotated[list[_ContentPart] | None, BeforeValidator(_content_as_parts)] = None
    name: str | None = None
    tool_calls: list[_ToolCallIn] | None = None
    tool_call_id: str | None = None


class _FunctionIn(_In):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None


class _ToolIn(_In):
    type: Literal["function"]
    function: _FunctionIn


class _StreamOptionsIn(_In):
    include_usage: bool = False


class _ChatBody(_In):
    model: str = Field(min_length=1)
    messages: list[_MessageIn] = Field(min_length=1)
    stream: bool = False
    stream_options: _StreamOptionsIn | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    n: int | None = None
    stop: Annotated[
        list[str] | None, BeforeValidator(_stop_as_list), Field(max_length=_MAX_STOP_SEQUENCES)
    ] = None
    tools: list[_ToolIn] | None = None
    tool_choice: object = None  # a string or an object: checked by hand for a clear message
    response_format: dict[str, Any] | None = None
    user: str | None = None
    pipeline: Pipeline | None = None
    collections: list[Annotated[str, Field(min_length=1)]] | None = None


@dataclass(frozen=True, slots=True)
class OpenAIChatCall:
    """A parsed client call: the neutral request plus what only this wire format knows."""

    model: str
    stream: bool
    include_usage: bool
    request: ChatRequest
    pipeline: Pipeline | None = None
    collections: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------
# Client-facing input: parsing
# --------------------------------------------------------------------------------------


def parse_chat_request(
    body: object, *, max_tokens_ceiling: int, default_max_tokens: int, max_messages: int
) -> OpenAIChatCall:
    """Validate a ``/v1/chat/completions`` body; every problem is a ``ValidationFailed``."""
    if not isinstance(body, dict):
        raise ValidationFailed("The request body must be a JSON object.")
    messages = body.get("messages")
    # Checked before pydantic so an oversized history is refused without validating it.
    if isinstance(messages, list) and len(messages) > max_messages:
        raise ValidationFailed(
            f"Too many messages: {len(messages)}; the limit is {max_messages}.",
            param="messages",
        )
    try:
        parsed = _ChatBody.model_validate(body)
    except ValidationError as exc:
        raise _validation_failed(exc) from None
    tools = [_tool(tool) for tool in parsed.tools or []]
    request = ChatRequest(
        messages=_messages(parsed.messages),
        max_tokens=_max_tokens(parsed, ceiling=max_tokens_ceiling, default=default_max_tokens),
        temperature=parsed.temperature,
        top_p=parsed.top_p,
        stop=list(parsed.stop or []),
        tools=tools,
        tool_choice=_tool_choice(parsed.tool_choice, tools),
        response_format=parsed.response_format,
        user=parsed.user,
    )
    if parsed.n is not None and parsed.n != 1:
        raise ValidationFailed("only n=1 is supported", param="n")
    include_usage = parsed.stream_options is not None and parsed.stream_options.include_usage
    return OpenAIChatCall(
        model=parsed.model,
        stream=parsed.stream,
        include_usage=parsed.stream and include_usage,
        request=request,
        pipeline=parsed.pipeline,
        collections=list(parsed.collections or []),
    )


# Pydantic speaks Python ("dictionary or instance of _MessageIn"); clients speak JSON.
_JSON_WORDING = {
    "model_type": "Expected an object",
    "dict_type": "Expected an object",
    "list_type": "Expected an array",
    "string_type": "Expected a string",
    "int_type": "Expected an integer",
    "float_type": "Expected a number",
    "bool_type": "Expected a boolean",
}


def _validation_failed(exc: ValidationError) -> ValidationFailed:
    error = exc.errors(include_url=False)[0]
    param = _param(error["loc"])
    if error["type"] == "missing":
        return ValidationFailed(f"Missing required parameter: '{param}'.", param=param)
    message = _JSON_WORDING.get(error["type"]) or str(error["msg"]).removeprefix("Value error, ")
    return ValidationFailed(f"Invalid '{param}': {message}.", param=param or None)


def _param(loc: tuple[int | str, ...]) -> str:
    """``("messages", 2, "role")`` -> ``"messages[2].role"``, the name clients know."""
    param = ""
    for part in loc:
        if isinstance(part, int):
            param += f"[{part}]"
        elif part.isidentifier():  # skips pydantic's union-branch tags like "list[str]"
            param += f".{part}" if param else part
    return param


def _max_tokens(parsed: _ChatBody, *, ceiling: int, default: int) -> int:
    # max_completion_tokens is the current name; max_tokens the deprecated one.
    if parsed.max_completion_tokens is not None:
        value, param = parsed.max_completion_tokens, "max_completion_tokens"
    elif parsed.max_tokens is not None:
        value, param = parsed.max_tokens, "max_tokens"
    else:
        return min(default, ceiling)
    if value < 1:
        raise ValidationFailed(f"{param} must be at least 1.", param=param)
    if value > ceiling:
        raise ValidationFailed(
            f"{param} is {value}, above this gateway's limit of {ceiling}.", param=param
        )
    return value


def _messages(raw: list[_MessageIn]) -> list[Message]:
    messages: list[Message] = []
    call_ids: set[str] = set()
    for index, item in enumerate(raw):
        message = _message(item, index)
        if message.role == "tool" and message.tool_call_id not in call_ids:
            # Every upstream rejects an orphan tool result; say so before spending a call.
            raise ValidationFailed(
                "A tool message must answer a tool call of an earlier assistant message.",
                param=f"messages[{index}].tool_call_id",
            )
        call_ids.update(call.id for call in message.tool_calls)
        messages.append(message)
    return messages


def _message(item: _MessageIn, index: int) -> Message:
    where = f"messages[{index}]"
    role: Role = "system" if item.role == "developer" else item.role
    text = _text(item.content, role=role, param=f"{where}.content")
    if item.tool_calls and role != "assistant":
        raise ValidationFailed(
            "Only assistant messages may have tool_calls.", param=f"{where}.tool_calls"
        )
    tool_calls = [
        ToolCall(id=call.id, name=call.function.name, arguments=call.function.arguments)
        for call in item.tool_calls or []
    ]
    if item.content is None and not tool_calls:
        raise ValidationFailed(
            f"A message with role '{item.role}' needs content.", param=f"{where}.content"
        )
    if role == "tool" and not item.tool_call_id:
        raise ValidationFailed(
            "A tool message needs a tool_call_id.", param=f"{where}.tool_call_id"
        )
    return Message(
        role=role,
        content=text,
        tool_calls=tool_calls,
        tool_call_id=item.tool_call_id if role == "tool" else None,
        name=item.name,
    )


def _text(parts: list[_ContentPart] | None, *, role: Role, param: str) -> str:
    texts: list[str] = []
    for index, part in enumerate(parts or []):
        if part.type == "text" and part.text is not None:
            texts.append(part.text)
        elif part.type == "refusal" and role == "assistant" and part.refusal is not None:
            texts.append(part.refusal)
        elif part.type in ("text", "refusal"):
            raise ValidationFailed(
                f"Content part {index} of type '{part.type}' has no {part.type} field.",
                param=param,
            )
        else:
            raise ValidationFailed(
                f"Content parts of type '{part.type}' are not supported; send text.",
                param=param,
            )
    # Parts are fragments of one message: OpenAI concatenates them without a separator.
    return "".join(texts)


def _tool(item: _ToolIn) -> Tool:
    function = item.function
    return Tool(
        name=function.name,
        description=function.description or "",
        parameters=function.parameters or dict(_EMPTY_PARAMETERS),
    )


_CHOICE_MODES: dict[str, Literal["none", "auto", "required"]] = {
    "none": "none",
    "auto": "auto",
    "required": "required",
}


def _tool_choice(raw: object, tools: list[Tool]) -> ToolChoice | None:
    if raw is None:
        return None
    choice = _parse_tool_choice(raw)
    if not tools:
        if choice.mode in ("none", "auto"):
            return None  # harmless without tools; some clients always send it
        raise ValidationFailed("tool_choice requires tools to choose from.", param="tool_choice")
    if choice.mode == "tool" and choice.name not in {tool.name for tool in tools}:
        raise ValidationFailed(
            f"tool_choice names '{choice.name}', which is not among the tools.",
            param="tool_choice.function.name",
        )
    return choice


def _parse_tool_choice(raw: object) -> ToolChoice:
    if isinstance(raw, str) and raw in _CHOICE_MODES:
        return ToolChoice(mode=_CHOICE_MODES[raw])
    if isinstance(raw, dict) and raw.get("type") == "function":
        function = raw.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        if isinstance(name, str) and name:
            return ToolChoice(mode="tool", name=name)
    raise ValidationFailed(
        "tool_choice must be 'none', 'auto', 'required' or "
        '{"type": "function", "function": {"name": ...}}.',
        param="tool_choice",
    )


# --------------------------------------------------------------------------------------
# Client-facing output: completions, stream frames, errors, models
# --------------------------------------------------------------------------------------


def _usage(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
    }


def _tool_calls(calls: list[ToolCall]) -> list[dict[str, object]]:
    return [
        {
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments},
        }
        for call in calls
    ]


def render_completion(
    completion: Completion,
    *,
    response_id: str,
    model: str,
    created: int,
    extra: dict[str, object] | None = None,
) -> dict[str, object]:
    """The ``chat.completion`` object; ``extra`` keys (x_gateway, citations) go on top."""
    message: dict[str, object] = {
        "role": "assistant",
        "content": None if completion.tool_calls and not completion.text else completion.text,
        "refusal": None,
    }
    if completion.tool_calls:
        message["tool_calls"] = _tool_calls(completion.tool_calls)
    rendered: dict[str, object] = {
        "id": response_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": completion.finish_reason,
            }
        ],
        "usage": _usage(completion.usage),
        "system_fingerprint": None,
    }
    if extra:
        rendered.update(extra)
    return rendered


class ChatStreamEncoder:
    """Our stream events as ``chat.completion.chunk`` SSE frames, one response's worth."""

    def __init__(self, *, response_id: str, model: str, created: int, include_usage: bool):
        self._include_usage = include_usage
        self._started = False
        self._base: dict[str, object] = {
            "id": response_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": None,
        }
        # Every chunk shares these fields: serialise them once, splice in the choices.
        self._head = b"data: " + _dumps(self._base)[:-1] + b',"choices":['
        # Upstream indices can count non-tool blocks (Anthropic numbers every content
        # block); clients expect tool calls numbered 0, 1, ... in order of appearance.
        self._tool_indices: dict[int, int] = {}
        self._citations: Citations | None = None

    def encode(self, event: StreamEvent) -> bytes:
        frames = b"" if self._started else self._choice({"role": "assistant", "content": ""})
        self._started = True
        if isinstance(event, Citations):
            self._citations = event  # sent last, just before [DONE] (see ``done``)
            return frames
        if isinstance(event, TextDelta):
            return frames + self._choice({"content": event.text}) if event.text else frames
        if isinstance(event, ToolCallDelta):
            return frames + self._choice({"tool_calls": [self._tool_call(event)]})
        frames += self._choice({}, finish_reason=event.finish_reason)
        if self._include_usage:
            frames += self.extra_frame({"usage": _usage(event.usage)})
        return frames

    def extra_frame(self, payload: dict[str, object]) -> bytes:
        # Shaped as a chunk with no choices (like the usage chunk), so SDK clients that
        # parse every frame as ChatCompletionChunk accept it.
        return b"data: " + _dumps({**self._base, "choices": [], **payload}) + b"\n\n"

    def error(self, exc: ApplicationError) -> bytes:
        body = error_body(exc.message, error_type=exc.error_type, code=exc.code, param=exc.param)
        return b"data: " + _dumps(body) + b"\n\n"

    def done(self) -> bytes:
        frames = b""
        if self._citations is not None:
            citations = [c.as_dict() for c in self._citations.citations]
            frames = self.extra_frame({"citations": citations})
        return frames + b"data: [DONE]\n\n"

    def _tool_call(self, event: ToolCallDelta) -> dict[str, object]:
        first = event.index not in self._tool_indices
        if first:
            self._tool_indices[event.index] = len(self._tool_indices)
        call: dict[str, object] = {"index": self._tool_indices[event.index]}
        if event.id is not None:
            call["id"] = event.id
        if first:
            call["type"] = "function"
        function: dict[str, str] = {"arguments": event.arguments}
        if event.name is not None:
            function["name"] = event.name
        call["function"] = function
        return call

    def _choice(self, delta: dict[str, object], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return self._head + _dumps(choice) + b"]}\n\n"


def render_error(exc: ApplicationError, *, request_id: str) -> dict[str, object]:
    return {
        "error": {
            "message": exc.message,
            "type": exc.error_type,
            "param": exc.param,
            "code": exc.code,
            "request_id": request_id,
        }
    }


def error_status(exc: ApplicationError) -> int:
    return exc.status_code


def render_model(model_id: str, *, created: int, owned_by: str) -> dict[str, object]:
    return {"id": model_id, "object": "model", "created": created, "owned_by": owned_by}


def render_model_list(items: Iterable[dict[str, object]]) -> dict[str, object]:
    return {"object": "list", "data": list(items)}


# --------------------------------------------------------------------------------------
# Upstream-facing: requests to OpenAI-compatible servers and their answers
# --------------------------------------------------------------------------------------


def to_openai_params(request: ChatRequest, *, model: str, stream: bool) -> dict[str, object]:
    """Keyword arguments for ``client.chat.completions.create``.

    Optional sampling fields are sent only when set: local servers (Ollama, llama.cpp)
    then use the model's own defaults, and some reject fields they do not know.
    """
    request = grounded(request)  # retrieved passages become a delimited system message
    params: dict[str, object] = {
        "model": model,
        "messages": [_upstream_message(message) for message in request.messages],
        # Not max_completion_tokens: vLLM, Ollama and llama.cpp only know max_tokens.
        "max_tokens": request.max_tokens,
    }
    if request.temperature is not None:
        params["temperature"] = request.temperature
    if request.top_p is not None:
        params["top_p"] = request.top_p
    if request.stop:
        params["stop"] = list(request.stop)
    if request.tools:
        params["tools"] = [_upstream_tool(tool) for tool in request.tools]
        if request.tool_choice is not None:
            params["tool_choice"] = _upstream_tool_choice(request.tool_choice)
    if request.response_format is not None:
        params["response_format"] = request.response_format
    if request.user:
        params["user"] = request.user
    if stream:
        params["stream"] = True
        params["stream_options"] = {"include_usage": True}
    return params


def _upstream_message(message: Message) -> dict[str, object]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    rendered: dict[str, object] = {"role": message.role, "content": message.content}
    if message.role == "assistant" and message.tool_calls:
        rendered["content"] = message.content or None
        rendered["tool_calls"] = _tool_calls(message.tool_calls)
    if message.name:
        rendered["name"] = message.name
    return rendered


def _upstream_tool(tool: Tool) -> dict[str, object]:
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
        },
    }


def _upstream_tool_choice(choice: ToolChoice) -> object:
    if choice.mode == "tool":
        return {"type": "function", "function": {"name": choice.name}}
    return choice.mode


# --- Upstream answers (decoded JSON) -> our types ----------------------------------------

_FINISH_REASONS: dict[object, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "content_filter": "content_filter",
    "function_call": "tool_calls",
}


def _upstream_finish_reason(raw: object) -> FinishReason:
    # Unknown values from compatible servers ("eos", "end_turn") mean a natural stop.
    return _FINISH_REASONS.get(raw, "stop")


def _fields(value: object) -> dict[str, Any]:
    """Lax servers send null, or leave fields out: read both as empty."""
    return value if isinstance(value, dict) else {}


def _upstream_usage(raw: object) -> Usage | None:
    usage = _fields(raw)
    if not usage:
        return None
    return Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))


def completion_from_json(data: dict[str, Any]) -> Completion:
    choices = data.get("choices") or []
    text, calls, finish = "", [], _upstream_finish_reason(None)
    if choices:
        choice = _fields(choices[0])
        message = _fields(choice.get("message"))
        text = message.get("content") or message.get("refusal") or ""
        calls = [
            ToolCall(
                id=str(call.get("id") or ""),
                name=str(_fields(call.get("function")).get("name") or ""),
                arguments=str(_fields(call.get("function")).get("arguments") or ""),
            )
            for call in (message.get("tool_calls") or [])
            if isinstance(call, dict) and call.get("type", "function") == "function"
        ]
        finish = _upstream_finish_reason(choice.get("finish_reason"))
    return Completion(
        text=str(text),
        finish_reason=finish,
        # Some compatible servers omit usage; zeros make the gap visible in the ledger.
        usage=_upstream_usage(data.get("usage")) or Usage(),
        model=str(data.get("model") or ""),
        tool_calls=calls,
    )


class ChunkDecoder:
    """Chunks (decoded JSON) of one upstream stream -> our ``StreamEvent``s."""

    def __init__(self) -> None:
        self._finish_reason: object = None
        self._usage: Usage | None = None
        self._model = ""
        self._deltas = 0  # stands in for output tokens when the server sends no usage

    @property
    def finished(self) -> bool:
        """Whether upstream said why it stopped; a stream without it was cut short."""
        return self._finish_reason is not None

    def decode(self, raw: object) -> list[StreamEvent]:
        chunk = _fields(raw)
        if chunk.get("model"):
            self._model = str(chunk["model"])
        usage = _upstream_usage(chunk.get("usage"))
        if usage is not None:
            self._usage = usage
        events: list[StreamEvent] = []
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue  # we always ask for n=1
            delta = _fields(choice.get("delta"))
            content = delta.get("content")
            if content:
                self._deltas += 1
                events.append(TextDelta(str(content)))
            for call in delta.get("tool_calls") or []:
                self._deltas += 1
                function = _fields(call.get("function"))
                events.append(
                    ToolCallDelta(
                        index=int(call.get("index") or 0),
                        id=call.get("id") or None,
                        name=function.get("name") or None,
                        arguments=function.get("arguments") or "",
                    )
                )
            if choice.get("finish_reason") is not None:
                self._finish_reason = choice["finish_reason"]
        return events

    def finish(self, model: str) -> StreamEnd:
        usage = self._usage if self._usage is not None else Usage(0, self._deltas)
        return StreamEnd(
            finish_reason=_upstream_finish_reason(self._finish_reason),
            usage=usage,
            model=self._model or model,
        )
