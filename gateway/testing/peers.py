"""Local stand-ins for the OpenAI and Anthropic HTTP APIs, for tests and benchmarks.

The gateway talks to providers only through the official SDKs, so the honest way to test
it is to point those SDKs at servers that speak the same wire protocols (JSON bodies, SSE
streams, error shapes, status codes, request-id headers) and can be told to be slow or to
fail. This module is that server: a raw ASGI app (`PeerApp`) run by uvicorn, in a thread
(`PeerServer`, for tests) or in the foreground (`python -m gateway.testing.peers`, for
benchmarks). It binds 127.0.0.1 only; nothing leaves the machine.

Replies are deterministic: `behaviour.reply`, else "Echo: " + the last user message. A
"token" is a whitespace-separated word; streams send one per delta, spaces kept.

One module on purpose (past the ~500 line guide): both dialects share the reply model,
pacing and failure injection, and tests import one name.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import base64
import copy
import hashlib
import hmac
import json
import logging
import math
import random
import re
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache, partial
from typing import Any, Final, Literal, Self

import uvicorn
from pydantic import TypeAdapter

HOST: Final = "127.0.0.1"
DEFAULT_MODELS: Final = ("peer-gpt", "peer-claude")
TOOL_ARGUMENTS: Final = {"city": "Paris"}
TOOL_TRIGGER: Final = "call tool"
_FINGERPRINT: Final = "fp_peer"

Scope = MutableMapping[str, Any]
AsgiMessage = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[AsgiMessage]]
Send = Callable[[AsgiMessage], Awaitable[None]]
Flavour = Literal["openai", "anthropic"]
# Neutral reasons, mapped to each API's vocabulary when rendered.
Finish = Literal["end", "length", "stop", "tool"]

_OPENAI_FINISH: Final[dict[Finish, str]] = {
    "end": "stop",
    "length": "length",
    "stop": "stop",
    "tool": "tool_calls",
}
_ANTHROPIC_STOP: Final[dict[Finish, str]] = {
    "end": "end_turn",
    "length": "max_tokens",
    "stop": "stop_sequence",
    "tool": "tool_use",
}
_ANTHROPIC_ERROR_TYPES: Final = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    529: "overloaded_error",
}
_OPENAI_ERROR_TYPES: Final = {429: "requests"}
_OPENAI_ERROR_CODES: Final = {401: "invalid_api_key", 429: "rate_limit_exceeded"}


@dataclass
class PeerBehaviour:
    """Knobs a test or benchmark turns; every request reads a snapshot taken on arrival."""

    latency_ms: float = 0.0  # before any answer, error or drop
    ttft_ms: float = 0.0  # streams: after the headers, before the first token
    tokens_per_second: float = 0.0  # streams: pacing after the first token; 0 = unpaced
    error_rate: float = 0.0  # share of API requests answered with `error_status`
    error_status: int = 500
    fail: bool = False  # drop the connection without any HTTP response
    fail_after_tokens: int | None = None  # streams: drop the connection after N tokens
    reply: str | None = None  # fixed reply text instead of the echo
    api_key: str | None = None  # when set, requests must carry it
    embedding_dim: int = 8
    model_name_override: str | None = None  # the model name answers claim to come from
    retry_after_ms: int = 1000  # advertised on 429s
    seed: int = 0  # for `error_rate`, so failing runs repeat
    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))

    def __post_init__(self) -> None:
        problems = [
            name
            for name, ok in (
                ("error_rate must be within 0..1", 0.0 <= self.error_rate <= 1.0),
                ("error_status must be 400..599", 400 <= self.error_status <= 599),
                ("latency_ms must be >= 0", self.latency_ms >= 0),
                ("ttft_ms must be >= 0", self.ttft_ms >= 0),
                ("tokens_per_second must be >= 0", self.tokens_per_second >= 0),
                ("retry_after_ms must be >= 0", self.retry_after_ms >= 0),
                ("embedding_dim must be >= 1", self.embedding_dim >= 1),
                ("fail_after_tokens must be >= 0", (self.fail_after_tokens or 0) >= 0),
            )
            if not ok
        ]
        if problems:
            raise ValueError("; ".join(problems))


_BEHAVIOUR_FIELDS: Final = frozenset(f.name for f in fields(PeerBehaviour))
_BEHAVIOUR_ADAPTER: Final = TypeAdapter(PeerBehaviour)


def behaviour_with(current: PeerBehaviour, changes: Mapping[str, object]) -> PeerBehaviour:
    """A validated copy of `current` with `changes`; ValueError names what is wrong."""
    unknown = sorted(set(changes) - _BEHAVIOUR_FIELDS)
    if unknown:
        raise ValueError(f"unknown behaviour fields: {', '.join(unknown)}")
    return _BEHAVIOUR_ADAPTER.validate_python({**asdict(current), **changes})


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: Any  # parsed JSON; None when empty or not JSON


class _ApiError(Exception):
    """An answer in the API's own error shape; the flavour is chosen when rendering."""

    def __init__(self, status: int, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param


class _DropConnection(Exception):  # a signal, not an error
    pass


class _ClientGone(Exception):  # a signal, not an error
    pass


class _Drop:
    def __repr__(self) -> str:
        return "<peer: connection dropped on purpose>"


# uvicorn answers 500 when an app raises before `http.response.start`, but closes the
# transport without a byte when the app returns anything other than None. That is the
# only way to get a true "no response" failure out of it, so the app returns this.
DROP_CONNECTION: Final = _Drop()


class _HideDeliberateDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        return not (isinstance(args, tuple) and args and args[0] is DROP_CONNECTION)


def _hide_deliberate_drops() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _HideDeliberateDrops) for f in logger.filters):
        logger.addFilter(_HideDeliberateDrops())


