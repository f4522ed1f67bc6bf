"""Writes for conversations, messages and feedback.

Callers pass objects they fetched through ``chat.selectors`` (or a team through
``accounts.access``), so tenancy is decided before anything here runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Team, User
from chat.models import Conversation, Feedback, Message, MessageRole, MessageStatus, Rating
from core.errors import PayloadTooLarge, ValidationFailed
from knowledge.selectors import collection_get

TITLE_MAX_CHARS = 80
MODEL_NAME_MAX_CHARS = 100


def _clean_model(model: str) -> str:
    model = model.strip()
    if not model or len(model) > MODEL_NAME_MAX_CHARS:
        raise ValidationFailed("Pick a model from the list.", code="invalid_model", param="model")
    return model


def _clean_collections(*, team_id: int, collection_ids: list[int]) -> list[int]:
    """Only the team's own collections (another team's id is simply not found)."""
    cleaned: list[int] = []
    for collection_id in collection_ids:
        collection_get(team_id=team_id, collection_id=int(collection_id))
        if int(collection_id) not in cleaned:
            cleaned.append(int(collection_id))
    return cleaned


def conversation_start(
    *, user: User, team: Team, model: str, collection_ids: list[int] | None = None
) -> Conversation:
    return Conversation.objects.create(
        organization_id=team.organization_id,
        team=team,
        user=user,
        model=_clean_model(model),
        collection_ids=_clean_collections(team_id=team.pk, collection_ids=collection_ids or []),
    )


def conversation_configure(
    *, conversation: Conversation, model: str, collection_ids: list[int]
) -> Conversation:
    """The model and knowledge collections the next answers use."""
    conversation.model = _clean_model(model)
    conversation.collection_ids = _clean_collections(
        team_id=conversation.team_id, collection_ids=collection_ids
    )
    conversation.save(update_fields=["model", "collection_ids", "updated_at"])
    return conversation


def conversation_rename(*, conversation: Conversation, title: str) -> Conversation:
    title = " ".join(title.split())
    if not title:
        raise ValidationFailed("A title cannot be empty.", code="title_required", param="title")
    if len(title) > TITLE_MAX_CHARS:
        raise ValidationFailed(
            f"A title has at most {TITLE_MAX_CHARS} characters.", code="title_too_long"
        )
    conversation.title = title
    conversation.save(update_fields=["title", "updated_at"])
    return conversation


def conversation_delete(*, conversation: Conversation) -> None:
    conversation.delete()  # messages and feedback go with it (CASCADE)


def _title_from(text: str) -> str:
    words = " ".join(text.split())
    return words if len(words) <= TITLE_MAX_CHARS else words[: TITLE_MAX_CHARS - 1] + "…"


def check_question(text: str) -> str:
    if not text.strip():
        raise ValidationFailed("Write a message first.", code="empty_message", param="text")
    limit = settings.CHAT_MAX_MESSAGE_CHARS
    if len(text) > limit:
        raise PayloadTooLarge(
            f"The message has {len(text)} characters; the limit is {limit}.", param="text"
        )
    return text


@transaction.atomic
def question_add(*, conversation: Conversation, text: str) -> Message:
    """The person's message; the first one also names the conversation."""
    message = Message.objects.create(
        conversation=conversation, role=MessageRole.USER, content=check_question(text)
    )
    if not conversation.title:
        conversation.title = _title_from(text)
    conversation.save(update_fields=["title", "updated_at"])  # moves it to the top
    return message


@transaction.atomic
def regeneration_prepare(*, conversation: Conversation) -> Message:
    """Drop the answers after the last question, so it can be answered again.
    Returns that question."""
    question = conversation.messages.filter(role=MessageRole.USER).order_by("-id").first()
    if question is None:
        raise ValidationFailed("There is nothing to regenerate yet.", code="nothing_to_regenerate")
    conversation.messages.filter(id__gt=question.pk).delete()
    conversation.save(update_fields=["updated_at"])
    return question


def answer_start(*, conversation: Conversation, request_id: str) -> Message:
    return Message.objects.create(
        conversation=conversation,
        role=MessageRole.ASSISTANT,
        status=MessageStatus.STREAMING,
        request_id=request_id,
    )


@dataclass(slots=True)
class AnswerEnd:
    content: str
    status: MessageStatus
    error: str = ""
    model_used: str = ""
    citations: list[dict[str, Any]] | None = None
    input_tokens: int = 0
    output_tokens: int = 0


def answer_finish(*, message_id: int, end: AnswerEnd) -> None:
    Message.objects.filter(pk=message_id).update(
        content=end.content,  # update() encrypts through the field, like save()
        status=end.status,
        error=end.error[:500],
        model_used=end.model_used,
        citations=json.dumps(end.citations) if end.citations else "",
        input_tokens=end.input_tokens,
        output_tokens=end.output_tokens,
    )


def feedback_submit(*, user: User, message: Message, rating: int, comment: str = "") -> Feedback:
    if message.role != MessageRole.ASSISTANT:
        raise ValidationFailed("Only answers can be rated.", code="not_an_answer")
    if rating not in Rating.values:
        raise ValidationFailed("Rate an answer 1 (up) or -1 (down).", param="rating")
    comment = comment.strip()
    if len(comment) > settings.CHAT_MAX_FEEDBACK_CHARS:
        raise ValidationFailed(
            f"A comment has at most {settings.CHAT_MAX_FEEDBACK_CHARS} characters.",
            code="comment_too_long",
            param="comment",
        )
    feedback, _ = Feedback.objects.update_or_create(
        message=message, user=user, defaults={"rating": rating, "comment": comment}
    )
    return feedback


def conversations_delete_expired(*, now: datetime | None = None) -> int:
    """Delete conversations untouched for CHAT_RETENTION_DAYS (0: keep forever).
    Returns how many were deleted."""
    days = settings.CHAT_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted = 0
    # In batches, so a first run over years of history never holds one huge transaction.
    while True:
        ids = list(
            Conversation.objects.filter(updated_at__lt=cutoff).values_list("id", flat=True)[:500]
        )
        if not ids:
            return deleted
        Conversation.objects.filter(id__in=ids).delete()
        deleted += len(ids)
