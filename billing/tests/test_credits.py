"""Credits are reserved and settled with the team budget, atomically, in one Lua script."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing import budgets
from billing.credits import MICRO, credit_key, credit_state, credits_micro_for_cost, credits_refresh
from billing.models import (
    AccountStatus,
    BillingAccount,
    CreditGrant,
    GrantKind,
    UsageRecord,
    UsageStatus,
)
from billing.services import credit_grant
from billing.tests.conftest import on_plan
from core.errors import PaymentRequired
from core.redis import get_redis

ONE_CREDIT_USD = Decimal("0.001")  # at a margin of 1 (below), for whole numbers


@pytest.fixture(autouse=True)
def _margin_one(settings):
    settings.BILLING_CREDIT_MARGIN = Decimal("1")


def _usage(org, team, *, credits: int, when: datetime | None = None, n: int = 0) -> None:
    cost = ONE_CREDIT_USD * credits
    UsageRecord.objects.create(
        request_id=f"u-{team.pk}-{n}-{credits}-{when}",
        created_at=when or datetime.now(UTC),
        organization=org,
        team=team,
        model_requested="m",
        cost_usd=cost,
        credits_micro=credits_micro_for_cost(cost),
        status=UsageStatus.OK,
    )


def test_one_credit_is_a_thousandth_of_a_dollar_times_the_margin(settings):
    settings.BILLING_CREDIT_MARGIN = Decimal("1.5")
    assert credits_micro_for_cost(Decimal("0.001")) == 1_500_000
    settings.BILLING_CREDIT_MARGIN = Decimal("1")
    assert credits_micro_for_cost(Decimal("0.001")) == MICRO


def test_free_org_has_500_credits_and_usage_draws_them_down(plans, world):
    on_plan(world.org_a)
    _usage(world.org_a, world.team_a, credits=120)
    state = credit_state(world.org_a.pk)
    assert round(state.available_micro / MICRO) == 380
    assert credit_state(world.org_b.pk).metered is False  # no account, default plan empty


def test_monthly_credits_expire_at_the_period_and_top_ups_do_not(plans, world):
    account = on_plan(world.org_a)
    last_month = datetime.now(UTC).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    ) - timedelta(days=20)
    CreditGrant.objects.filter(organization=world.org_a).update(period_start=last_month)
    BillingAccount.objects.filter(pk=account.pk).update(plan_changed_at=last_month)
    credit_grant(
        organization_id=world.org_a.pk, kind=GrantKind.TOPUP, credits=5000, idempotency_key="t1"
    )
    _usage(world.org_a, world.team_a, credits=700, when=last_month + timedelta(days=1))  # 200 over
    state = credit_state(world.org_a.pk)  # opens this month's Free period
    assert state.allowance_micro == 500 * MICRO  # fresh monthly credits
    assert round(state.topup_micro / MICRO) == 4800  # the 200 over came out of the top-up


def test_a_month_of_credits_renews_for_free_orgs(plans, world):
    on_plan(world.org_a)
    _usage(world.org_a, world.team_a, credits=500)
    assert round(credit_state(world.org_a.pk).available_micro / MICRO) == 0
    next_month = datetime.now(UTC).replace(day=28) + timedelta(days=5)
    assert credit_state(world.org_a.pk, now=next_month).available_micro == 500 * MICRO


def _warm(*teams) -> None:
    """The team -> organization mapping, known before the reservations: in a test
    transaction another thread could not read the team row."""
    for team in teams:
        budgets._team_organization[team.pk] = team.organization_id


def _reserve_all(team_id: int, amount: Decimal, count: int, limit: Decimal | None = None):
    async def one():
        try:
            return await budgets.budget_reserve(team_id=team_id, limit_usd=limit, amount=amount)
        except PaymentRequired as refused:
            return refused

    async def many():
        return await asyncio.gather(*(one() for _ in range(count)))

    return asyncio.run(many())


@pytest.mark.django_db(transaction=True)
def test_100_parallel_reservations_against_credits_for_20_admit_20(plans, world):
    on_plan(world.org_a)
    on_plan(world.org_b)
    per_request = ONE_CREDIT_USD * 25  # 500 credits fit 20 of these
    asyncio.run(budgets.organization_of(world.team_a.pk))  # warm the team -> org mapping
    results: list = []

    def worker():  # four OS threads, each its own loop and Redis connections
        results.extend(_reserve_all(world.team_a.pk, per_request, 25))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    admitted = [r for r in results if isinstance(r, budgets.Reservation)]
    refused = [r for r in results if isinstance(r, PaymentRequired)]
    assert len(admitted) == 20
    assert len(refused) == 80
    assert refused[0].code == "insufficient_credits"
    assert "/billing/" in refused[0].message
    assert "top-up" in refused[0].message
    # The outsider's organization is untouched and still has all of its credits.
    outsider = _reserve_all(world.team_b.pk, per_request, 20)
    assert all(isinstance(r, budgets.Reservation) for r in outsider)

    async def settle_all():
        for r in admitted:
            await budgets.budget_settle(r, actual=ONE_CREDIT_USD * 10)

    asyncio.run(settle_all())
    used, reserved = map(int, get_redis().hmget(credit_key(world.org_a.pk), ["used", "reserved"]))  # type: ignore[arg-type]
    assert int(used) >= 200 * MICRO
    assert int(reserved) == 0


def test_both_the_team_budget_and_the_credits_must_hold(plans, world):
    on_plan(world.org_a)
    _warm(world.team_a)
    per_request = ONE_CREDIT_USD * 25
    results = _reserve_all(world.team_a.pk, per_request, 30, limit=per_request * 5)
    codes = [r.code for r in results if isinstance(r, PaymentRequired)]
    assert len(codes) == 25
    assert set(codes) == {"budget_exceeded"}
    # A larger budget: now the credits bind (5 x 25 of the 500 are still reserved).
    results = _reserve_all(world.team_a.pk, per_request, 30, limit=per_request * 100)
    codes = [r.code for r in results if isinstance(r, PaymentRequired)]
    assert len(codes) == 15
    assert set(codes) == {"insufficient_credits"}


def test_a_past_due_org_gets_402_with_what_to_do(plans, world):
    account = on_plan(world.org_a)
    _warm(world.team_a)
    BillingAccount.objects.filter(pk=account.pk).update(status=AccountStatus.PAST_DUE)
    credits_refresh(world.org_a.pk)
    [refused] = _reserve_all(world.team_a.pk, ONE_CREDIT_USD, 1)
    assert isinstance(refused, PaymentRequired)
    assert refused.code == "payment_failed"
    assert "/billing/" in refused.message


def test_an_org_without_an_account_starts_on_the_default_plan(plans, world, settings):
    settings.BILLING_DEFAULT_PLAN = "free"
    state = credit_state(world.org_b.pk)
    assert state.metered
    assert state.available_micro == 500 * MICRO
    assert BillingAccount.objects.get(organization=world.org_b).plan.slug == "free"


def test_the_plan_sets_each_teams_default_rate_limit(plans, world, settings):
    from billing.selectors import team_plan_rpm

    on_plan(world.org_a, "pro")
    assert team_plan_rpm() == {world.team_a.pk: 100}  # org_b: no account, not metered
    settings.BILLING_DEFAULT_PLAN = "free"
    assert team_plan_rpm() == {world.team_a.pk: 100, world.team_b.pk: 10}
