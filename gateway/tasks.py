"""Periodic gateway work on Celery beat."""

from __future__ import annotations

import asyncio

from celery import shared_task
from django.conf import settings

from gateway import ledger


@shared_task(ignore_result=True)
def drain_ledger_stream() -> int:
    """Write ledger rows that no gateway process is draining: a process that died after
    answering leaves its rows in the stream, and a live process only claims them when it
    settles something itself, which a quiet gateway may not do for hours (decision 0023)."""
    return asyncio.run(_drain_abandoned())


async def _drain_abandoned() -> int:
    reclaim_idle_ms = int(settings.GATEWAY_LEDGER_RECLAIM_SECONDS * 1000)
    total = 0
    while True:
        # Entries a dead drainer had read, once idle long enough, then entries nobody read.
        moved = await ledger.drain_once(reclaim_idle_ms=reclaim_idle_ms)
        moved += await ledger.drain_once()
        if not moved:
            return total
        total += moved
