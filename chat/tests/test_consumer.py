"""The chat WebSocket: streaming through the gateway in-process, stop, regenerate,
tenancy of every id a client sends, readable errors, ingestion progress pushes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import AnonymousUser

from billing.models import TeamBudget, UsageRecord, UsageStatus
from chat.consumers import CLOSE_UNAUTHENTICATED
from chat.models import Conversation, Message, MessageRole, MessageStatus
from chat.tests.conftest import Socket, connect_as, run_async
from chat.tests.factories import ConversationFactory, MessageFactory
from gateway.catalogue import forget_snapshot
from gateway.models import CatalogModel, Provider, Route, RouteStep, TeamGatewaySettings

pytestmark = pytest.mark.django_db


async def _ask(socket: Socket, **fields) -> list[dict]:
    await socket.send({"type": "ask", **fields})
    return await socket.frames_until("done")


def test_a_new_conversation_streams_an_answer_and_is_billed_to_the_person(world, chat_catalogue):
    async def scenario():
        socket = connect_as(world.owner_a)
        assert (await socket.connect())[0]
        assert (await socket.receive())["type"] == "hello"
        frames = await _ask(socket, text="Hello there", team_id=world.team_a.pk)
        await socket.close()
        return frames

    frames = run_async(scenario)
    kinds = [f["type"] for f in frames]
    assert kinds[:3] == ["conversation", "start", "served"]
    assert kinds.count("delta") > 5  # token by token
    done = frames[-1]
    assert done["status"] == "complete"
    assert "local extractive model" in done["html"]
    streamed = "".join(f["text"] for f in frames if f["type"] == "delta")
    conversation = Conversation.objects.get(pk=frames[0]["conversation"]["id"])
    assert (conversation.user, conversation.team, conversation.title) == (
        world.owner_a, world.team_a, "Hello there",
    )  # fmt: skip
    answer = Message.objects.get(pk=done["message_id"])
    assert (answer.content, answer.status, answer.model_used) == (
        streamed, MessageStatus.COMPLETE, "local-extractive",
    )  # fmt: skip
    ledger = UsageRecord.objects.get(request_id=answer.request_id)
    assert (ledger.user, ledger.team, ledger.api_key, ledger.status) == (
        world.owner_a, world.team_a, None, UsageStatus.OK,
    )  # fmt: skip
    assert ledger.output_tokens == answer.output_tokens > 0


def test_history_goes_to_the_model_as_context(world, chat_catalogue, settings, monkeypatch):
    settings.CHAT_CONTEXT_MESSAGES = 1  # earlier messages sent besides the new question
    conversation = ConversationFactory(team=world.team_a, user=world.owner_a)
    MessageFactory(conversation=conversation, content="first question")
    MessageFactory(conversation=conversation, role=MessageRole.ASSISTANT, content="first answer")
    seen = []

    from gateway.providers.local import LocalProvider

    original = LocalProvider.stream

    def spy(self, request, *, model):
        seen.append([(m.role, m.content) for m in request.messages])
        return original(self, request, model=model)

    async def scenario():
        socket = connect_as(world.owner_a)
        await socket.connect()
        await socket.receive()
        await _ask(socket, text="second question", conversation_id=conversation.pk)
        await socket.close()

    monkeypatch.setattr(LocalProvider, "stream", spy)
    run_async(scenario)
    assert seen == [[("assistant", "first answer"), ("user", "second question")]]


def test_stop_cancels_the_upstream_call_and_the_ledger_records_what_was_used(
    world, chat_catalogue, settings
):
    settings.LOCAL_MODEL_TOKEN_DELAY_MS = 40

    async def scenario():
        socket = connect_as(world.owner_a)
        await socket.connect()
        await socket.receive()
        await socket.send({"type": "ask", "text": "Tell me everything", "team_id": world.team_a.pk})
        frames = await socket.frames_until("delta")
        frames += await socket.frames_until("delta")
        await socket.send({"type": "stop"})
        frames += await socket.frames_until("done")
        await socket.close()
        return frames

    frames = run_async(scenario)
    done = frames[-1]
    assert done["status"] == "stopped"
    answer = Message.objects.get(pk=done["message_id"])
    assert answer.status == MessageStatus.STOPPED
    assert answer.content  # what was written before the stop is kept
    assert len(answer.content.split()) < 30  # the full answer is far longer
    ledger = UsageRecord.objects.get(request_id=answer.request_id)
    assert ledger.status == UsageStatus.CLIENT_CANCELLED
    assert ledger.user == world.owner_a
    assert ledger.input_tokens > 0
    assert ledger.output_tokens > 0


def test_closing_the_socket_mid_answer_keeps_the_partial_answer(world, chat_catalogue, settings):
    settings.LOCAL_MODEL_TOKEN_DELAY_MS = 40

    async def scenario():
        socket = connect_as(world.owner_a)
        await socket.connect()
        await socket.receive()
        await socket.send({"type": "ask", "text": "Go on", "team_id": world.team_a.pk})
        frames = await socket.frames_until("delta")
        await socket.close()
        return frames

    frames = run_async(scenario)
    start = next(f for f in frames if f["type"] == "start")
    answer = Message.objects.get(pk=start["message_id"])
    assert answer.status == MessageStatus.STOPPED
    assert UsageRecord.objects.get(request_id=answer.request_id).status == (
        UsageStatus.CLIENT_CANCELLED
    )


def test_regenerate_replaces_the_last_answer(world, chat_catalogue):
    conversation = ConversationFactory(team=world.team_a, user=world.owner_a)
    question = MessageFactory(conversation=conversation, content="Why?")
    old = MessageFactory(conversation=conversation, role=MessageRole.ASSISTANT, content="Old")

    async def scenario():
        socket = connect_as(world.owner_a)
        await socket.connect()
        await socket.receive()
        await socket.send({"type": "regenerate", "conversation_id": conversation.pk})
        frames = await socket.frames_until("done")
        await socket.close()
        return frames

    frames = run_async(scenario)
    start = next(f for f in frames if f["type"] == "start")
    assert start["regenerate"] is True
    assert start["question_id"] == question.pk
    assert not Message.objects.filter(pk=old.pk).exists()
    assert list(conversation.messages.values_list("pk", flat=True)) == [
        question.pk, frames[-1]["message_id"],
    ]  # fmt: skip


@pytest.mark.parametrize("intruder", ["member_a", "outsider_b"])
def test_nobody_else_can_use_a_conversation_over_the_socket(world, chat_catalogue, intruder):
    conversation = ConversationFactory(team=world.team_a, user=world.owner_a)
    MessageFactory(conversation=conversation, content="private question")
    MessageFactory(conversation=conversation, role=MessageRole.ASSISTANT, content="private")

    async def scenario():
        socket = connect_as(getattr(world, intruder))
        await socket.connect()
        await socket.receive()
        replies = []
        for frame in (
            {"type": "ask", "text": "hi", "conversation_id": conversation.pk},
            {"type": "regenerate", "conversation_id": conversation.pk},
        ):
            await socket.send(frame)
            replies.append(await socket.receive())
        await socket.close()
        return replies

    for reply in run_async(scenario):
        assert reply["type"] == "error"
        assert reply["status"] == 404
        assert reply["code"] == "conversation_not_found"
    assert conversation.messages.count() == 2


def test_a_team_one_does_not_belong_to_is_not_found(world, chat_catalogue):
    async def scenario():
        socket = connect_as(world.outsider_b)
        await socket.connect()
        await socket.receive()
        await socket.send({"type": "ask", "text": "hi", "team_id": world.team_a.pk})
        ask_reply = await socket.receive()
        await socket.send({"type": "knowledge.subscribe", "team_id": world.team_a.pk})
        subscribe_reply = await socket.receive()
        await socket.close()
        return ask_reply, subscribe_reply

    for reply in run_async(scenario):
        assert (reply["type"], reply["status"]) == ("error", 404)
    assert not Conversation.objects.exists()


def test_anonymous_sockets_are_closed():
    async def scenario():
        socket = Socket(connect_as(AnonymousUser()).application, user=AnonymousUser())
        outcome = await socket.connect()
        await socket.close()  # the server's half of the close handshake ends the consumer
        return outcome

    assert run_async(scenario) == (False, CLOSE_UNAUTHENTICATED)


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        {"type": "teleport"},
        {"type": "ask", "text": "   ", "team_id": 1},
        {"type": "ask", "text": "hi"},
        {"type": "ask", "text": "hi", "team_id": "x"},
        {"type": "ask", "text": "hi", "team_id": 1, "collections": "all"},
        {"type": "regenerate"},
    ],
)
def test_malformed_messages_get_an_error_frame(world, frame):
    async def scenario():
        socket = connect_as(world.owner_a)
        await socket.connect()
        await socket.receive()
        if isinstance(frame, str):
            await socket.send_input({"type": "websocket.receive", "text": frame})
        else:
            await socket.send(frame)
        reply = await socket.receive()
        await socket.close()
        return reply

    reply = run_async(scenario)
    assert reply["type"] == "error"
    assert reply["status"] == 400
    assert reply["title"]


def test_rate_limits_say_when_to_retry(world, chat_catalogue):
    TeamGatewaySettings.objects.create(team=world.team_a, rpm_limit=1)
    forget_snapshot()

    async def scenario():
        socket = connect_as(world.owner_a)
        await socket.connect()
        await socket.receive()
        first = await _ask(socket, text="one", team_id=world.team_a.pk)
        await socket.send({"type": "ask", "text": "two", "team_id": world.team_a.pk})
        second = await socket.frames_until("done")
        await socket.close()
        return first, second

    first, second = run_async(scenario)
    assert first[-1]["status"] == "complete"
    error = next(f for f in second if f["type"] == "error")
    assert error["status"] == 429
    assert error["retry_after"] >= 1
    assert f"Try again in {error['retry_after']} seconds" in error["hint"]
    assert second[-1]["status"] == "failed"


def test_over_budget_is_explained(world, chat_catalogue):
    CatalogModel.objects.filter(name="local-extractive").update(
        input_price_per_mtok=Decimal(1000), output_price_per_mtok=Decimal(1000)
    )
    TeamBudget.objects.create(team=world.team_a, monthly_limit_usd=Decimal("0.0001"))
    forget_snapshot()

    async def scenario():
        socket = connect_as(world.owner_a)
        await socket.connect()
        await socket.receive()
        frames = await _ask(socket, text="Expensive", team_id=world.team_a.pk)
        await socket.close()
        return frames

    frames = run_async(scenario)
    error = next(f for f in frames if f["type"] == "error")
    assert error["status"] == 402
    assert "budget" in error["title"]
    assert frames[-1]["status"] == "failed"


def test_a_provider_that_is_down_is_explained(world, chat_catalogue, settings):
    settings.GATEWAY_BACKOFF_BASE_MS = 1
    settings.GATEWAY_BACKOFF_MAX_MS = 2
    down = Provider.objects.create(
        name="down", kind="openai", base_url="http://127.0.0.1:9/v1", timeout_seconds=1
    )
    model = CatalogModel.objects.create(
        name="gone", provider=down, upstream_name="gpt-4o", context_window=8000,
        max_output_tokens=1024,
    )  # fmt: skip
    route = Route.objects.create(name="broken")
    RouteStep.objects.create(route=route, model=model, position=0)
    forget_snapshot()

    async def scenario():
        socket = connect_as(world.owner_a)
        await socket.connect()
        await socket.receive()
        frames = await _ask(socket, text="Anyone?", team_id=world.team_a.pk, model="broken")
        await socket.close()
        return frames

    frames = run_async(scenario)
    error = next(f for f in frames if f["type"] == "error")
    assert error["status"] in {502, 503, 504}
    assert error["title"] == "The model provider is not answering right now."
    assert Message.objects.get(pk=frames[-1]["message_id"]).status == MessageStatus.FAILED


def test_ingestion_progress_is_pushed_to_subscribers_of_the_team(world):
    from knowledge.models import DocumentStatus
    from knowledge.signals import document_progress

    def progress(team_id):
        document_progress.send(
            sender=None, team_id=team_id, collection_id=3, document_id=42,
            status=DocumentStatus.EMBEDDING, chunks_done=5, chunks_total=10, error="",
        )  # fmt: skip

    async def scenario():
        socket = connect_as(world.owner_a)
        await socket.connect()
        await socket.receive()
        await socket.send({"type": "knowledge.subscribe", "team_id": world.team_a.pk})
        assert (await socket.receive())["type"] == "knowledge.subscribed"
        await sync_to_async(progress)(world.team_b.pk)  # another team's: not for us
        await sync_to_async(progress)(world.team_a.pk)
        frame = await socket.receive()
        assert await socket.receive_nothing(0.3)
        await socket.close()
        return frame

    frame = run_async(scenario)
    assert frame == {
        "type": "knowledge.progress", "team_id": world.team_a.pk, "collection_id": 3,
        "document_id": 42, "status": "embedding", "chunks_done": 5, "chunks_total": 10,
        "error": "",
    }  # fmt: skip