# ---------------------------------------------------------------------------- replies


@dataclass(frozen=True, slots=True)
class _Turn:
    """What a request asks for, read from either API's vocabulary."""

    last_text: str  # the latest user message (or tool result) as plain text
    last_is_tool_result: bool
    input_tokens: int
    tool_name: str | None  # first declared tool, unless tool choice forbids calling
    max_tokens: int | None
    stop: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Answer:
    pieces: tuple[str, ...]  # text tokens, or tool-argument fragments for a tool call
    finish: Finish
    stop_sequence: str | None
    input_tokens: int
    tool_name: str | None = None

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def output_tokens(self) -> int:
        return len(self.pieces)


# Each piece is a word with the whitespace around it, so the pieces join back exactly.
_PIECE: Final = re.compile(r"\s*\S+\s*")


def _pieces(text: str) -> tuple[str, ...]:
    return tuple(_PIECE.findall(text))


def _words(text: str) -> int:
    return len(text.split())


def _answer(turn: _Turn, behaviour: PeerBehaviour) -> _Answer:
    wants_tool = TOOL_TRIGGER in turn.last_text.lower() and not turn.last_is_tool_result
    if turn.tool_name and wants_tool:
        arguments = _pieces(json.dumps(TOOL_ARGUMENTS))
        return _Answer(arguments, "tool", None, turn.input_tokens, turn.tool_name)
    text = behaviour.reply if behaviour.reply is not None else f"Echo: {turn.last_text}"
    finish: Finish = "end"
    stop_sequence = _first_stop(text, turn.stop)
    if stop_sequence is not None:
        text, finish = text[: text.index(stop_sequence)], "stop"
    pieces = _pieces(text)
    if turn.max_tokens is not None and len(pieces) > turn.max_tokens:
        pieces, finish, stop_sequence = pieces[: turn.max_tokens], "length", None
    return _Answer(pieces, finish, stop_sequence, turn.input_tokens)


def _first_stop(text: str, stops: Iterable[str]) -> str | None:
    found = [(text.find(s), s) for s in stops if s and s in text]
    return min(found)[1] if found else None


