"""Health probes: /healthz says the process is up, /readyz that its dependencies answer."""

from __future__ import annotations

import asyncio

from django.db import connection
from django.http import HttpRequest, JsonResponse

from core.asyncdb import run_detached
from core.redis import get_async_redis

_PROBE_TIMEOUT_SECONDS = 2.0


async def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _database_answers() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


async def _check(name: str, probe: object) -> tuple[str, str]:
    try:
        await asyncio.wait_for(probe, timeout=_PROBE_TIMEOUT_SECONDS)  # type: ignore[arg-type]
    except Exception as exc:
        return name, f"error: {type(exc).__name__}"
    return name, "ok"


async def readyz(request: HttpRequest) -> JsonResponse:
    results = dict(
        await asyncio.gather(
            _check("database", run_detached(_database_answers)),
            _check("redis", get_async_redis().ping()),
        )
    )
    ready = all(value == "ok" for value in results.values())
    return JsonResponse(
        {"status": "ready" if ready else "unavailable", "checks": results},
        status=200 if ready else 503,
    )
