"""ORM calls from async code: ``run_detached``.

Why not Django's ``sync_to_async`` / ``aget``: those run in the request's own thread and
keep its database connection until the request ends. An async request that awaits an
upstream model (or a ledger write of its own) while holding a pooled connection starves
the pool; under a burst, every connection is held by a request waiting for another one,
and the process deadlocks until the pool times out. ``run_detached`` runs the call in the
shared thread pool and gives the connection back at once. It also works from tasks that
outlive their request (a ledger write for a client that disconnected), whose request
thread may be gone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections

P = ParamSpec("P")
R = TypeVar("R")


def _closing(function: Callable[P, R]) -> Callable[P, R]:
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    return run


async def run_detached(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    if settings.ASYNC_ORM_IN_CALLER_THREAD:
        # Tests only: a test's transaction lives on its own connection, so its ORM calls
        # must stay on it (and must not close it).
        return await sync_to_async(function)(*args, **kwargs)
    return await sync_to_async(_closing(function), thread_sensitive=False)(*args, **kwargs)