def _parts_text(content: Any) -> str:
    """Plain text of a string, an OpenAI content-part list or a list of Anthropic blocks."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    texts: list[str] = []
    for part in content:
        if not isinstance(part, dict):
            continue
        if isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif part.get("type") == "tool_result":
            texts.append(_parts_text(part.get("content")))
    return " ".join(texts)


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _ApiError(400, f"{where}: expected an object", param=where)
    return value


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _ApiError(400, "messages: a non-empty list is required", param="messages")
    return [_object(m, f"messages[{i}]") for i, m in enumerate(messages)]


def _positive_int(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise _ApiError(400, f"{name}: expected an integer >= 1", param=name)


def _string_list(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
        raise _ApiError(400, f"{name}: expected a string or a list of strings", param=name)
    return tuple(items)


def _required_str(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise _ApiError(400, f"{name}: a string is required", param=name)
    return value


def _openai_turn(body: dict[str, Any]) -> _Turn:
    messages = _messages(body)
    # A tool result answers the latest user turn, so the echo follows it (useful in agent
    # loops) but it never triggers another tool call.
    last = next((m for m in reversed(messages) if m.get("role") in ("user", "tool")), {})
    tools = body.get("tools") or []
    tool_name = None
    if isinstance(tools, list) and tools and body.get("tool_choice") != "none":
        first = _object(tools[0], "tools[0]")
        spec = first.get(first.get("type", "function"))  # {"type": "function", "function": {...}}
        tool_name = spec.get("name") if isinstance(spec, dict) else None
    max_tokens = body.get("max_completion_tokens")
    if max_tokens is None:
        max_tokens = body.get("max_tokens")
    return _Turn(
        last_text=_parts_text(last.get("content")),
        last_is_tool_result=last.get("role") == "tool",
        input_tokens=sum(_words(_parts_text(m.get("content"))) for m in messages),
        tool_name=tool_name,
        max_tokens=_positive_int(max_tokens, "max_tokens"),
        stop=_string_list(body.get("stop"), "stop"),
    )


def _anthropic_turn(body: dict[str, Any], *, needs_max_tokens: bool = True) -> _Turn:
    messages = _messages(body)
    if needs_max_tokens and body.get("max_tokens") is None:
        raise _ApiError(400, "max_tokens: Field required", param="max_tokens")
    last = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    content = last.get("content")
    blocks = content if isinstance(content, list) else []
    tools = body.get("tools") or []
    choice = body.get("tool_choice")
    tool_name = None
    if (
        isinstance(tools, list)
        and tools
        and not (isinstance(choice, dict) and choice.get("type") == "none")
    ):
        tool_name = _object(tools[0], "tools.0").get("name")
    texts = [_parts_text(body.get("system")), *(_parts_text(m.get("content")) for m in messages)]
    return _Turn(
        last_text=_parts_text(content),
        last_is_tool_result=any(
            isinstance(b, dict) and b.get("type") == "tool_result" for b in blocks
        ),
        input_tokens=sum(_words(t) for t in texts),
        tool_name=tool_name,
        max_tokens=_positive_int(body.get("max_tokens"), "max_tokens"),
        stop=_string_list(body.get("stop_sequences"), "stop_sequences"),
    )


def _new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:24]}"


@lru_cache(maxsize=4096)
def embedding_vector(text: str, dim: int) -> tuple[float, ...]:
    """A unit vector derived from a hash of `text`: equal inputs, equal vectors."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
    rng = random.Random(seed)  # noqa: S311 - determinism wanted, not secrecy
    raw = [rng.gauss(0.0, 1.0) for _ in range(dim)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return tuple(x / norm for x in raw)


# ----------------------------------------------------------------------------- wire


_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_PIECE_SLOT: Final = "__peer_piece__"


def _dumps(payload: Any) -> bytes:
    return _ENCODER.encode(payload).encode()


def _openai_data(payload: Any) -> bytes:
    return b"data: " + _dumps(payload) + b"\n\n"


def _anthropic_event(name: str, payload: dict[str, Any]) -> bytes:
    # The Anthropic SDK skips SSE events without an `event:` line, so it is not optional.
    return b"event: " + name.encode() + b"\ndata: " + _dumps(payload) + b"\n\n"


def _token_framer(frame: Callable[[Any], bytes], payload: Any) -> Callable[[str], bytes]:
    """Encode a frame whose payload holds `_PIECE_SLOT` once; each token then costs one
    string encode rather than a whole JSON document (streams send a frame per word)."""
    before, after = frame(payload).split(_dumps(_PIECE_SLOT), 1)

    def render(piece: str) -> bytes:
        return before + _dumps(piece) + after

    return render


def _error_body(flavour: Flavour, error: _ApiError, request_id: str) -> dict[str, Any]:
    status = error.status
    if flavour == "anthropic":
        kind = _ANTHROPIC_ERROR_TYPES.get(
            status, "api_error" if status >= 500 else "invalid_request_error"
        )
        return {
            "type": "error",
            "error": {"type": kind, "message": error.message},
            "request_id": request_id,
        }
    kind = _OPENAI_ERROR_TYPES.get(
        status, "server_error" if status >= 500 else "invalid_request_error"
    )
    return {
        "error": {
            "message": error.message,
            "type": kind,
            "param": error.param,
            "code": _OPENAI_ERROR_CODES.get(status),
        }
    }


class _Exchange:
    """One request/response pair: the behaviour snapshot, headers and the SSE plumbing."""

    def __init__(
        self, app: PeerApp | None, behaviour: PeerBehaviour, receive: Receive, send: Send
    ) -> None:
        self.behaviour = behaviour
        self.request_id = _new_id("req_")
        self._app = app  # None for control requests, which are not counted
        self._receive = receive
        self._send = send
        self._disconnect: asyncio.Future[AsgiMessage] | None = None

    async def start(
        self, status: int, content_type: bytes, extra: Sequence[tuple[bytes, bytes]] = ()
    ) -> None:
        if self._app is not None:
            self._app.status_counts[status] += 1
        rid = self.request_id.encode()
        headers = [
            (b"content-type", content_type),
            (b"request-id", rid),
            (b"x-request-id", rid),
            *extra,
        ]
        await self._send({"type": "http.response.start", "status": status, "headers": headers})

    async def json(
        self, status: int, payload: Any, extra: Sequence[tuple[bytes, bytes]] = ()
    ) -> None:
        data = _dumps(payload)
        length = (b"content-length", str(len(data)).encode())
        await self.start(status, b"application/json", [length, *extra])
        await self._send({"type": "http.response.body", "body": data})

    async def error(self, flavour: Flavour, error: _ApiError) -> None:
        extra: list[tuple[bytes, bytes]] = []
        if error.status == 429:
            ms = self.behaviour.retry_after_ms
            extra = [
                (b"retry-after", str(math.ceil(ms / 1000)).encode()),
                (b"retry-after-ms", str(ms).encode()),
            ]
        await self.json(error.status, _error_body(flavour, error, self.request_id), extra)

    async def open_stream(self) -> None:
        await self.start(
            200, b"text/event-stream; charset=utf-8", [(b"cache-control", b"no-cache")]
        )
        # uvicorn's receive() returns once the client goes away; watching it lets a stream
        # stop early instead of pacing tokens into a closed socket.
        self._disconnect = asyncio.ensure_future(self._receive())

    @property
    def client_gone(self) -> bool:
        return self._disconnect is not None and self._disconnect.done()

    async def write(self, frames: Sequence[bytes]) -> None:
        if frames:
            await self._send(
                {"type": "http.response.body", "body": b"".join(frames), "more_body": True}
            )

    async def finish(self, frames: Sequence[bytes] = ()) -> None:
        await self._send({"type": "http.response.body", "body": b"".join(frames)})

    def close(self) -> None:
        if self._disconnect is not None:
            self._disconnect.cancel()

    async def emit_tokens(
        self,
        pieces: Sequence[str],
        render: Callable[[str], bytes],
        head: Sequence[bytes] = (),
    ) -> bool:
        """Send `head` with the first token, then one token per write, paced by the
        behaviour; drops the connection after `fail_after_tokens`. False if the client left."""
        behaviour = self.behaviour
        gap = 1.0 / behaviour.tokens_per_second if behaviour.tokens_per_second else 0.0
        await _sleep_ms(behaviour.ttft_ms)
        first_at = time.monotonic()
        pending = list(head)
        for index, piece in enumerate(pieces):
            if behaviour.fail_after_tokens is not None and index >= behaviour.fail_after_tokens:
                await self.write(pending)
                raise _DropConnection
            if gap and index:
                await asyncio.sleep(max(0.0, first_at + index * gap - time.monotonic()))
            if self.client_gone:
                return False
            await self.write([*pending, render(piece)])
            pending = []
        await self.write(pending)
        return True


async def _sleep_ms(ms: float) -> None:
    if ms > 0:
        await asyncio.sleep(ms / 1000)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


# ------------------------------------------------------------------------ renderers


def _openai_usage(answer: _Answer) -> dict[str, Any]:
    return {
        "prompt_tokens": answer.input_tokens,
        "completion_tokens": answer.output_tokens,
        "total_tokens": answer.input_tokens + answer.output_tokens,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def _openai_completion(answer: _Answer, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": answer.text,
        "refusal": None,
        "annotations": [],
    }
    if answer.tool_name:
        function = {"name": answer.tool_name, "arguments": answer.text}
        message["content"] = None
        message["tool_calls"] = [{"id": _new_id("call_"), "type": "function", "function": function}]
    return {
        "id": _new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": _OPENAI_FINISH[answer.finish],
                "logprobs": None,
            }
        ],
        "usage": _openai_usage(answer),
        "system_fingerprint": _FINGERPRINT,
    }


