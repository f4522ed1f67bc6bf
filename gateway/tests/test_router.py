from __future__ import annotations

import pytest

from core.errors import NotImplementedYet, ValidationFailed
from gateway.router import choose_pipeline, classify
from gateway.types import ChatRequest, Message


def _ask(text: str) -> ChatRequest:
    return ChatRequest(messages=[Message(role="user", content=text)], max_tokens=10)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Write a haiku about autumn", "direct"),
        ("What does our handbook say about parental leave? Check in our docs.", "rag"),
        ("According to the policy, how many vacation days do I get?", "rag"),
        ("Summarise the uploaded documents", "rag"),
        ("Plan and execute a migration of the billing database", "agent"),
        ("Use the tools to book a meeting room", "agent"),
        ("How do documents get indexed in general?", "direct"),
    ],
)
def test_classifier(text, expected):
    assert classify(_ask(text), collections=[]) == expected


def test_naming_collections_means_rag():
    assert classify(_ask("hello"), collections=["hr"]) == "rag"


def test_direct_is_served_and_auto_resolves_to_it():
    assert (
        choose_pipeline("direct", team_default="auto", request=_ask("hi"), collections=[])
        == "direct"
    )
    assert (
        choose_pipeline(None, team_default="auto", request=_ask("hi"), collections=[]) == "direct"
    )


def test_rag_is_served_and_agent_answers_501_until_it_exists():
    assert choose_pipeline("rag", team_default="auto", request=_ask("hi"), collections=[]) == "rag"
    with pytest.raises(NotImplementedYet, match="'agent'"):
        choose_pipeline(
            "auto", team_default="auto", request=_ask("Plan and execute a release"), collections=[]
        )


def test_a_team_can_pin_what_auto_means():
    question = _ask("According to the policy, what is the rule?")
    assert (
        choose_pipeline("auto", team_default="direct", request=question, collections=[]) == "direct"
    )
    # An explicit choice still wins over the team's default.
    assert choose_pipeline("rag", team_default="direct", request=question, collections=[]) == "rag"


def test_unknown_pipelines_are_a_400():
    with pytest.raises(ValidationFailed) as error:
        choose_pipeline("magic", team_default="auto", request=_ask("hi"), collections=[])
    assert error.value.param == "pipeline"
