"""Exact-match response cache, per team.

The key is a hash of the team and the normalised request (model as asked, messages,
sampling and tool settings), so identical requests from the same team share an answer and
nothing is ever shared across teams. A streamed request can be answered from a cached
non-streamed one and vice versa: what is cached is the completion, not its wire form.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

from gateway.types import ChatRequest, Citation, Completion, ToolCall, Usage

_VERSION = "v1"  # bump when the key or value layout changes


def cache_key(
    *, team_id: int, model: str, pipeline: str, request: ChatRequest, scope: str = ""
) -> str:
    """``scope``: what else the answer depends on (RAG: the collections and the team's
    knowledge generation, so a document change moves every key)."""
    normalised: dict[str, Any] = {
        "model": model,
        "pipeline": pipeline,
        "messages": [
            [
                m.role,
                m.content,
                [[c.name, c.arguments] for c in m.tool_calls],
                m.tool_call_id,
                m.name,
            ]
            for m in request.messages
        ],
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "stop": request.stop,
        "tools": [[t.name, t.description, t.parameters] for t in request.tools],
        "tool_choice": asdict(request.tool_choice) if request.tool_choice else None,
        "response_format": request.response_format,
        "context": [[p.text, p.source, p.page, p.chunk] for p in request.context],
    }
    if scope:
        normalised["scope"] = scope
    digest = hashlib.sha256(
        json.dumps(normalised, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    return f"cache:{_VERSION}:{{t{team_id}}}:{digest}"


def encode_entry(completion: Completion, *, served_model: str) -> str:
    return json.dumps(
        {
            "text": completion.text,
            "finish_reason": completion.finish_reason,
            "input_tokens": completion.usage.input_tokens,
            "output_tokens": completion.usage.output_tokens,
            "model": completion.model,
            "served_model": served_model,
            "tool_calls": [[c.id, c.name, c.arguments] for c in completion.tool_calls],
            "citations": [c.as_dict() for c in completion.citations],
        },
        separators=(",", ":"),
    )


def decode_entry(raw: bytes | str) -> tuple[Completion, str]:
    data = json.loads(raw)
    completion = Completion(
        text=data["text"],
        finish_reason=data["finish_reason"],
        usage=Usage(data["input_tokens"], data["output_tokens"]),
        model=data["model"],
        tool_calls=[ToolCall(*call) for call in data["tool_calls"]],
        citations=[Citation.from_dict(c) for c in data.get("citations", [])],
    )
    return completion, data["served_model"]