async def _openai_stream(ex: _Exchange, answer: _Answer, model: str, include_usage: bool) -> None:
    base: dict[str, Any] = {
        "id": _new_id("chatcmpl-"),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": _FINGERPRINT,
    }
    if include_usage:
        base["usage"] = None  # as documented: every chunk but the last carries a null usage

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return _openai_data({**base, "choices": [choice]})

    if answer.tool_name:
        header = {"index": 0, "id": _new_id("call_"), "type": "function"}
        head = [
            chunk({"role": "assistant", "content": None, "refusal": None}),
            chunk(
                {
                    "tool_calls": [
                        {**header, "function": {"name": answer.tool_name, "arguments": ""}}
                    ]
                }
            ),
        ]

        delta: dict[str, Any] = {
            "tool_calls": [{"index": 0, "function": {"arguments": _PIECE_SLOT}}]
        }
    else:
        head = [chunk({"role": "assistant", "content": "", "refusal": None})]
        delta = {"content": _PIECE_SLOT}
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}
    render = _token_framer(_openai_data, {**base, "choices": [choice]})

    await ex.open_stream()
    if not await ex.emit_tokens(answer.pieces, render, head):
        return  # the client left
    tail = [chunk({}, _OPENAI_FINISH[answer.finish])]
    if include_usage:
        tail.append(_openai_data({**base, "choices": [], "usage": _openai_usage(answer)}))
    await ex.finish([*tail, b"data: [DONE]\n\n"])


