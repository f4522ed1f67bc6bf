"""Conversations, their messages and people's feedback on answers.

Everything a person wrote or a model answered is stored encrypted (core's
``EncryptedTextField``: Fernet tokens, keys from FIELD_ENCRYPTION_KEYS), titles included,
so a database reader sees ciphertext only. ``manage.py rotate_encryption_keys`` finds these
columns by their field type and re-encrypts them.

A conversation belongs to one person *and* one team (so to its organization): it is read
only through that person's membership (see ``chat.selectors``), and leaving the team
makes it unreachable.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from accounts.models import Organization, Team
from core.encryption import EncryptedTextField
from core.models import TimeStampedModel


class Conversation(TimeStampedModel):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="conversations")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    title = EncryptedTextField(blank=True)
    model = models.CharField(max_length=100, help_text="The model or route answers come from.")
    collection_ids = ArrayField(
        models.BigIntegerField(),
        default=list,
        blank=True,
        help_text="Knowledge collections answers are grounded in (empty: none).",
    )

    class Meta:
        db_table = "conversations"
        indexes = [
            models.Index(fields=["user", "team", "-updated_at"], name="conversation_sidebar"),
            models.Index(fields=["updated_at"], name="conversation_retention"),
        ]

    def __str__(self) -> str:
        return f"Conversation #{self.pk}"  # never the title: it is private


class MessageRole(models.TextChoices):
    USER = "user", "Person"
    ASSISTANT = "assistant", "Model"


class MessageStatus(models.TextChoices):
    STREAMING = "streaming", "Being written"
    COMPLETE = "complete", "Complete"
    STOPPED = "stopped", "Stopped by the person"
    FAILED = "failed", "Failed"


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    role = models.CharField(max_length=10, choices=MessageRole.choices)
    content = EncryptedTextField(blank=True)
    # JSON list of the sources a RAG answer cites (document names are private too).
    citations = EncryptedTextField(blank=True, default="")
    status = models.CharField(
        max_length=10, choices=MessageStatus.choices, default=MessageStatus.COMPLETE
    )
    # What went wrong, in words for people (system text, never message content).
    error = models.CharField(max_length=500, blank=True)
    model_used = models.CharField(max_length=100, blank=True)
    # The gateway request id: the ledger row (billing.UsageRecord) of this answer.
    request_id = models.CharField(max_length=128, blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "messages"
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["conversation", "created_at"], name="message_order")]

    def __str__(self) -> str:
        return f"{self.get_role_display()} message #{self.pk}"


class Rating(models.IntegerChoices):
    UP = 1, "Thumbs up"
    DOWN = -1, "Thumbs down"


class Feedback(TimeStampedModel):
    """One rating per person per answer; rating again replaces it."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    rating = models.SmallIntegerField(choices=Rating.choices)
    comment = EncryptedTextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "user"], name="feedback_once_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.get_rating_display()} on message #{self.message_id}"
