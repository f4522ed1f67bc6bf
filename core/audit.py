"""The audit trail: append events to a hash chain, and verify the chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from core.models import AuditEvent
from core.requestid import get_request_id

GENESIS_HASH = "0" * 64
# Any constant works; it names the advisory lock that serialises appends to the chain.
_CHAIN_LOCK_KEY = 0x61756469  # "audi"


def _digest(event: AuditEvent) -> str:
    payload = {
        "created_at": event.created_at.isoformat(),
        "action": event.action,
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "organization_id": event.organization_id,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "target_label": event.target_label,
        "ip_address": event.ip_address,
        "request_id": event.request_id,
        "metadata": event.metadata,
        "prev_hash": event.prev_hash,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def audit_record(
    *,
    action: str,
    actor_id: int | None = None,
    actor_label: str = "",
    organization_id: int | None = None,
    target_type: str = "",
    target_id: object = "",
    target_label: str = "",
    ip_address: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event. Appends are serialised by a transaction-scoped advisory lock, so
    the chain order is the commit order and two writers never link to the same parent."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
        last_hash = (
            AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
            or GENESIS_HASH
        )
        event = AuditEvent(
            created_at=timezone.now(),
            action=action,
            actor_id=actor_id,
            actor_label=actor_label[:254],
            organization_id=organization_id,
            target_type=target_type,
            target_id=str(target_id),
            target_label=target_label[:254],
            ip_address=ip_address,
            request_id=get_request_id() if get_request_id() != "-" else "",
            metadata=metadata or {},
            prev_hash=last_hash,
        )
        # The JSON column round-trips through the database; hash what will be read back.
        event.metadata = json.loads(json.dumps(event.metadata, default=str))
        event.hash = _digest(event)
        event.save()
    return event


@dataclass(frozen=True)
class ChainBreak:
    event_id: int
    reason: str


def _events_in_order(batch_size: int = 2000) -> Iterator[AuditEvent]:
    return AuditEvent.objects.order_by("id").iterator(chunk_size=batch_size)


def audit_verify_chain() -> tuple[int, ChainBreak | None]:
    """Walk the chain from the start. Returns (rows checked, first break or None)."""
    expected_prev = GENESIS_HASH
    checked = 0
    for event in _events_in_order():
        checked += 1
        if event.prev_hash != expected_prev:
            return checked, ChainBreak(
                event.pk, "its prev_hash does not match the row before it (a row was removed)"
            )
        if _digest(event) != event.hash:
            return checked, ChainBreak(event.pk, "its content does not match its hash (edited)")
        expected_prev = event.hash
    return checked, None
