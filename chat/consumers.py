"""The chat's WebSocket: one per browser tab, session-authenticated.

Client -> server (JSON): ``ask`` {text, conversation_id | team_id, model?, collections?},
``regenerate`` {conversation_id}, ``stop`` {}, ``knowledge.subscribe`` {team_id}.
Server -> client: the frames of ``chat.replies`` (conversation, start, served, delta,
render, citations, done, error) and ``knowledge.progress``.

A socket runs one answer at a time; ``stop`` cancels it, which cancels the upstream call
(the gateway's relay settles the ledger for what was used) and stores the partial answer.
Every id a client sends is looked up through the signed-in person (``chat.selectors``,
``accounts.access``): someone else's conversation or team is an ``error`` frame with
status 404, exactly as if it did not exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import aclosing
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer  # type: ignore[import-untyped]

from accounts.access import Actor, access_team
from accounts.models import User
from chat.receivers import knowledge_group
from chat.replies import Reply, error_frame, parse_ask
from core.asyncdb import run_detached
from core.errors import ApplicationError, ValidationFailed
from core.redis import ensure_embedded_redis

logger = logging.getLogger(__name__)

# Close codes (4000-4999 are the application's own).
CLOSE_UNAUTHENTICATED = 4401
MAX_SUBSCRIPTIONS = 50


class ChatConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]  # channels is untyped
    user: User
    reply: Reply | None
    task: asyncio.Task[None] | None
    groups_joined: set[str]

    async def connect(self) -> None:
        user = self.scope.get("user")
        if not isinstance(user, User) or not user.is_active:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user = user
        self.reply, self.task, self.groups_joined = None, None, set()
        await run_detached(ensure_embedded_redis)  # development: the channel layer's Redis
        await self.accept()
        await self.send_json({"type": "hello"})

    async def disconnect(self, code: int) -> None:
        await self._cancel_running()
        for group in getattr(self, "groups_joined", set()):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        try:
            if not isinstance(content, dict) or not isinstance(content.get("type"), str):
                raise ValidationFailed("Each message is a JSON object with a 'type'.")
            kind = content["type"]
            if kind in {"ask", "regenerate"}:
                await self._start(parse_ask(content, regenerate=kind == "regenerate"))
            elif kind == "stop":
                await self._stop()
            elif kind == "knowledge.subscribe":
                await self._subscribe(content.get("team_id"))
            else:
                raise ValidationFailed(f"Unknown message type {kind!r}.", code="unknown_type")
        except ApplicationError as exc:
            await self.send_json(error_frame(exc))

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        try:
            return await super().decode_json(text_data)
        except ValueError:
            return None  # answered as a malformed message by receive_json

    # --- answers ----------------------------------------------------------------------

    async def _start(self, ask: Any) -> None:
        if self.task is not None and not self.task.done():
            raise ValidationFailed("An answer is still being written; stop it first.", code="busy")
        self.reply = Reply(user=self.user, ask=ask)
        self.task = asyncio.create_task(self._run(self.reply))

    async def _run(self, reply: Reply) -> None:
        try:
            async with aclosing(reply.frames()) as frames:
                async for frame in frames:
                    await self.send_json(frame)
        except asyncio.CancelledError:
            raise
        except Exception:  # a closed socket mid-send: the answer is stored regardless
            logger.exception("chat answer ended with an error")

    async def _cancel_running(self) -> Reply | None:
        task, reply = getattr(self, "task", None), getattr(self, "reply", None)
        if task is None or task.done():
            return None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return reply

    async def _stop(self) -> None:
        reply = await self._cancel_running()
        if reply is not None and reply.final is not None:
            await self.send_json(reply.final)

    # --- knowledge progress -----------------------------------------------------------

    async def _subscribe(self, team_id: Any) -> None:
        if isinstance(team_id, bool) or not isinstance(team_id, int):
            raise ValidationFailed("'team_id' must be a number.", param="team_id")
        await run_detached(access_team, Actor(user=self.user), team_id)  # 404 if not theirs
        group = knowledge_group(team_id)
        if group not in self.groups_joined:
            if len(self.groups_joined) >= MAX_SUBSCRIPTIONS:
                raise ValidationFailed("Too many subscriptions on one connection.")
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.add(group)
        await self.send_json({"type": "knowledge.subscribed", "team_id": team_id})

    async def knowledge_progress(self, event: dict[str, Any]) -> None:
        await self.send_json(event)
