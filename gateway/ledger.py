"""Ledger rows written after the answer: a Redis stream, drained into PostgreSQL in batches.

The HTTP API answers first and settles afterwards (decision 0023). So that a row can
never be lost on the way, settlement appends the row to the stream ``ledger:usage`` in
the same pipeline as its rate-limit correction and cache store, before the budget
mirror is settled. Every gateway process runs a drainer that reads the stream through the
consumer group ``ledger-writers`` (each entry goes to one drainer), writes what it got in
one INSERT ... ON CONFLICT (request_id) DO NOTHING, and only then acknowledges and deletes
the entries. Hence:

- never lost: an entry leaves the stream only after its row is committed; entries a
  crashed drainer had read stay pending in the group and are claimed by any other drainer
  (XAUTOCLAIM) once idle for GATEWAY_LEDGER_RECLAIM_SECONDS;
- never twice: request ids are unique, and a redelivered entry's INSERT does nothing;
- if Redis refuses the append, settlement writes the row straight to PostgreSQL instead.

Rows that can never be written (their team was deleted meanwhile) go to ``ledger:dead``
with the database's reason, loudly logged, instead of blocking the stream.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import redis
from django.conf import settings
from django.db import DatabaseError
from redis.asyncio.client import Pipeline

from billing.models import UsageStatus
from billing.services import UsageEntry, usage_records_write
from core.asyncdb import run_detached
from core.redis import get_async_redis

logger = logging.getLogger(__name__)

STREAM = "ledger:usage"
DEAD = "ledger:dead"
GROUP = "ledger-writers"
_FIELD = "e"
_RETRY_SECONDS = 1.0  # after Redis or the database failed


def encode(entry: UsageEntry) -> str:
    data = {name: getattr(entry, name) for name in UsageEntry.__dataclass_fields__}
    data["cost_usd"] = str(entry.cost_usd)  # exact: Decimal, not float
    data["status"] = str(entry.status.value if hasattr(entry.status, "value") else entry.status)
    return json.dumps(data, separators=(",", ":"))


def decode(raw: bytes | str) -> UsageEntry:
    data: dict[str, Any] = json.loads(raw)
    data["cost_usd"] = Decimal(data["cost_usd"])
    data["status"] = UsageStatus(data["status"])
    return UsageEntry(**data)


def append(pipe: Pipeline, entry: UsageEntry) -> None:
    """Queue the row on a settlement pipeline (no MAXLEN: entries are never trimmed away)."""
    pipe.xadd(STREAM, {_FIELD: encode(entry)})


# --- the drainer ------------------------------------------------------------------------

_CONSUMER = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
_drainers: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}


def ensure_drainer() -> None:
    """Start this process's drainer on the running loop (once); settlement calls it."""
    loop = asyncio.get_running_loop()
    task = _drainers.get(loop)
    if task is None or task.done():
        _drainers[loop] = loop.create_task(_drain_forever(), name="ledger-drainer")


async def _ensure_group(client: Any) -> None:
    try:
        # From "0": entries appended before any drainer existed are delivered too.
        await client.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def drain_once(*, block_ms: int | None = None, reclaim_idle_ms: int | None = None) -> int:
    """Write one batch: entries idle in the group past ``reclaim_idle_ms`` (a crashed or
    stuck drainer's) if asked, else new ones. Returns how many entries were settled."""
    client = get_async_redis()
    batch = settings.GATEWAY_LEDGER_BATCH_ROWS
    entries: list[tuple[bytes, dict[bytes, bytes] | None]]
    try:
        if reclaim_idle_ms is not None:
            reply = await client.xautoclaim(
                STREAM, GROUP, _CONSUMER, min_idle_time=reclaim_idle_ms, count=batch
            )
            entries = list(reply[1])
        else:
            streams: Any = await client.xreadgroup(
                GROUP, _CONSUMER, {STREAM: ">"}, count=batch, block=block_ms
            )
            entries = list(streams[0][1]) if streams else []
    except redis.ResponseError as exc:
        if "NOGROUP" not in str(exc):
            raise
        await _ensure_group(client)  # first use, or the stream was deleted (FLUSHDB)
        return 0
    if not entries:
        return 0
    await _write(client, entries)
    return len(entries)


async def _write(client: Any, entries: Sequence[tuple[bytes, dict[bytes, bytes] | None]]) -> None:
    ids = [entry_id for entry_id, _ in entries]
    rows: list[UsageEntry] = []
    dead: list[tuple[str, str]] = []
    for _, fields in entries:
        if not fields:  # deleted while pending (acknowledged by someone already)
            continue
        try:
            rows.append(decode(fields[_FIELD.encode()]))
        except (KeyError, ValueError, TypeError) as exc:
            dead.append((repr(fields), f"undecodable: {exc}"))
    failed = await run_detached(usage_records_write, rows) if rows else []
    dead += [(encode(entry), reason) for entry, reason in failed]
    async with client.pipeline(transaction=True) as pipe:
        for payload, reason in dead:
            pipe.xadd(DEAD, {_FIELD: payload, "reason": reason})
        pipe.xack(STREAM, GROUP, *ids)
        pipe.xdel(STREAM, *ids)
        await pipe.execute()
    for payload, reason in dead:
        logger.error("LEDGER ROW NOT WRITTEN (kept in %s): %s: %s", DEAD, reason, payload)


async def _drain_forever() -> None:
    linger = settings.GATEWAY_LEDGER_LINGER_MS / 1000
    reclaim_every = settings.GATEWAY_LEDGER_RECLAIM_SECONDS
    reclaim_idle_ms = int(reclaim_every * 1000)
    loop = asyncio.get_running_loop()
    next_reclaim = loop.time()
    while True:
        try:
            if loop.time() >= next_reclaim:
                while await drain_once(reclaim_idle_ms=reclaim_idle_ms):
                    pass
                next_reclaim = loop.time() + reclaim_every
            # Block for new entries (below the client's socket timeout), then linger a
            # moment so that, under load, each INSERT carries many rows.
            if await drain_once(block_ms=1000):
                await asyncio.sleep(linger)
        except asyncio.CancelledError:
            raise
        except (redis.RedisError, OSError, DatabaseError) as exc:
            # Nothing is lost: unacknowledged entries stay pending and are reclaimed.
            logger.error("ledger drainer: %s; retrying in %.0f s", exc, _RETRY_SECONDS)
            await asyncio.sleep(_RETRY_SECONDS)
        except Exception:
            logger.exception("ledger drainer failed; retrying")
            await asyncio.sleep(_RETRY_SECONDS)


async def drain_all() -> int:
    """Write everything in the stream now, pending entries of any drainer included
    (management command and tests). Returns how many entries were settled."""
    total = 0
    client = get_async_redis()
    await _ensure_group(client)
    deadline = asyncio.get_running_loop().time() + 30
    while asyncio.get_running_loop().time() < deadline:
        moved = await drain_once(reclaim_idle_ms=0) + await drain_once()
        total += moved
        if not moved and not await client.xlen(STREAM):
            break
        if not moved:
            await asyncio.sleep(0.01)  # another drainer is writing them at this moment
    return total
