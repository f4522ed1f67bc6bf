"""Writes for billing: ledger rows, budget alerts, billing accounts and credit grants.
Called by the gateway (and the knowledge pipeline) through these functions only."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import Organization
from billing.credits import MICRO, account_for, credits_micro_for_cost, credits_refresh_on_commit
from billing.models import (
    BillingAccount,
    BudgetAlert,
    CreditGrant,
    GrantKind,
    Plan,
    TopUpPack,
    UsageRecord,
    UsageStatus,
)
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
            UsageRecord.objects.create(
                **_fields(entry), credits_micro=credits_micro_for_cost(entry.cost_usd)
            )
    except IntegrityError:
        return False
    return True


def usage_records_write(entries: Sequence[UsageEntry]) -> list[tuple[UsageEntry, str]]:
    """Write many ledger rows in one INSERT (the gateway's ledger stream drains through
    here). Rows whose request id is already recorded are skipped, so a redelivered batch
    never counts twice. Returns the rows that cannot be written, with the reason (a team
    or key deleted meanwhile), so the caller can set them aside instead of retrying."""

    def insert(batch: Sequence[UsageEntry]) -> None:
        with transaction.atomic():
            # Foreign keys are checked at COMMIT by default; check them per statement, so
            # a bad row fails here, in its own savepoint, also inside a wider transaction.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            UsageRecord.objects.bulk_create(
                [
                    UsageRecord(**_fields(e), credits_micro=credits_micro_for_cost(e.cost_usd))
                    for e in batch
                ],
                ignore_conflicts=True,
            )

    try:
        insert(entries)
        return []
    except IntegrityError:
        pass  # one bad row fails the statement: find it, write the others
    failed = []
    for entry in entries:
        try:
            insert([entry])
        except IntegrityError as exc:
            failed.append((entry, str(exc).splitlines()[0]))
    return failed


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


def billing_account_locked(*, organization_id: int) -> BillingAccount:
    """The organization's account, locked for this transaction (webhooks for one
    organization apply one at a time). Created on the free plan if it has none."""
    account = account_for(organization_id)
    if account is None:
        plan = free_plan()
        BillingAccount.objects.get_or_create(
            organization_id=organization_id, defaults={"plan": plan}
        )
    return (
        BillingAccount.objects.select_for_update()
        .select_related("plan")
        .get(organization_id=organization_id)
    )


def free_plan() -> Plan:
    """Where an organization lands without a subscription."""
    plan = Plan.objects.filter(slug=settings.BILLING_DEFAULT_PLAN).first()
    return plan or Plan.objects.filter(price_usd=0).order_by("position").first() or _missing()


def _missing() -> Plan:
    raise Plan.DoesNotExist("No free plan is configured.")


def credit_grant(
    *,
    organization_id: int,
    kind: GrantKind,
    credits: int,
    idempotency_key: str,
    period_start: datetime | None = None,
    plan: Plan | None = None,
    payment_intent: str = "",
    invoice_id: str = "",
    note: str = "",
    actor_label: str = "stripe",
) -> bool:
    """Add credits once per ``idempotency_key``. Returns False if it was already granted."""
    try:
        with transaction.atomic():
            grant = CreditGrant.objects.create(
                organization_id=organization_id,
                kind=kind,
                credits_micro=credits * MICRO,
                idempotency_key=idempotency_key,
                period_start=period_start,
                plan=plan,
                payment_intent=payment_intent,
                invoice_id=invoice_id,
                note=note,
            )
    except IntegrityError:
        return False
    audit_record(
        action="billing.credits_granted",
        actor_label=actor_label,
        organization_id=organization_id,
        target_type="credit_grant",
        target_id=grant.pk,
        metadata={"kind": kind, "credits": credits, "key": idempotency_key},
    )
    credits_refresh_on_commit(organization_id)
    return True


def credit_adjust(*, organization: Organization, credits: int, note: str, actor_label: str) -> bool:
    """A manual grant (or, negative, a correction) from the console."""
    return credit_grant(
        organization_id=organization.pk,
        kind=GrantKind.ADJUSTMENT,
        credits=credits,
        idempotency_key=f"adjust:{organization.pk}:{timezone.now().isoformat()}",
        note=note,
        actor_label=actor_label,
    )


@transaction.atomic
def auto_topup_configure(
    *, organization: Organization, enabled: bool, pack: TopUpPack | None, threshold_credits: int
) -> BillingAccount:
    account = billing_account_locked(organization_id=organization.pk)
    account.auto_topup_enabled = enabled and pack is not None
    account.auto_topup_pack = pack
    account.auto_topup_threshold_credits = threshold_credits
    account.save()
    credits_refresh_on_commit(organization.pk)
    return account
