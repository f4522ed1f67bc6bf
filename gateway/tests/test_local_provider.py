from __future__ import annotations

import asyncio

from gateway.providers.base import ProviderConfig
from gateway.providers.local import LOCAL_DISCLAIMER, LocalProvider
from gateway.types import ChatRequest, Message, Passage, StreamEnd, TextDelta

CONFIG = ProviderConfig(
    id=0, kind="local", name="local", base_url=None, api_key=None, timeout_seconds=5
)
PASSAGES = [
    Passage(
        text="The office opens at nine. Parking is free for visitors.",
        source="handbook.pdf",
        page=3,
    ),
    Passage(
        text="Annual leave is 25 days. Leave requests go to your manager.",
        source="leave-policy.md",
        page=1,
    ),
]


def _request(question: str, *, context=(), max_tokens: int = 500, stop=()) -> ChatRequest:
    return ChatRequest(
        messages=[Message(role="user", content=question)],
        max_tokens=max_tokens,
        context=list(context),
        stop=list(stop),
    )


def _complete(request: ChatRequest):
    return asyncio.run(LocalProvider(CONFIG).complete(request, model="local-extractive"))


def test_without_context_it_says_plainly_what_it_is():
    completion = _complete(_request("What is the capital of France?"))
    assert "local extractive model" in completion.text
    assert "offline" in completion.text
    assert "What is the capital of France?" in completion.text
    assert completion.finish_reason == "stop"


def test_with_context_it_quotes_the_most_relevant_passage_and_cites_it():
    completion = _complete(_request("How many days of annual leave do I get?", context=PASSAGES))
    assert '"Annual leave is 25 days." [' in completion.text
    assert "leave-policy.md, page 1" in completion.text
    assert LOCAL_DISCLAIMER in completion.text


def test_answers_are_deterministic():
    first = _complete(_request("annual leave days", context=PASSAGES))
    second = _complete(_request("annual leave days", context=PASSAGES))
    assert first.text == second.text


def test_usage_counts_and_max_tokens_truncate():
    completion = _complete(_request("What is this?", max_tokens=5))
    assert completion.usage.output_tokens == 5
    assert completion.finish_reason == "length"
    assert completion.usage.input_tokens == 3


def test_stop_sequences_cut_the_answer():
    completion = _complete(_request("What is this?", stop=["offline"]))
    assert "offline" not in completion.text


def test_stream_yields_the_same_text_then_one_end():
    async def collect():
        return [
            e
            async for e in LocalProvider(CONFIG).stream(
                _request("hello there"), model="local-extractive"
            )
        ]

    events = asyncio.run(collect())
    assert isinstance(events[-1], StreamEnd)
    assert sum(isinstance(e, StreamEnd) for e in events) == 1
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == _complete(_request("hello there")).text
    assert events[-1].usage.output_tokens == len(events) - 1
