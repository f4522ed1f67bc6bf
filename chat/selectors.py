"""Reads. A conversation is found only through its owner *and* their current membership of
its team (so of its organization): another person's conversation, or one of a team the
person has left, is simply not found (404), whatever id is asked for."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from accounts.access import Actor, teams_visible_to
from accounts.models import User
from chat.models import Conversation, Feedback, Message, MessageRole, MessageStatus
from core.errors import NotFound


def _conversations_of(user: User) -> QuerySet[Conversation]:
    return Conversation.objects.filter(
        user=user,
        team__in=teams_visible_to(Actor(user=user)),
        organization__memberships__user=user,
    )


def conversation_list(*, team_id: int, user: User, query: str = "") -> list[Conversation]:
    """The person's conversations in a team, most recently active first. Titles are
    encrypted, so the title search runs on decrypted titles, over the newest
    CHAT_SIDEBAR_CONVERSATIONS conversations."""
    conversations = list(
        _conversations_of(user)
        .filter(team_id=team_id)
        .order_by("-updated_at", "-id")[: settings.CHAT_SIDEBAR_CONVERSATIONS]
    )
    needle = query.strip().casefold()
    if needle:
        conversations = [c for c in conversations if needle in c.title.casefold()]
    return conversations


def conversation_get(*, user: User, conversation_id: int) -> Conversation:
    conversation = (
        _conversations_of(user)
        .select_related("team", "organization")
        .filter(pk=conversation_id)
        .first()
    )
    if conversation is None:
        raise NotFound("No such conversation.", code="conversation_not_found")
    return conversation


def message_list(*, conversation: Conversation) -> list[Message]:
    return list(conversation.messages.order_by("created_at", "id"))


def message_get(*, user: User, message_id: int) -> Message:
    message = (
        Message.objects.filter(pk=message_id, conversation__in=_conversations_of(user))
        .select_related("conversation")
        .first()
    )
    if message is None:
        raise NotFound("No such message.", code="message_not_found")
    return message


def context_messages(*, conversation: Conversation, before_id: int | None = None) -> list[Message]:
    """The last CHAT_CONTEXT_MESSAGES finished messages (oldest first) that go to the model
    with a new question. Failed answers and empty ones are left out: they are not part of
    what was said."""
    limit = settings.CHAT_CONTEXT_MESSAGES
    if limit == 0:
        return []
    messages = conversation.messages.exclude(status__in=[MessageStatus.FAILED])
    if before_id is not None:
        messages = messages.filter(id__lt=before_id)
    latest = list(messages.order_by("-created_at", "-id")[:limit])
    return [
        m for m in reversed(latest) if m.content or m.role == MessageRole.USER
    ]  # an answer stopped before its first word says nothing


def citations_of(message: Message) -> list[dict[str, Any]]:
    if not message.citations:
        return []
    loaded = json.loads(message.citations)
    return loaded if isinstance(loaded, list) else []


def feedback_of(*, user: User, message_ids: list[int]) -> dict[int, int]:
    """message id -> the person's rating, for showing which thumb is pressed."""
    return dict(
        Feedback.objects.filter(user=user, message_id__in=message_ids).values_list(
            "message_id", "rating"
        )
    )
