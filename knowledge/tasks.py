"""Celery tasks: thin wrappers around ``knowledge.ingestion``."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.signals import worker_process_init
from django.conf import settings

from knowledge import ingestion

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def ingest_document(self: Any, document_id: int) -> str:
    try:
        outcome = ingestion.ingest(document_id)
    except ingestion.TransientError as e:
        if self.request.retries >= settings.KNOWLEDGE_TASK_MAX_RETRIES:
            ingestion.fail_after_retries(
                document_id,
                "Indexing failed several times because a service was unavailable "
                f"({str(e)[:200]}). Re-index the document to try again.",
            )
            return "failed"
        # Exponential backoff: 2, 4, 8, ... seconds, at most five minutes.
        raise self.retry(countdown=min(300, 2 ** (self.request.retries + 1))) from e
    logger.info("document %s: %s %s", document_id, outcome.result, outcome.detail)
    return outcome.result


@shared_task
def requeue_stuck_documents() -> int:
    ids = ingestion.claim_stuck_documents()
    for document_id in ids:
        logger.warning("document %s was stuck; queued again", document_id)
        ingest_document.delay(document_id)
    return len(ids)


@worker_process_init.connect
def _warm_embedder(**kwargs: Any) -> None:
    """Each worker child loads the model in the background as it starts, so the first
    document does not wait for it (and the child answers the parent meanwhile)."""
    from knowledge.embeddings import warm_default_model

    warm_default_model(background=True)
