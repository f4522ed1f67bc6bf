"""The gateway's own, wire-neutral view of a chat request and its answer.

Client-facing formats (OpenAI Chat Completions, Anthropic Messages, the platform's
/v1/generate) are parsed into these types; providers turn them into upstream calls and
back. Translating OpenAI <-> Anthropic is therefore two hops through this module, and a new
format or provider needs only its own two conversions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, exactly as the model produced it


@dataclass(slots=True)
class Message:
    role: Role
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)  # assistant turns that call tools
    tool_call_id: str | None = None  # role "tool": which call this result answers
    name: str | None = None


@dataclass(slots=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON Schema of the arguments


@dataclass(slots=True)
class ToolChoice:
    mode: Literal["auto", "none", "required", "tool"]
    name: str | None = None  # with mode "tool": the one tool that must be called


@dataclass(slots=True)
class Passage:
    """Retrieved text handed to the model as context (RAG), with where it came from."""

    text: str
    source: str = ""
    page: int | None = None
    chunk: int | None = None
    score: float | None = None


@dataclass(frozen=True, slots=True)
class Citation:
    """Where a grounded answer's evidence came from (the RAG pipeline's retrieved chunks)."""

    number: int  # the [n] the prompt (and the local model's answer) refers to
    document_id: int
    document_name: str
    collection_id: int
    page: int | None
    chunk_index: int
    score: float

    def as_dict(self) -> dict[str, object]:
        return {
            "number": self.number,
            "document_id": self.document_id,
            "document_name": self.document_name,
            "collection_id": self.collection_id,
            "page": self.page,
            "chunk_index": self.chunk_index,
            "score": round(self.score, 6),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Citation:
        return cls(
            number=int(data["number"]),
            document_id=int(data["document_id"]),
            document_name=str(data["document_name"]),
            collection_id=int(data["collection_id"]),
            page=None if data["page"] is None else int(data["page"]),
            chunk_index=int(data["chunk_index"]),
            score=float(data["score"]),
        )


@dataclass(slots=True)
class ChatRequest:
    messages: list[Message]  # system instructions are messages with role "system"
    max_tokens: int
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    # OpenAI's response_format ({"type": "json_object"} or json_schema), passed through to
    # providers that support it.
    response_format: dict[str, Any] | None = None
    user: str | None = None
    context: list[Passage] = field(default_factory=list)

    @property
    def system_text(self) -> str:
        return "\n\n".join(m.content for m in self.messages if m.role == "system" and m.content)

    @property
    def last_user_text(self) -> str:
        for message in reversed(self.messages):
            if message.role == "user":
                return message.content
        return ""


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(slots=True)
class Completion:
    text: str
    finish_reason: FinishReason
    usage: Usage
    model: str  # the upstream model name that answered
    tool_calls: list[ToolCall] = field(default_factory=list)
    # Sources of a grounded (RAG) answer; cached with it, so a cache hit cites them too.
    citations: list[Citation] = field(default_factory=list)


@dataclass(slots=True)
class TextDelta:
    text: str


@dataclass(slots=True)
class ToolCallDelta:
    index: int
    id: str | None = None  # set on the first delta of a call
    name: str | None = None  # set on the first delta of a call
    arguments: str = ""  # a fragment of the JSON arguments


@dataclass(slots=True)
class Citations:
    """A grounded stream's sources: sent once, just before its StreamEnd."""

    citations: list[Citation]


@dataclass(slots=True)
class StreamEnd:
    finish_reason: FinishReason
    usage: Usage
    model: str


StreamEvent = TextDelta | ToolCallDelta | Citations | StreamEnd