def _anthropic_message(answer: _Answer, model: str) -> dict[str, Any]:
    content: list[dict[str, Any]]
    if answer.tool_name:
        content = [
            {
                "type": "tool_use",
                "id": _new_id("toolu_"),
                "name": answer.tool_name,
                "input": TOOL_ARGUMENTS,
            }
        ]
    else:
        content = [{"type": "text", "text": answer.text}]
    return {
        "id": _new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _ANTHROPIC_STOP[answer.finish],
        "stop_sequence": answer.stop_sequence,
        "usage": {
            "input_tokens": answer.input_tokens,
            "output_tokens": answer.output_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


async def _anthropic_stream(ex: _Exchange, answer: _Answer, model: str) -> None:
    start = {
        **_anthropic_message(answer, model),
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
    }
    start["usage"] = {**start["usage"], "output_tokens": 0}
    if answer.tool_name:
        block: dict[str, Any] = {
            "type": "tool_use",
            "id": _new_id("toolu_"),
            "name": answer.tool_name,
            "input": {},
        }
        delta = {"type": "input_json_delta", "partial_json": _PIECE_SLOT}
    else:
        block = {"type": "text", "text": ""}
        delta = {"type": "text_delta", "text": _PIECE_SLOT}
    render = _token_framer(
        partial(_anthropic_event, "content_block_delta"),
        {"type": "content_block_delta", "index": 0, "delta": delta},
    )

    await ex.open_stream()
    await ex.write(
        [
            _anthropic_event("message_start", {"type": "message_start", "message": start}),
            _anthropic_event(
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": block},
            ),
            _anthropic_event("ping", {"type": "ping"}),
        ]
    )
    if not await ex.emit_tokens(answer.pieces, render):
        return  # the client left
    stop = {"stop_reason": _ANTHROPIC_STOP[answer.finish], "stop_sequence": answer.stop_sequence}
    message_delta = {
        "type": "message_delta",
        "delta": stop,
        "usage": {"output_tokens": answer.output_tokens},
    }
    await ex.finish(
        [
            _anthropic_event("content_block_stop", {"type": "content_block_stop", "index": 0}),
            _anthropic_event("message_delta", message_delta),
            _anthropic_event("message_stop", {"type": "message_stop"}),
        ]
    )


# ---------------------------------------------------------------------------- app


@dataclass(frozen=True, slots=True)
class _Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def flavour(self) -> Flavour:
        # /v1/models is shared by both APIs; only the Anthropic SDK sends anthropic-version.
        if self.path.startswith("/v1/messages") or "anthropic-version" in self.headers:
            return "anthropic"
        return "openai"

    def json_object(self) -> dict[str, Any]:
        if not isinstance(self.body, dict):
            raise _ApiError(400, "The request body is not a valid JSON object.")
        return self.body


Handler = Callable[[_Request, _Exchange], Awaitable[None]]


class PeerApp:
    """The ASGI application. State lives here; `PeerServer` only runs it."""

    def __init__(
        self, behaviour: PeerBehaviour | None = None, *, record_limit: int = 10_000
    ) -> None:
        self.behaviour = behaviour if behaviour is not None else PeerBehaviour()
        self._initial = behaviour_with(self.behaviour, {})  # a copy, restored by reset()
        self.requests: list[RecordedRequest] = []
        self.request_count = 0
        self.path_counts: Counter[str] = Counter()
        self.status_counts: Counter[int] = Counter()
        self.dropped = 0
        self._record_limit = record_limit
        self._rng = random.Random(self.behaviour.seed)  # noqa: S311 - repeatable, not secret
        self._routes: dict[str, tuple[str, Handler]] = {
            "/v1/chat/completions": ("POST", self._openai_chat),
            "/v1/embeddings": ("POST", self._openai_embeddings),
            "/v1/messages": ("POST", self._anthropic_messages),
            "/v1/messages/count_tokens": ("POST", self._anthropic_count_tokens),
            "/v1/models": ("GET", self._models),
        }

    # -- state

    def set(self, **changes: object) -> PeerBehaviour:
        """Validate and apply changes in place, so references to `behaviour` stay live."""
        self._assign(behaviour_with(self.behaviour, changes))
        if "seed" in changes:
            self._rng.seed(self.behaviour.seed)
        return self.behaviour

    def reset(self) -> None:
        """Back to the behaviour the app was created with; records and counters cleared."""
        self._assign(behaviour_with(self._initial, {}))
        self.requests.clear()
        self.request_count = self.dropped = 0
        self.path_counts.clear()
        self.status_counts.clear()
        self._rng.seed(self.behaviour.seed)

    def stats(self) -> dict[str, Any]:
        return {
            "request_count": self.request_count,
            "paths": dict(self.path_counts),
            "statuses": {str(status): n for status, n in sorted(self.status_counts.items())},
            "dropped": self.dropped,
        }

    def _assign(self, source: PeerBehaviour) -> None:
        for name in _BEHAVIOUR_FIELDS:
            setattr(self.behaviour, name, getattr(source, name))

    def _record(self, request: _Request) -> None:
        self.request_count += 1
        self.path_counts[request.path] += 1
        if len(self.requests) >= self._record_limit:
            del self.requests[: self._record_limit // 2]  # long benchmarks: bounded memory
        self.requests.append(
            RecordedRequest(request.method, request.path, request.headers, request.body)
        )

    # -- ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> object:
        if scope["type"] != "http":
            return None
        try:
            raw = await _read_body(receive)
        except _ClientGone:
            return None
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        request = _Request(scope["method"], scope["path"], headers, body)
        if request.path.startswith("/_peer/"):
            await self._control(request, _Exchange(None, self.behaviour, receive, send))
            return None
        try:
            await self._api(request, receive, send)
        except _DropConnection:
            self.dropped += 1
            return DROP_CONNECTION
        return None

    async def _api(self, request: _Request, receive: Receive, send: Send) -> None:
        # A snapshot, so a knob turned mid-request does not change a request in flight.
        behaviour = copy.copy(self.behaviour)
        exchange = _Exchange(self, behaviour, receive, send)
        self._record(request)
        await _sleep_ms(behaviour.latency_ms)
        if behaviour.fail:
            raise _DropConnection
        try:
            self._check_key(request, behaviour)
            method, handler = self._route(request)
            if request.method != method:
                raise _ApiError(405, f"Method {request.method} not allowed for {request.path}.")
            if behaviour.error_rate and self._rng.random() < behaviour.error_rate:
                raise _ApiError(
                    behaviour.error_status, f"Injected failure ({behaviour.error_status})."
                )
            await handler(request, exchange)
        except _ApiError as error:  # always raised before a response has started
            await exchange.error(request.flavour, error)
        finally:
            exchange.close()

    def _route(self, request: _Request) -> tuple[str, Handler]:
        if request.path.startswith("/v1/models/"):
            return "GET", self._models
        route = self._routes.get(request.path)
        if route is None:
            raise _ApiError(404, f"Invalid URL ({request.method} {request.path})")
        return route

    def _check_key(self, request: _Request, behaviour: PeerBehaviour) -> None:
        key = behaviour.api_key
        if key is None:
            return
        bearer = hmac.compare_digest(request.headers.get("authorization", ""), f"Bearer {key}")
        if request.flavour == "openai":
            if not bearer:
                raise _ApiError(401, "Incorrect API key provided.")
        # Anthropic documents x-api-key, yet its Python SDK (2.x) sends the key as a Bearer
        # token; the real API takes either, so the peer does too.
        elif not (bearer or hmac.compare_digest(request.headers.get("x-api-key", ""), key)):
            raise _ApiError(401, "invalid x-api-key")

    # -- endpoints

    async def _openai_chat(self, request: _Request, ex: _Exchange) -> None:
        body = request.json_object()
        model = ex.behaviour.model_name_override or _required_str(body, "model")
        answer = _answer(_openai_turn(body), ex.behaviour)
        if not body.get("stream"):
            return await ex.json(200, _openai_completion(answer, model))
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        await _openai_stream(ex, answer, model, include_usage)

    async def _anthropic_messages(self, request: _Request, ex: _Exchange) -> None:
        body = request.json_object()
        model = ex.behaviour.model_name_override or _required_str(body, "model")
        answer = _answer(_anthropic_turn(body), ex.behaviour)
        if body.get("stream"):
            return await _anthropic_stream(ex, answer, model)
        await ex.json(200, _anthropic_message(answer, model))

    async def _anthropic_count_tokens(self, request: _Request, ex: _Exchange) -> None:
        body = request.json_object()
        _required_str(body, "model")
        turn = _anthropic_turn(body, needs_max_tokens=False)
        await ex.json(200, {"input_tokens": turn.input_tokens})

    async def _openai_embeddings(self, request: _Request, ex: _Exchange) -> None:
        body = request.json_object()
        model = ex.behaviour.model_name_override or _required_str(body, "model")
        texts = _embedding_inputs(body.get("input"))
        dim = _positive_int(body.get("dimensions"), "dimensions") or ex.behaviour.embedding_dim
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for index, text in enumerate(texts):
            vector: Any = embedding_vector(text, dim)
            if as_base64:  # float32 in machine order, as the SDK decodes it
                vector = base64.b64encode(array.array("f", vector).tobytes()).decode()
            data.append({"object": "embedding", "index": index, "embedding": vector})
        tokens = sum(_words(t) for t in texts)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        await ex.json(200, {"object": "list", "data": data, "model": model, "usage": usage})

    async def _models(self, request: _Request, ex: _Exchange) -> None:
        anthropic = request.flavour == "anthropic"
        render = _anthropic_model if anthropic else _openai_model
        wanted = request.path.removeprefix("/v1/models").strip("/")
        if wanted:
            if wanted not in ex.behaviour.models:
                raise _ApiError(404, f"The model '{wanted}' does not exist")
            return await ex.json(200, render(wanted))
        models = [render(m) for m in ex.behaviour.models]
        if anthropic:
            first, last = (models[0]["id"], models[-1]["id"]) if models else (None, None)
            page = {"data": models, "has_more": False, "first_id": first, "last_id": last}
            return await ex.json(200, page)
        await ex.json(200, {"object": "list", "data": models})

    async def _control(self, request: _Request, ex: _Exchange) -> None:
        """Knobs for another process (benchmarks); never authenticated, delayed or failed."""
        match request.method, request.path:
            case "GET", "/_peer/behaviour":
                await ex.json(200, asdict(self.behaviour))
            case "POST", "/_peer/behaviour":
                if not isinstance(request.body, dict):
                    return await ex.json(
                        400, {"error": "expected a JSON object of behaviour fields"}
                    )
                try:
                    self.set(**request.body)
                except ValueError as error:
                    return await ex.json(400, {"error": str(error)})
                await ex.json(200, asdict(self.behaviour))
            case "POST", "/_peer/reset":
                self.reset()
                await ex.json(200, asdict(self.behaviour))
            case "GET", "/_peer/stats":
                await ex.json(200, self.stats())
            case "GET", "/_peer/requests":
                await ex.json(200, [asdict(r) for r in self.requests])
            case _:
                await ex.json(
                    404, {"error": f"no control endpoint {request.method} {request.path}"}
                )


def _embedding_inputs(value: Any) -> list[str]:
    """OpenAI accepts a string, strings, a token list or token lists; tokens hash as text."""
    items = (
        value if isinstance(value, list) and value and not isinstance(value[0], int) else [value]
    )
    texts: list[str] = []
    for item in items:
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, list) and all(isinstance(t, int) for t in item):
            texts.append(" ".join(map(str, item)))
        else:
            raise _ApiError(400, "'$.input' is invalid.", param="input")
    return texts


def _openai_model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 1_700_000_000, "owned_by": "peer"}


def _anthropic_model(model_id: str) -> dict[str, Any]:
    return {
        "type": "model",
        "id": model_id,
        "display_name": model_id,
        "created_at": "2025-01-01T00:00:00Z",
    }


# ------------------------------------------------------------------------- server


def bind_listener(port: int = 0) -> socket.socket:
    """A listening socket on 127.0.0.1; binding it ourselves (rather than probing for a free
    port and letting uvicorn bind later) leaves no window for another process to take it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    return sock


def _uvicorn_config(app: PeerApp, port: int, *, own_logging: bool) -> uvicorn.Config:
    # In-process, leave the host's logging configuration alone (no dictConfig).
    options: dict[str, Any] = {} if own_logging else {"log_config": None}
    config = uvicorn.Config(
        app,
        host=HOST,
        port=port,
        log_level="warning",
        lifespan="off",
        interface="asgi3",
        access_log=False,
        proxy_headers=False,
        timeout_graceful_shutdown=1,
        **options,
    )
    _hide_deliberate_drops()
    return config


class PeerServer:
    """Runs a `PeerApp` under uvicorn in a background thread with its own event loop.

    ```python
    with PeerServer() as peer:
        client = openai.OpenAI(base_url=f"{peer.base_url}/v1", api_key="k")
        peer.set(latency_ms=200)
    ```
    """

    def __init__(self, behaviour: PeerBehaviour | None = None, *, port: int = 0) -> None:
        self.app = PeerApp(behaviour)
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("PeerServer is not running; call start() first")
        return f"http://{HOST}:{self.port}"

    @property
    def behaviour(self) -> PeerBehaviour:
        return self.app.behaviour

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.app.requests

    @property
    def request_count(self) -> int:
        return self.app.request_count

    def set(self, **changes: object) -> PeerBehaviour:
        return self.app.set(**changes)

    def reset(self) -> None:
        self.app.reset()

    def stats(self) -> dict[str, Any]:
        return self.app.stats()

    def start(self, timeout: float = 5.0) -> Self:
        if self._server is not None:
            raise RuntimeError("PeerServer is already running")
        sock = bind_listener(self.port)
        self.port = sock.getsockname()[1]
        server = uvicorn.Server(_uvicorn_config(self.app, self.port, own_logging=False))
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"peer-{self.port}", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                sock.close()
                raise RuntimeError("PeerServer did not start")
            time.sleep(0.002)
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# ---------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m gateway.testing.peers",
        description="A local OpenAI + Anthropic compatible peer on 127.0.0.1 (tests, benchmarks).",
    )
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--ttft-ms", type=float, default=0.0)
    parser.add_argument("--tokens-per-second", type=float, default=0.0)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--error-status", type=int, default=500)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--reply", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        behaviour = PeerBehaviour(
            latency_ms=args.latency_ms,
            ttft_ms=args.ttft_ms,
            tokens_per_second=args.tokens_per_second,
            error_rate=args.error_rate,
            error_status=args.error_status,
            api_key=args.api_key,
            reply=args.reply,
            seed=args.seed,
        )
    except ValueError as error:
        parser.error(str(error))
    sock = bind_listener(args.port)
    port = sock.getsockname()[1]
    server = uvicorn.Server(_uvicorn_config(PeerApp(behaviour), port, own_logging=True))
    print(f"peer listening on http://{HOST}:{port}", flush=True)
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
