"""Daily rollups of the ledger, cost anomalies, budget checks and weekly reports: the work
behind the Celery beat tasks, as plain functions (tests call them directly)."""

from __future__ import annotations

import zlib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Sum
from django.db.models.functions import Coalesce

from accounts.models import Team
from billing.models import CostAnomaly, DailyCostRollup, TeamBudget, UsageRecord
from billing.notifications import anomaly_email, weekly_report_email
from billing.selectors import month_rows, month_start
from billing.services import HARD_LIMIT_PERCENT, budget_alerts_for
from core.audit import audit_record
from core.redis import get_redis

ZERO = Decimal(0)


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    return start, start + timedelta(days=1)


def rollup_day(day: date) -> int:
    """Replace the day's rollups with fresh sums of its ledger rows (UTC day). Idempotent:
    running it again, or concurrently, gives the same rows."""
    start, end = _day_bounds(day)
    groups = (
        UsageRecord.objects.filter(created_at__gte=start, created_at__lt=end)
        .values("organization_id", "team_id", "user_id", "model_used")
        .annotate(
            n=Count("id"),
            tokens_in=Coalesce(Sum("input_tokens"), 0),
            tokens_out=Coalesce(Sum("output_tokens"), 0),
            cost=Coalesce(Sum("cost_usd"), ZERO),
            credits=Coalesce(Sum("credits_micro"), 0),
        )
    )
    with transaction.atomic():
        with connection.cursor() as cursor:  # one rollup of a given day at a time
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(f"rollup{day}".encode())]
            )
        DailyCostRollup.objects.filter(day=day).delete()
        rows = DailyCostRollup.objects.bulk_create(
            DailyCostRollup(
                day=day,
                organization_id=g["organization_id"],
                team_id=g["team_id"],
                user_id=g["user_id"],
                model=g["model_used"],
                requests=g["n"],
                input_tokens=g["tokens_in"],
                output_tokens=g["tokens_out"],
                cost_usd=g["cost"],
                credits_micro=g["credits"],
            )
            for g in groups
        )
    return len(rows)


def _team_day_costs(start: date, end: date) -> dict[tuple[int, date], Decimal]:
    totals = (
        DailyCostRollup.objects.filter(day__gte=start, day__lt=end)
        .values("team_id", "day")
        .annotate(cost=Sum("cost_usd"))
    )
    return {(t["team_id"], t["day"]): t["cost"] for t in totals}


def detect_anomalies(day: date) -> list[CostAnomaly]:
    """Teams whose cost on ``day`` exceeds BILLING_ANOMALY_FACTOR x their average over the
    7 days before (missing days count as $0; a team with no history is not flagged)."""
    costs = _team_day_costs(day - timedelta(days=7), day + timedelta(days=1))
    raised = []
    for (team_id, when), cost in costs.items():
        if when != day or cost < settings.BILLING_ANOMALY_MIN_USD:
            continue
        trailing = sum(
            (costs.get((team_id, day - timedelta(days=n)), ZERO) for n in range(1, 8)), ZERO
        )
        average = trailing / 7
        if average <= 0 or cost <= average * settings.BILLING_ANOMALY_FACTOR:
            continue
        team = Team.objects.get(pk=team_id)
        try:
            with transaction.atomic():
                anomaly = CostAnomaly.objects.create(
                    team=team,
                    organization_id=team.organization_id,
                    day=day,
                    cost_usd=cost,
                    trailing_average_usd=average,
                )
        except IntegrityError:
            continue  # already raised for this day
        audit_record(
            action="billing.cost_anomaly",
            actor_label="system",
            organization_id=team.organization_id,
            target_type="team",
            target_id=team.pk,
            metadata={"day": str(day), "cost_usd": str(cost), "average_usd": str(average)},
        )
        anomaly_email(anomaly)
        raised.append(anomaly)
    return raised


def check_budgets(*, month: date | None = None) -> int:
    """Raise the budget alerts the ledger says are due (the gateway raises them as spend
    crosses; this catches any it could not, e.g. while Redis was down)."""
    month = month or month_start()
    raised = 0
    for budget in TeamBudget.objects.filter(monthly_limit_usd__gt=0).select_related("team"):
        limit = budget.monthly_limit_usd
        assert limit is not None
        spent = month_rows(team_id=budget.team_id, month=month).aggregate(
            total=Coalesce(Sum("cost_usd"), ZERO)
        )["total"]
        due = [
            p
            for p in (budget.alert_threshold_percent, HARD_LIMIT_PERCENT)
            if spent * 100 >= limit * p
        ]
        if due:
            raised += len(
                budget_alerts_for(
                    team_id=budget.team_id,
                    organization_id=budget.team.organization_id,
                    month=month,
                    spent=spent,
                    limit=limit,
                    percents=due,
                )
            )
    return raised


def weekly_reports(*, week_end: date) -> int:
    """Mail each team with spend in the 7 days before ``week_end`` its report, once."""
    start = week_end - timedelta(days=7)
    week = f"{start:%Y-%m-%d} to {week_end - timedelta(days=1):%Y-%m-%d}"
    rows = DailyCostRollup.objects.filter(day__gte=start, day__lt=week_end)
    sent = 0
    for team in Team.objects.filter(pk__in=rows.values("team_id")).select_related("organization"):
        if not get_redis().set(f"billing:weekly:{team.pk}:{week_end}", 1, nx=True, ex=8 * 86400):
            continue  # already sent (a retried task)
        team_rows = rows.filter(team=team)
        totals = team_rows.aggregate(cost=Sum("cost_usd"), n=Sum("requests"))
        by_model = list(
            team_rows.values("model").annotate(cost=Sum("cost_usd")).order_by("-cost")
            .values_list("model", "cost")
        )  # fmt: skip
        budget = TeamBudget.objects.filter(team=team).values_list("monthly_limit_usd", flat=True)
        month_spent = month_rows(team_id=team.pk, month=month_start(week_end)).aggregate(
            total=Coalesce(Sum("cost_usd"), ZERO)
        )["total"]
        sent += weekly_report_email(
            team,
            week=week,
            cost=totals["cost"] or ZERO,
            requests=totals["n"] or 0,
            by_model=by_model,
            budget=budget.first(),
            month_spent=month_spent,
        )
    return sent
