"""Daily rollups equal the ledger; anomalies; budget alert and weekly report emails."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.core import mail
from django.db.models import Count, Sum

from billing import rollups
from billing.models import (
    BudgetAlert,
    CostAnomaly,
    DailyCostRollup,
    TeamBudget,
    UsageRecord,
    UsageStatus,
)
from billing.selectors import month_start

DAY = date(2026, 11, 10)


def _row(
    team, n: int, *, cost: str, day: date = DAY, model: str = "gpt", user=None, hour: int = 12
):
    return UsageRecord.objects.create(
        request_id=f"r-{team.pk}-{n}-{day}-{model}",
        created_at=datetime(day.year, day.month, day.day, hour, tzinfo=UTC),
        organization=team.organization,
        team=team,
        user=user,
        model_requested=model,
        model_used=model,
        input_tokens=100 + n,
        output_tokens=10 + n,
        cost_usd=Decimal(cost),
        credits_micro=int(Decimal(cost) * 1_500_000_000),
        status=UsageStatus.OK,
    )


def test_the_rollup_of_a_day_equals_its_ledger_rows_per_team(world):
    for n in range(5):
        _row(world.team_a, n, cost="0.0123", user=world.owner_a if n % 2 else world.member_a)
    _row(world.team_a, 9, cost="0.5", model="claude")
    _row(world.team_b, 1, cost="1.25")
    _row(world.team_a, 7, cost="9", day=DAY + timedelta(days=1), hour=0)  # the next day
    _row(world.team_a, 8, cost="9", day=DAY - timedelta(days=1), hour=23)  # the day before

    rollups.rollup_day(DAY)
    first = list(DailyCostRollup.objects.order_by("pk").values())
    rollups.rollup_day(DAY)  # again: the same numbers
    again = list(DailyCostRollup.objects.order_by("pk").values())
    assert [{k: v for k, v in r.items() if k != "id"} for r in first] == [
        {k: v for k, v in r.items() if k != "id"} for r in again
    ]

    start = datetime(2026, 11, 10, tzinfo=UTC)
    ledger = (
        UsageRecord.objects.filter(created_at__gte=start, created_at__lt=start + timedelta(days=1))
        .values("team_id")
        .annotate(cost=Sum("cost_usd"), n=Count("id"), tokens=Sum("input_tokens"))
    )
    rolled = (
        DailyCostRollup.objects.filter(day=DAY)
        .values("team_id")
        .annotate(cost=Sum("cost_usd"), n=Sum("requests"), tokens=Sum("input_tokens"))
    )
    assert sorted(map(tuple, (r.values() for r in ledger))) == sorted(
        map(tuple, (r.values() for r in rolled))
    )
    # Per team, user and model rows: team_a has 2 users x gpt + claude (no user).
    assert DailyCostRollup.objects.filter(day=DAY, team=world.team_a).count() == 3


def test_a_day_over_three_times_the_trailing_week_is_an_anomaly(world, settings):
    settings.BILLING_ANOMALY_MIN_USD = Decimal("1")
    for back in range(1, 8):
        _row(world.team_a, back, cost="1.00", day=DAY - timedelta(days=back))
        _row(world.team_b, back, cost="1.00", day=DAY - timedelta(days=back))
    _row(world.team_a, 0, cost="3.50", day=DAY)  # 3.5x: anomaly
    _row(world.team_b, 0, cost="2.90", day=DAY)  # 2.9x: normal
    for back in range(0, 8):
        rollups.rollup_day(DAY - timedelta(days=back))
    raised = rollups.detect_anomalies(DAY)
    assert [a.team_id for a in raised] == [world.team_a.pk]
    assert rollups.detect_anomalies(DAY) == []  # once
    assert CostAnomaly.objects.get().trailing_average_usd == Decimal(1)
    assert len(mail.outbox) == 1
    assert "Cost anomaly" in mail.outbox[0].subject
    assert "owner@acme.test" in mail.outbox[0].to
    assert "outsider@globex.test" not in mail.outbox[0].to


def test_budget_alerts_are_raised_from_the_ledger_and_mailed(
    world, django_capture_on_commit_callbacks
):
    TeamBudget.objects.create(team=world.team_a, monthly_limit_usd=Decimal("10"))
    today = datetime.now(UTC).date()
    _row(world.team_a, 1, cost="8.5", day=today, hour=0)
    with django_capture_on_commit_callbacks(execute=True):
        assert rollups.check_budgets() == 1
        assert rollups.check_budgets() == 0  # once a month
    assert BudgetAlert.objects.get().threshold_percent == 80
    assert BudgetAlert.objects.get().month == month_start()
    assert len(mail.outbox) == 1
    assert "80%" in mail.outbox[0].subject


def test_weekly_reports_go_to_each_team_once(world):
    week_end = DAY
    _row(world.team_a, 1, cost="2.00", day=DAY - timedelta(days=2))
    _row(world.team_b, 1, cost="3.00", day=DAY - timedelta(days=3))
    for back in range(1, 8):
        rollups.rollup_day(DAY - timedelta(days=back))
    assert rollups.weekly_reports(week_end=week_end) == 2
    assert rollups.weekly_reports(week_end=week_end) == 0
    by_team = {m.subject: m for m in mail.outbox}
    report = by_team["Weekly cost report: Acme Research"]
    assert "$2.00" in report.body
    assert "outsider@globex.test" not in report.to
