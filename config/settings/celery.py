"""Celery: broker on Redis, worker and beat (the knowledge issue owns this module).

The broker is the same Redis as everything else. The embedded Redis listens on a unix
socket (``unix:///.../redis.sock?db=N``); kombu spells that ``redis+socket:///...`` with
the database as ``virtual_host``, so the URL is translated here rather than configured
twice. Results are not stored: tasks write their outcome to the database (a document's
status), which is what users and the API read.
"""

from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from config.env import env
from config.settings.billing import BILLING_BEAT_SCHEDULE
from config.settings.redis import REDIS_URL


def celery_broker_url(redis_url: str) -> str:
    """kombu's form of a redis-py URL (unix sockets differ; TCP URLs pass through)."""
    parts = urlsplit(redis_url)
    query = parse_qs(parts.query)
    db = query.pop("db", [""])[0]
    if parts.scheme == "unix":
        return f"redis+socket://{parts.path}?virtual_host={db or 0}"
    if not db:
        return redis_url
    # redis-py accepts ?db=N; kombu reads the database from the path only.
    rest = urlencode({key: values[0] for key, values in query.items()})
    return urlunsplit(parts._replace(path=f"/{db}", query=rest))


CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or celery_broker_url(REDIS_URL)
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# A task is acknowledged only when it has finished, and a worker that dies mid-task hands
# the message back: ingestion is idempotent, so running it again is safe (decision 0013).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Long tasks (a 200-page PDF) must not hold prefetched messages other workers could run.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CONCURRENCY = env.int("CELERY_WORKER_CONCURRENCY", default=2)
# The embedding model takes seconds to load in each worker child; it is loaded in the
# background, but give a slow machine room before the parent gives up on a child.
CELERY_WORKER_PROC_ALIVE_TIMEOUT = 30.0
# A message taken by a worker that vanished (SIGKILL, lost machine) is handed out again
# after this; the lease on each document (KNOWLEDGE_LEASE_SECONDS) stops two workers from
# indexing one document at once if a slow task outlives it.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT_SECONDS", default=3600),
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Declared here, synchronised into django-celery-beat's tables when beat starts (the
# console shows them under Periodic tasks).
CELERY_BEAT_SCHEDULE = {
    # Chat retention (CHAT_RETENTION_DAYS; 0 keeps conversations and the task does nothing).
    "chat-delete-expired-conversations": {
        "task": "chat.tasks.delete_expired_conversations",
        "schedule": timedelta(hours=24),
    },
    "knowledge-requeue-stuck-documents": {
        "task": "knowledge.tasks.requeue_stuck_documents",
        "schedule": timedelta(seconds=env.int("KNOWLEDGE_SWEEP_INTERVAL_SECONDS", default=60)),
    },
    "gateway-drain-ledger-stream": {
        "task": "gateway.tasks.drain_ledger_stream",
        "schedule": timedelta(seconds=60),
    },
    **BILLING_BEAT_SCHEDULE,  # rollups, alerts, reports, counter reconcile (billing)
}
