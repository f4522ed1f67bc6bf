from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billing import budgets
from billing.models import BudgetAlert, UsageRecord, UsageStatus
from billing.selectors import month_start
from billing.services import budget_alerts_for
from billing.signals import budget_threshold_crossed
from core.errors import PaymentRequired
from core.models import AuditEvent


def test_reservations_are_refused_past_the_limit_and_settlement_returns_the_rest(world):
    team = world.team_a.pk

    async def scenario():
        first = await budgets.budget_reserve(
            team_id=team, limit_usd=Decimal("1.00"), amount=Decimal("0.60")
        )
        with pytest.raises(PaymentRequired, match="budget"):
            await budgets.budget_reserve(
                team_id=team, limit_usd=Decimal("1.00"), amount=Decimal("0.60")
            )
        await budgets.budget_settle(first, actual=Decimal("0.25"))  # used less than reserved
        second = await budgets.budget_reserve(
            team_id=team, limit_usd=Decimal("1.00"), amount=Decimal("0.60")
        )
        return await budgets.month_spend_nano(team), second

    (spent, reserved), _ = asyncio.run(scenario())
    assert spent == 250_000_000
    assert reserved == 600_000_000


def test_a_free_request_reserves_and_settles_zero(world):
    """Free models reserve nothing; settling a zero reservation once failed inside the Lua
    script (Lua's -0 is not an integer to HINCRBY)."""
    team = world.team_a.pk

    async def scenario():
        reservation = await budgets.budget_reserve(
            team_id=team, limit_usd=Decimal("1.00"), amount=Decimal(0)
        )
        await budgets.budget_settle(reservation, actual=Decimal(0))
        return await budgets.month_spend_nano(team)

    assert asyncio.run(scenario()) == (0, 0)


@pytest.mark.django_db(transaction=True)  # the rebuild reads the ledger from another thread
def test_a_missing_counter_is_rebuilt_from_the_ledger(world):
    UsageRecord.objects.create(
        request_id="r1",
        created_at=datetime.now(UTC),
        organization=world.org_a,
        team=world.team_a,
        model_requested="m",
        cost_usd=Decimal("0.75"),
        status=UsageStatus.OK,
    )

    async def scenario():
        with pytest.raises(PaymentRequired):  # 0.75 already spent this month, per the ledger
            await budgets.budget_reserve(
                team_id=world.team_a.pk, limit_usd=Decimal("1.00"), amount=Decimal("0.30")
            )
        return await budgets.month_spend_nano(world.team_a.pk)

    assert asyncio.run(scenario()) == (750_000_000, 0)


def test_amounts_round_up_to_the_nanodollar():
    assert budgets.to_nano(Decimal("0.0000000001")) == 1
    assert budgets.to_nano(Decimal("1")) == 1_000_000_000


@pytest.mark.django_db(transaction=True)
def test_each_alert_is_raised_once_and_announced(world):
    announced = []

    def receiver(alert, **kwargs):
        announced.append(alert.threshold_percent)

    budget_threshold_crossed.connect(receiver)
    try:
        for _ in range(3):
            budget_alerts_for(
                team_id=world.team_a.pk,
                organization_id=world.org_a.pk,
                month=month_start(),
                spent=Decimal("0.85"),
                limit=Decimal("1"),
                percents=[80],
            )
    finally:
        budget_threshold_crossed.disconnect(receiver)
    assert BudgetAlert.objects.filter(team=world.team_a).count() == 1
    assert announced == [80]
    assert AuditEvent.objects.filter(action="budget.alert").count() == 1
