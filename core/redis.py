"""Shared Redis clients. Connection pools are per process (and, for asyncio, per loop).

With no REDIS_URL the embedded server is started on the first client creation in a
process ("created on first use"); it is not restarted behind the application's back if
it dies later, so an outage behaves as it would in production.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from pathlib import Path

import redis
import redis.asyncio as aioredis
from django.conf import settings

_TIMEOUT_SECONDS = 2.0


@functools.cache
def ensure_embedded_redis() -> None:
    if settings.EMBEDDED_REDIS:
        from core.embedded import ensure_redis

        ensure_redis(Path(settings.VAR_DIR))


@functools.cache
def get_redis() -> redis.Redis:
    ensure_embedded_redis()
    return redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=_TIMEOUT_SECONDS, socket_connect_timeout=_TIMEOUT_SECONDS
    )


_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = (
    weakref.WeakKeyDictionary()
)


def get_async_redis() -> aioredis.Redis:
    """An asyncio client bound to the running loop (asyncio pools cannot cross loops)."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        ensure_embedded_redis()
        client = aioredis.Redis.from_url(
            settings.REDIS_URL,
            socket_timeout=_TIMEOUT_SECONDS,
            socket_connect_timeout=_TIMEOUT_SECONDS,
            max_connections=settings.REDIS_MAX_CONNECTIONS,
        )
        _async_clients[loop] = client
    return client
