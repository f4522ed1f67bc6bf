"""One answer, streamed: the logic both the WebSocket consumer and the SSE fallback run.

A ``Reply`` stores the question, opens a stream through the gateway's in-process API (the
same routes, fallbacks, rate limits, budgets and ledger as /v1, attributed to the person
and the team they chat as, with no API key) and yields *frames*: small JSON-able dicts the
browser understands. However it ends (finished, stopped by the person, cut by a closed
tab, failed upstream), the answer is stored with what was written so far, and the
gateway's own stream relay has already settled the ledger for what was used.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction

from accounts.access import Actor, KeyContext, access_team
from accounts.models import Scope, User
from chat import selectors, services
from chat.models import Conversation, Message, MessageRole, MessageStatus
from chat.rendering import citations_for_display, render_markdown
from core.asyncdb import run_detached
from core.errors import ApplicationError, TooManyRequests, ValidationFailed
from core.requestid import new_request_id
from gateway import services as gateway
from gateway.models import Pipeline
from gateway.types import ChatRequest, Citations, StreamEnd, TextDelta
from gateway.types import Message as ChatMessage

logger = logging.getLogger(__name__)

# While an answer streams, the browser shows raw text and gets a rendered (markdown,
# highlighted, sanitised) snapshot at most this often; the final render comes with "done".
RENDER_INTERVAL_SECONDS = 0.4


@dataclass(slots=True)
class Ask:
    """What the browser asked for: a new question, or another answer to the last one."""

    text: str = ""
    conversation_id: int | None = None
    team_id: int | None = None  # for a new conversation
    model: str | None = None  # None: keep the conversation's (or the default)
    collection_ids: list[int] | None = None  # None: keep the conversation's
    regenerate: bool = False


def _int_or_none(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationFailed(f"'{name}' must be a number.", param=name)
    try:
        return int(value)
    except ValueError:
        raise ValidationFailed(f"'{name}' must be a number.", param=name) from None


def parse_ask(data: dict[str, Any], *, regenerate: bool = False) -> Ask:
    text = data.get("text", "")
    if not isinstance(text, str):
        raise ValidationFailed("'text' must be a string.", param="text")
    model = data.get("model")
    if model is not None and not isinstance(model, str):
        raise ValidationFailed("'model' must be a string.", param="model")
    raw_collections = data.get("collections")
    collection_ids: list[int] | None = None
    if raw_collections is not None:
        if not isinstance(raw_collections, list) or len(raw_collections) > 20:
            raise ValidationFailed(
                "'collections' must be a list of at most 20 ids.", param="collections"
            )
        collection_ids = [
            c for c in (_int_or_none(v, "collections") for v in raw_collections) if c is not None
        ]
    ask = Ask(
        text=text,
        conversation_id=_int_or_none(data.get("conversation_id"), "conversation_id"),
        team_id=_int_or_none(data.get("team_id"), "team_id"),
        model=model or None,
        collection_ids=collection_ids,
        regenerate=regenerate,
    )
    if ask.regenerate and ask.conversation_id is None:
        raise ValidationFailed("Say which conversation to regenerate.", param="conversation_id")
    if not ask.regenerate:
        services.check_question(ask.text)
    if ask.conversation_id is None and ask.team_id is None:
        raise ValidationFailed("Say which team this conversation is for.", param="team_id")
    return ask


def error_frame(exc: ApplicationError, *, message_id: int | None = None) -> dict[str, Any]:
    """An error in words people understand, with what to do about it."""
    status = exc.status_code
    retry_after = exc.retry_after if isinstance(exc, TooManyRequests) else None
    if status == 402:
        title = "Your team's budget for this month is used up."
        hint = "Ask a team owner to raise the budget, or wait until next month."
    elif status == 429:
        title = "Too many requests right now."
        hint = f"Try again in {retry_after} seconds." if retry_after else "Try again shortly."
    elif status in {502, 503, 504}:
        title = "The model provider is not answering right now."
        hint = "Try again in a moment, or pick another model."
    else:
        title, hint = exc.message, ""
    return {
        "type": "error",
        "status": status,
        "code": exc.code,
        "title": title,
        "message": exc.message,
        "hint": hint,
        "retry_after": retry_after,
        "message_id": message_id,
    }


def conversation_frame(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.pk,
        "title": conversation.title,
        "model": conversation.model,
        "collections": list(conversation.collection_ids),
        "team_id": conversation.team_id,
        "updated_at": conversation.updated_at.isoformat(),
    }


@dataclass(slots=True)
class _Prepared:
    conversation: Conversation
    question: Message
    answer: Message
    call: gateway.GatewayCall


def _history(conversation: Conversation, question: Message) -> list[ChatMessage]:
    earlier = selectors.context_messages(conversation=conversation, before_id=question.pk)
    return [
        ChatMessage(role="user" if m.role == MessageRole.USER else "assistant", content=m.content)
        for m in [*earlier, question]
    ]


@transaction.atomic
def _prepare(user: User, ask: Ask) -> _Prepared:
    if ask.conversation_id is not None:
        conversation = selectors.conversation_get(user=user, conversation_id=ask.conversation_id)
        if ask.model is not None or ask.collection_ids is not None:
            services.conversation_configure(
                conversation=conversation,
                model=ask.model or conversation.model,
                collection_ids=conversation.collection_ids
                if ask.collection_ids is None
                else ask.collection_ids,
            )
    else:
        assert ask.team_id is not None  # parse_ask insists on one of the two
        team = access_team(Actor(user=user), ask.team_id)
        conversation = services.conversation_start(
            user=user,
            team=team,
            model=ask.model or settings.CHAT_DEFAULT_MODEL,
            collection_ids=ask.collection_ids,
        )
    if ask.regenerate:
        question = services.regeneration_prepare(conversation=conversation)
    else:
        question = services.question_add(conversation=conversation, text=ask.text)
    request_id = new_request_id()
    answer = services.answer_start(conversation=conversation, request_id=request_id)
    key = KeyContext(
        key_id=None,  # a person in the browser: the ledger names them and their team
        prefix="browser",
        team_id=conversation.team_id,
        organization_id=conversation.organization_id,
        user_id=user.pk,
        scopes=(Scope.INFERENCE.value,),
    )
    collections = [str(c) for c in conversation.collection_ids]
    call = gateway.GatewayCall(
        key=key,
        model=conversation.model,
        request=ChatRequest(
            messages=_history(conversation, question),
            max_tokens=settings.CHAT_MAX_TOKENS,
            user=str(user.pk),
        ),
        request_id=request_id,
        pipeline=Pipeline.RAG.value if collections else Pipeline.DIRECT.value,
        collections=collections,
    )
    return _Prepared(conversation, question, answer, call)


@dataclass(slots=True)
class Reply:
    """Run with ``frames()``. After it ends, however it ends, ``final`` is the last frame
    the browser should get (the stored answer), for callers that stopped iterating."""

    user: User
    ask: Ask
    final: dict[str, Any] | None = None
    answer_id: int | None = None
    conversation_id: int | None = None
    _text: list[str] = field(default_factory=list)
    _citations: list[dict[str, Any]] = field(default_factory=list)

    async def frames(self) -> AsyncGenerator[dict[str, Any]]:
        try:
            prepared = await run_detached(_prepare, self.user, self.ask)
        except ApplicationError as exc:
            yield error_frame(exc)
            return
        self.answer_id = prepared.answer.pk
        self.conversation_id = prepared.conversation.pk
        yield {"type": "conversation", "conversation": conversation_frame(prepared.conversation)}
        yield {
            "type": "start",
            "conversation_id": prepared.conversation.pk,
            "question_id": prepared.question.pk,
            "question_html": render_markdown(prepared.question.content),
            "message_id": prepared.answer.pk,
            "model": prepared.conversation.model,
            "regenerate": self.ask.regenerate,
        }
        # aclosing: however this generator is left (stop, closed socket), the inner one is
        # closed here and now, so the answer is stored before the caller moves on.
        async with aclosing(self._stream(prepared)) as frames:
            async for frame in frames:
                yield frame

    async def _stream(self, prepared: _Prepared) -> AsyncGenerator[dict[str, Any]]:
        end = services.AnswerEnd(content="", status=MessageStatus.COMPLETE)
        message_id = prepared.answer.pk
        rendered_at = time.monotonic()
        stream: gateway.ChatStream | None = None
        try:
            stream = await gateway.chat_stream(prepared.call)
            end.model_used = stream.served.model.name
            yield {"type": "served", "message_id": message_id, **stream.served.summary()}
            async for event in stream.events:
                if isinstance(event, TextDelta):
                    self._text.append(event.text)
                    yield {"type": "delta", "message_id": message_id, "text": event.text}
                    if time.monotonic() - rendered_at > RENDER_INTERVAL_SECONDS:
                        rendered_at = time.monotonic()
                        html = render_markdown("".join(self._text))
                        yield {"type": "render", "message_id": message_id, "html": html}
                elif isinstance(event, StreamEnd):
                    end.input_tokens = event.usage.input_tokens
                    end.output_tokens = event.usage.output_tokens
                elif isinstance(event, Citations):
                    self._citations = [c.as_dict() for c in event.citations]
                    yield {
                        "type": "citations",
                        "message_id": message_id,
                        "citations": citations_for_display(
                            team_id=prepared.conversation.team_id, citations=self._citations
                        ),
                    }
        except (asyncio.CancelledError, GeneratorExit):
            end.status = MessageStatus.STOPPED  # stop pressed, or the tab went away
            raise
        except ApplicationError as exc:
            end.status, end.error = MessageStatus.FAILED, error_frame(exc)["title"]
            yield error_frame(exc, message_id=message_id)
        except Exception:
            logger.exception("chat answer %s failed", prepared.call.request_id)
            end.status, end.error = MessageStatus.FAILED, "Something went wrong on our side."
            yield {
                "type": "error",
                "status": 500,
                "code": "internal_error",
                "title": end.error,
                "message": end.error,
                "hint": "Try again; if it keeps happening, tell an administrator.",
                "retry_after": None,
                "message_id": message_id,
            }
        finally:
            if stream is not None:
                # Left between two events (stopped while a frame was being sent): close the
                # gateway's relay now, which cancels the upstream call and settles the
                # ledger for what was used, rather than whenever it is garbage-collected.
                await _close(stream.events)
            end.content = "".join(self._text)
            end.citations = self._citations
            # Shielded: a second cancellation (the socket closing while stop is handled)
            # must not lose the answer.
            await asyncio.shield(
                run_detached(services.answer_finish, message_id=message_id, end=end)
            )
            self.final = {
                "type": "done",
                "message_id": message_id,
                "conversation_id": prepared.conversation.pk,
                "status": end.status.value,
                "html": render_markdown(end.content),
                "citations": citations_for_display(
                    team_id=prepared.conversation.team_id, citations=self._citations
                ),
                "model_used": end.model_used,
                "usage": {"input_tokens": end.input_tokens, "output_tokens": end.output_tokens},
                "error": end.error,
            }
        yield self.final


async def _close(events: AsyncIterator[Any]) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()
