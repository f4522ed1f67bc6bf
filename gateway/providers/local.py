"""The local extractive model: offline, keyless, deterministic.

It does not generate text. Given retrieved passages it quotes the sentences that share
the most words with the question, with their sources; without passages it says plainly
what it is. This is what lets a fresh install answer end to end with no provider key.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

from django.conf import settings

from gateway.pipelines.grounding import NO_DOCUMENTS
from gateway.providers.base import Provider
from gateway.types import (
    ChatRequest,
    Completion,
    FinishReason,
    Passage,
    StreamEnd,
    StreamEvent,
    TextDelta,
    Usage,
)

LOCAL_DISCLAIMER = (
    "(Answered by the local extractive model running offline on this server: it quotes "
    "the most relevant retrieved passages and does not generate new text.)"
)
_WORD = re.compile(r"[A-Za-z0-9]+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_TOKEN = re.compile(r"\S+\s*")
_STOPWORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "by", "do", "does", "for", "from", "has",
        "have", "how", "i", "in", "is", "it", "its", "of", "on", "or", "that", "the", "this",
        "to", "was", "what", "when", "where", "which", "who", "why", "will", "with", "you", "your",
    }
)  # fmt: skip
_SENTENCES_QUOTED = 3


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)} - _STOPWORDS


def _cite(passage: Passage, number: int) -> str:
    where = passage.source or "document"
    if passage.page is not None:
        where += f", page {passage.page}"
    return f"[{number}] {where}"


def compose_answer(request: ChatRequest) -> str:
    question = request.last_user_text
    if not request.context and NO_DOCUMENTS in request.system_text:
        return (
            "I am the local extractive model, running offline on this server. I searched the "
            f'knowledge base for "{question.strip()[:200]}" and found no passage about it, so '
            "I cannot answer from your documents. Try other words, or check that the "
            f"documents are uploaded and ready.\n\n{LOCAL_DISCLAIMER}"
        )
    if not request.context:
        return (
            "I am the local extractive model, running offline on this server. I answer only by "
            "quoting documents retrieved for your question, and none were provided here, so I "
            f'cannot answer "{question.strip()[:200]}". Switch on a knowledge collection, or ask '
            "an administrator to configure an OpenAI- or Anthropic-compatible provider for "
            "generated answers."
        )
    wanted = _words(question)
    scored: list[tuple[int, int, int, str]] = []
    for index, passage in enumerate(request.context):
        for position, sentence in enumerate(_SENTENCE.split(passage.text.strip())):
            overlap = len(wanted & _words(sentence))
            if sentence:
                # Highest overlap first; ties keep retrieval order, then document order.
                scored.append((-overlap, index, position, sentence.strip()))
    best = sorted(scored)[:_SENTENCES_QUOTED]
    used = sorted({index for _, index, _, _ in best})
    # [n] is the passage's place in the context: the same number the RAG pipeline's
    # citations carry, so a reader can match each quote to its citation.
    quotes = " ".join(
        f'"{sentence}" [{index + 1}]'
        for _, index, _, sentence in sorted(best, key=lambda b: (b[1], b[2]))
    )
    sources = "; ".join(_cite(request.context[index], index + 1) for index in used)
    return f"From the retrieved documents: {quotes}\n\nSources: {sources}\n\n{LOCAL_DISCLAIMER}"


def _limit(text: str, request: ChatRequest) -> tuple[list[str], FinishReason]:
    finish: FinishReason = "stop"
    for stop in request.stop:
        cut = text.find(stop)
        if cut != -1:
            text = text[:cut]
    tokens = _TOKEN.findall(text)
    if len(tokens) > request.max_tokens:
        tokens, finish = tokens[: request.max_tokens], "length"
    return tokens, finish


def _prompt_tokens(request: ChatRequest) -> int:
    texts = [m.content for m in request.messages] + [p.text for p in request.context]
    return sum(len(_TOKEN.findall(t)) for t in texts)


class LocalProvider(Provider):
    kind = "local"

    async def complete(self, request: ChatRequest, *, model: str) -> Completion:
        tokens, finish = _limit(compose_answer(request), request)
        return Completion(
            text="".join(tokens),
            finish_reason=finish,
            usage=Usage(input_tokens=_prompt_tokens(request), output_tokens=len(tokens)),
            model=model,
        )

    async def stream(self, request: ChatRequest, *, model: str) -> AsyncIterator[StreamEvent]:
        tokens, finish = _limit(compose_answer(request), request)
        delay = settings.LOCAL_MODEL_TOKEN_DELAY_MS / 1000
        for token in tokens:
            yield TextDelta(token)
            # Yield to the loop between tokens (and pace them when configured, so a browser
            # shows streaming and "stop" has something to stop).
            await asyncio.sleep(delay)
        yield StreamEnd(
            finish_reason=finish,
            usage=Usage(input_tokens=_prompt_tokens(request), output_tokens=len(tokens)),
            model=model,
        )
