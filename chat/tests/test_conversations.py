"""Conversations: tenancy (owner, member of the same org, outsider), encryption at rest,
context, retention."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from accounts.models import Membership
from chat import selectors, services
from chat.models import Conversation, Feedback, Message, MessageRole, MessageStatus
from chat.tasks import delete_expired_conversations
from chat.tests.factories import ConversationFactory, MessageFactory
from core.encryption import encrypted_fields
from core.errors import NotFound, PayloadTooLarge, ValidationFailed

pytestmark = pytest.mark.django_db


def test_only_the_owner_finds_a_conversation(world, owner_conversation):
    found = selectors.conversation_get(user=world.owner_a, conversation_id=owner_conversation.pk)
    assert found == owner_conversation
    for other in (world.member_a, world.outsider_b):
        with pytest.raises(NotFound):
            selectors.conversation_get(user=other, conversation_id=owner_conversation.pk)
        assert selectors.conversation_list(team_id=world.team_a.pk, user=other) == []


def test_leaving_the_organization_closes_the_conversation(world, owner_conversation):
    Membership.objects.filter(user=world.owner_a, organization=world.org_a).delete()
    with pytest.raises(NotFound):
        selectors.conversation_get(user=world.owner_a, conversation_id=owner_conversation.pk)
    assert selectors.conversation_list(team_id=world.team_a.pk, user=world.owner_a) == []


def test_messages_of_others_are_not_found(world, owner_conversation):
    answer = owner_conversation.messages.get(role=MessageRole.ASSISTANT)
    assert selectors.message_get(user=world.owner_a, message_id=answer.pk) == answer
    for other in (world.member_a, world.outsider_b):
        with pytest.raises(NotFound):
            selectors.message_get(user=other, message_id=answer.pk)


def test_list_is_newest_first_and_searches_titles(world):
    older = ConversationFactory(team=world.team_a, user=world.owner_a, title="Budget review")
    newer = ConversationFactory(team=world.team_a, user=world.owner_a, title="Hiring PLAN")
    Conversation.objects.filter(pk=older.pk).update(updated_at=timezone.now() - timedelta(days=1))
    listed = selectors.conversation_list(team_id=world.team_a.pk, user=world.owner_a)
    assert [c.pk for c in listed] == [newer.pk, older.pk]
    found = selectors.conversation_list(team_id=world.team_a.pk, user=world.owner_a, query="plan")
    assert [c.pk for c in found] == [newer.pk]
    assert selectors.conversation_list(team_id=world.team_b.pk, user=world.owner_a) == []


def test_rename_and_delete(world, owner_conversation):
    services.conversation_rename(conversation=owner_conversation, title="  Plan   for Q3 ")
    owner_conversation.refresh_from_db()
    assert owner_conversation.title == "Plan for Q3"
    with pytest.raises(ValidationFailed):
        services.conversation_rename(conversation=owner_conversation, title="   ")
    with pytest.raises(ValidationFailed):
        services.conversation_rename(conversation=owner_conversation, title="x" * 81)
    services.conversation_delete(conversation=owner_conversation)
    assert not Conversation.objects.filter(pk=owner_conversation.pk).exists()
    assert not Message.objects.filter(conversation_id=owner_conversation.pk).exists()


def test_first_question_names_the_conversation(world):
    conversation = services.conversation_start(
        user=world.owner_a, team=world.team_a, model="chat-default"
    )
    services.question_add(conversation=conversation, text="  How   do refunds work?\nThanks")
    assert conversation.title == "How do refunds work? Thanks"
    services.question_add(conversation=conversation, text="Another question")
    assert conversation.title == "How do refunds work? Thanks"


def test_question_limits(world, settings):
    settings.CHAT_MAX_MESSAGE_CHARS = 10
    conversation = ConversationFactory(team=world.team_a, user=world.owner_a)
    with pytest.raises(ValidationFailed):
        services.question_add(conversation=conversation, text="   ")
    with pytest.raises(PayloadTooLarge):
        services.question_add(conversation=conversation, text="x" * 11)
    assert not conversation.messages.exists()


def test_collections_of_another_team_are_refused(world):
    from knowledge.services import collection_create

    theirs = collection_create(team=world.team_b, name="Globex secrets")
    with pytest.raises(NotFound):
        services.conversation_start(
            user=world.owner_a, team=world.team_a, model="chat-default", collection_ids=[theirs.pk]
        )
    ours = collection_create(team=world.team_a, name="Handbook")
    conversation = services.conversation_start(
        user=world.owner_a, team=world.team_a, model="chat-default", collection_ids=[ours.pk]
    )
    assert conversation.collection_ids == [ours.pk]


def test_context_is_the_last_n_finished_messages(world, settings):
    settings.CHAT_CONTEXT_MESSAGES = 3
    conversation = ConversationFactory(team=world.team_a, user=world.owner_a)
    for n in range(5):
        MessageFactory(conversation=conversation, content=f"q{n}")
        MessageFactory(
            conversation=conversation,
            role=MessageRole.ASSISTANT,
            content=f"a{n}",
            status=MessageStatus.FAILED if n == 4 else MessageStatus.COMPLETE,
        )
    context = selectors.context_messages(conversation=conversation)
    assert [m.content for m in context] == ["q3", "a3", "q4"]  # the failed a4 is left out


def test_regeneration_drops_answers_after_the_last_question(world, owner_conversation):
    question = services.regeneration_prepare(conversation=owner_conversation)
    assert question.content == "What is our plan?"
    assert list(owner_conversation.messages.all()) == [question]


def test_feedback_once_per_person_and_only_on_answers(world, owner_conversation):
    answer = owner_conversation.messages.get(role=MessageRole.ASSISTANT)
    question = owner_conversation.messages.get(role=MessageRole.USER)
    services.feedback_submit(user=world.owner_a, message=answer, rating=1)
    services.feedback_submit(user=world.owner_a, message=answer, rating=-1, comment="Wrong year")
    feedback = Feedback.objects.get(message=answer)
    assert (feedback.rating, feedback.comment) == (-1, "Wrong year")
    with pytest.raises(ValidationFailed):
        services.feedback_submit(user=world.owner_a, message=question, rating=1)
    with pytest.raises(ValidationFailed):
        services.feedback_submit(user=world.owner_a, message=answer, rating=5)


def test_nothing_readable_is_stored(world, owner_conversation):
    answer = owner_conversation.messages.get(role=MessageRole.ASSISTANT)
    services.feedback_submit(user=world.owner_a, message=answer, rating=-1, comment="Too vague")
    services.answer_finish(
        message_id=answer.pk,
        end=services.AnswerEnd(
            content="The plan is **bold**.",
            status=MessageStatus.COMPLETE,
            citations=[{"document_id": 1, "document_name": "Strategy.pdf", "page": 2}],
        ),
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT content, citations FROM messages")
        stored = " ".join(value for row in cursor.fetchall() for value in row)
        cursor.execute("SELECT title FROM conversations")
        stored += " ".join(row[0] for row in cursor.fetchall())
        cursor.execute("SELECT comment FROM chat_feedback")
        stored += " ".join(row[0] for row in cursor.fetchall())
    for plaintext in ("plan", "bold", "Strategy", "Quarterly", "vague"):
        assert plaintext not in stored
    assert stored.startswith("gAAAA")  # Fernet tokens
    answer.refresh_from_db()
    assert answer.content == "The plan is **bold**."
    assert selectors.citations_of(answer)[0]["document_name"] == "Strategy.pdf"


def test_rotation_reencrypts_chat_columns(world, owner_conversation, settings):
    discovered = {model._meta.label: set(names) for model, names in encrypted_fields()}
    assert discovered["chat.Message"] == {"content", "citations"}
    assert discovered["chat.Conversation"] == {"title"}
    assert discovered["chat.Feedback"] == {"comment"}
    old_token = _raw_title(owner_conversation.pk)
    settings.FIELD_ENCRYPTION_KEYS = [
        Fernet.generate_key().decode(),
        *settings.FIELD_ENCRYPTION_KEYS,
    ]
    call_command("rotate_encryption_keys", stdout=StringIO())
    assert _raw_title(owner_conversation.pk) != old_token
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]  # only the new key
    owner_conversation.refresh_from_db()
    assert owner_conversation.title == "Quarterly plan"


def _raw_title(conversation_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT title FROM conversations WHERE id = %s", [conversation_id])
        return str(cursor.fetchone()[0])


def test_retention_deletes_old_conversations(world, settings):
    settings.CHAT_RETENTION_DAYS = 30
    old = ConversationFactory(team=world.team_a, user=world.owner_a)
    MessageFactory(conversation=old)
    recent = ConversationFactory(team=world.team_b, user=world.outsider_b)
    Conversation.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=31))
    assert delete_expired_conversations() == 1
    assert list(Conversation.objects.values_list("pk", flat=True)) == [recent.pk]
    assert delete_expired_conversations() == 0  # idempotent


def test_retention_zero_keeps_everything(world, settings):
    settings.CHAT_RETENTION_DAYS = 0
    conversation = ConversationFactory(team=world.team_a, user=world.owner_a)
    Conversation.objects.filter(pk=conversation.pk).update(
        updated_at=timezone.now() - timedelta(days=3650)
    )
    assert delete_expired_conversations() == 0
    assert Conversation.objects.filter(pk=conversation.pk).exists()
