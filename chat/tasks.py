"""Celery tasks for the chat: retention (run daily by beat, config/settings/celery.py)."""

from __future__ import annotations

import logging

from celery import shared_task

from chat.services import conversations_delete_expired

logger = logging.getLogger(__name__)


@shared_task
def delete_expired_conversations() -> int:
    """Delete conversations older than CHAT_RETENTION_DAYS. Idempotent: a second run (or
    two beats at once) finds nothing left to delete."""
    deleted = conversations_delete_expired()
    if deleted:
        logger.info("retention: deleted %d conversations", deleted)
    return deleted
