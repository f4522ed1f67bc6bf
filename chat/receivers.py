"""Ingestion progress, pushed to the browsers watching the team's knowledge page.

Knowledge sends ``document_progress`` from whichever process does the work (usually a
Celery worker); the Redis channel layer carries it to whichever process holds each
browser's socket.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer  # type: ignore[import-untyped]
from django.dispatch import receiver

from knowledge.signals import document_progress

logger = logging.getLogger(__name__)


_pushing: set[asyncio.Task[None]] = set()  # strong references until each push is done


def knowledge_group(team_id: int) -> str:
    return f"knowledge.team.{team_id}"


@receiver(document_progress, dispatch_uid="chat.push_document_progress")
def push_document_progress(sender: Any, **progress: Any) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    event = {
        "type": "knowledge.progress",  # the consumer's knowledge_progress handler
        "team_id": progress["team_id"],
        "collection_id": progress["collection_id"],
        "document_id": progress["document_id"],
        "status": str(progress["status"]),
        "chunks_done": int(progress.get("chunks_done") or 0),
        "chunks_total": int(progress.get("chunks_total") or 0),
        "error": str(progress.get("error") or ""),
    }
    group = knowledge_group(int(progress["team_id"]))
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    try:
        if loop is None:
            async_to_sync(layer.group_send)(group, event)
        else:  # sent from async code: do not block the loop
            task = loop.create_task(layer.group_send(group, event))
            _pushing.add(task)
            task.add_done_callback(_pushing.discard)
    except Exception:  # progress is a courtesy: never fail ingestion because of a push
        logger.warning("could not push document progress", exc_info=True)
