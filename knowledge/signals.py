"""Signals other apps listen to (knowledge never imports its listeners).

- ``document_progress`` (kwargs: team_id, collection_id, document_id, status, chunks_done,
  chunks_total, error): sent as ingestion advances; chat pushes it over WebSockets.
- ``collection_changed`` (kwargs: team_id, collection_id): sent after a collection's
  indexed content changed (a document became ready, was replaced or deleted, or the
  collection was re-embedded or deleted); the gateway drops the team's semantic cache.

Both are sent after the database commit they describe, from whatever process did the
work (usually a Celery worker), so receivers must not assume a request is around.
"""

from __future__ import annotations

import django.dispatch

document_progress = django.dispatch.Signal()
collection_changed = django.dispatch.Signal()
