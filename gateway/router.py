"""Which pipeline serves a request: direct, rag or agent.

``auto`` asks a cheap classifier (regular expressions over the last user message and the
request's shape, microseconds, no model call) unless the team has pinned what ``auto``
means for it. ``rag`` grounds the answer in the team's knowledge collections
(gateway/pipelines/rag.py). The agent pipeline arrives with a later issue; until then
choosing it answers 501 with a clear message rather than quietly answering without it.
"""

from __future__ import annotations

import re

from core.errors import NotImplementedYet, ValidationFailed
from gateway.models import Pipeline
from gateway.types import ChatRequest

_RAG_HINTS = re.compile(
    r"\b(according to (the|our|my) (docs?|documents?|policy|policies|handbook|wiki)"
    r"|in (the|our|my) (docs?|documents?|knowledge base|files?|handbook|wiki)"
    r"|(search|check|look (it )?up in) (the|our|my) (docs?|documents?|knowledge base|files?)"
    r"|(uploaded|attached) (docs?|documents?|files?|pdfs?))\b",
    re.IGNORECASE,
)
_AGENT_HINTS = re.compile(
    r"\b(step[- ]by[- ]step and (do|execute|carry out)|plan and (execute|carry out)"
    r"|multi-step task|take (the )?actions?|use (the |your )?tools to)\b",
    re.IGNORECASE,
)

IMPLEMENTED_PIPELINES = frozenset({Pipeline.DIRECT.value, Pipeline.RAG.value})


def classify(request: ChatRequest, *, collections: list[str]) -> str:
    """The classifier behind ``auto``: documents named or asked about -> rag; an explicit
    multi-step task -> agent; everything else -> direct."""
    if collections:
        return Pipeline.RAG.value
    text = request.last_user_text
    if _RAG_HINTS.search(text):
        return Pipeline.RAG.value
    if _AGENT_HINTS.search(text):
        return Pipeline.AGENT.value
    return Pipeline.DIRECT.value


def choose_pipeline(
    requested: str | None, *, team_default: str, request: ChatRequest, collections: list[str]
) -> str:
    pipeline = str(requested or Pipeline.AUTO.value)
    if pipeline not in Pipeline.values:
        raise ValidationFailed(
            f"Unknown pipeline {pipeline!r}; use one of {', '.join(Pipeline.values)}.",
            param="pipeline",
        )
    if pipeline == Pipeline.AUTO:
        pipeline = (
            team_default
            if team_default != Pipeline.AUTO
            else classify(request, collections=collections)
        )
    if pipeline not in IMPLEMENTED_PIPELINES:
        raise NotImplementedYet(
            f"The {pipeline!r} pipeline is not available yet on this gateway. "
            "Ask for pipeline 'direct' to call the model without it.",
            code="pipeline_not_available",
        )
    return pipeline
