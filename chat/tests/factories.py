from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from chat.models import Conversation, Message, MessageRole


class ConversationFactory(DjangoModelFactory[Conversation]):
    class Meta:
        model = Conversation

    organization = factory.SelfAttribute("team.organization")
    title = factory.Sequence(lambda n: f"Conversation {n}")
    model = "chat-default"


class MessageFactory(DjangoModelFactory[Message]):
    class Meta:
        model = Message

    role = MessageRole.USER
    content = factory.Sequence(lambda n: f"message {n}")
