"""Chat fixtures: the default catalogue (transactional tests flush the data migration's
rows), conversations for the three actors, and a way to drive the WebSocket consumer
from a synchronous test."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator

from chat.consumers import ChatConsumer
from chat.tests.factories import ConversationFactory, MessageFactory
from gateway import governance
from gateway.catalogue import forget_snapshot


@pytest.fixture
def chat_catalogue(db):
    """The local provider, local-extractive and the chat-default route, as a fresh
    install has them."""
    from importlib import import_module

    from django.apps import apps

    import_module("gateway.migrations.0002_local_catalogue").create_local_catalogue(apps, None)
    forget_snapshot()
    yield
    forget_snapshot()


@pytest.fixture
def owner_conversation(world):
    conversation = ConversationFactory(
        team=world.team_a, user=world.owner_a, title="Quarterly plan"
    )
    MessageFactory(conversation=conversation, content="What is our plan?")
    MessageFactory(conversation=conversation, role="assistant", content="The plan is **bold**.")
    return conversation


def run_async(function: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    """Run a coroutine function from a sync test. ORM calls inside it (run_detached with
    ASYNC_ORM_IN_CALLER_THREAD) come back to this thread, so they see the test's
    transaction."""

    async def wrapper() -> Any:
        try:
            return await function(*args)
        finally:
            # Ledger writes run as detached tasks; let them land before the loop ends.
            pending = list(governance._settling)
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    return async_to_sync(wrapper)()


class Socket(ApplicationCommunicator):
    """A WebSocket client for an ASGI app, in-process (channels.testing needs daphne,
    which is not installed; this is the same few lines)."""

    def __init__(self, application: Any, *, user: Any = None, headers=None) -> None:
        scope = {
            "type": "websocket",
            "path": "/ws/chat/",
            "query_string": b"",
            "headers": headers or [],
            "subprotocols": [],
        }
        if user is not None:
            scope["user"] = user
        super().__init__(application, scope)

    async def connect(self, wait: float = 5) -> tuple[bool, int | None]:
        await self.send_input({"type": "websocket.connect"})
        response = await self.receive_output(wait)
        if response["type"] == "websocket.close":
            return False, response.get("code")
        return True, None

    async def send(self, frame: dict[str, Any]) -> None:
        await self.send_input({"type": "websocket.receive", "text": json.dumps(frame)})

    async def receive(self, wait: float = 10) -> dict[str, Any]:
        response = await self.receive_output(wait)
        assert response["type"] == "websocket.send", response
        return json.loads(response["text"])

    async def frames_until(self, kind: str, *, wait: float = 10) -> list[dict[str, Any]]:
        """Frames received up to and including the first of type ``kind``."""
        frames = []
        while True:
            frame = await self.receive(wait)
            frames.append(frame)
            if frame["type"] == kind:
                return frames

    async def close(self) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.wait(5)


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """Each test runs its coroutines on an event loop of its own (async_to_sync), while the
    channel layer object is cached per process and keeps asyncio locks and Redis pools
    bound to the loop that first used them: shared across tests, a later test could wait
    on an earlier test's dead loop (seen as a hang at loop shutdown). Server processes
    have one loop and keep one layer."""
    from channels.layers import channel_layers  # type: ignore[import-untyped]

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def _keep_the_test_connection(monkeypatch):
    """Channels closes "old" database connections around each handler; inside a test's
    transaction that would hand the test's own connection back to the pool mid-test.
    channels.testing patches the same function; server processes (the browser tests) run
    the real thing."""
    monkeypatch.setattr("channels.db.close_old_connections", lambda: None)


def connect_as(user: Any) -> Socket:
    return Socket(ChatConsumer.as_asgi(), user=user)
