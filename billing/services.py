"""Writes for billing: ledger rows and budget alerts. Called by the gateway (and later the
knowledge pipeline) through these functions only."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction

from billing.models import BudgetAlert, UsageRecord, UsageStatus
from billing.signals import budget_threshold_crossed
from core.audit import audit_record

HARD_LIMIT_PERCENT = 100


@dataclass(frozen=True, slots=True)
class UsageEntry:
    request_id: str
    organization_id: int
    team_id: int
    api_key_id: int | None
    user_id: int | None
    model_requested: str
    model_used: str
    provider: str
    pipeline: str
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal
    latency_ms: int
    ttft_ms: int | None
    status: UsageStatus
    cached: bool
    stream: bool
    fallbacks: int


def usage_record_create(entry: UsageEntry) -> bool:
    """Write the ledger row. Returns False if this request id was already recorded: a
    retried write can never count a request twice."""
    try:
        with transaction.atomic():
            UsageRecord.objects.create(**_fields(entry))
    except IntegrityError:
        return False
    return True


def _fields(entry: UsageEntry) -> dict[str, object]:
    return {name: getattr(entry, name) for name in UsageEntry.__dataclass_fields__}


def budget_alerts_for(
    *,
    team_id: int,
    organization_id: int,
    month: date,
    spent: Decimal,
    limit: Decimal,
    percents: list[int],
) -> list[BudgetAlert]:
    """Raise the given alerts (the soft threshold, and 100 for the hard limit), each once a
    month however many processes notice at the same moment."""
    raised = []
    for percent in sorted(set(percents)):
        try:
            with transaction.atomic():
                alert = BudgetAlert.objects.create(
                    team_id=team_id,
                    month=month,
                    threshold_percent=percent,
                    spent_usd=spent,
                    limit_usd=limit,
                )
        except IntegrityError:
            continue  # already raised this month
        audit_record(
            action="budget.alert",
            actor_label="system",
            organization_id=organization_id,
            target_type="team",
            target_id=team_id,
            metadata={
                "percent": percent,
                "spent_usd": str(spent),
                "limit_usd": str(limit),
                "month": str(month),
            },
        )
        transaction.on_commit(
            functools.partial(budget_threshold_crossed.send, sender=BudgetAlert, alert=alert)
        )
        raised.append(alert)
    return raised
