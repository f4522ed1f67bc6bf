"""Reads for billing: cost reports from the ledger. Callers pass a team they have already
fetched through the tenancy access helpers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate

from accounts.models import Team
from billing.models import TeamBudget, UsageRecord
from core.errors import ValidationFailed

ZERO = Decimal(0)


@dataclass(frozen=True)
class CostReport:
    team_id: int
    team_name: str
    month: date
    budget_usd: Decimal | None
    spent_usd: Decimal
    requests: int
    input_tokens: int
    output_tokens: int
    by_model: list[dict[str, Any]]
    by_day: list[dict[str, Any]]

    @property
    def remaining_usd(self) -> Decimal | None:
        return None if self.budget_usd is None else max(self.budget_usd - self.spent_usd, ZERO)

    @property
    def utilization(self) -> float | None:
        if not self.budget_usd:
            return None
        return float(self.spent_usd / self.budget_usd)

    def as_dict(self) -> dict[str, Any]:
        return {
            "team": {"id": self.team_id, "name": self.team_name},
            "period": {"start": self.month.isoformat(), "end": _next_month(self.month).isoformat()},
            "budget_usd": _money(self.budget_usd),
            "spent_usd": _money(self.spent_usd),
            "remaining_usd": _money(self.remaining_usd),
            "utilization": None if self.utilization is None else round(self.utilization, 6),
            "requests": self.requests,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "by_model": self.by_model,
            "by_day": self.by_day,
        }


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.6f}"


def _next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def month_rows(*, team_id: int, month: date) -> QuerySet[UsageRecord]:
    start = datetime.combine(month, datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(_next_month(month), datetime.min.time(), tzinfo=UTC)
    return UsageRecord.objects.filter(team_id=team_id, created_at__gte=start, created_at__lt=end)


_TOTALS = {
    "requests": Count("id"),
    "input_tokens": Coalesce(Sum("input_tokens"), 0),
    "output_tokens": Coalesce(Sum("output_tokens"), 0),
    "cost": Coalesce(Sum("cost_usd"), ZERO),
}


def _group(rows: QuerySet[UsageRecord], key: str, label: str) -> list[dict[str, Any]]:
    grouped = rows.values(key).annotate(**_TOTALS).order_by(key)
    return [
        {
            label: row[key].isoformat() if isinstance(row[key], date) else (row[key] or "(none)"),
            "requests": row["requests"],
            "input_tokens": row["input_tokens"],
            "output_tokens": row["output_tokens"],
            "cost_usd": _money(row["cost"]),
        }
        for row in grouped
    ]


def team_cost_report(*, team: Team, month: date) -> CostReport:
    rows = month_rows(team_id=team.pk, month=month)
    totals = rows.aggregate(**_TOTALS)
    budget = (
        TeamBudget.objects.filter(team=team).values_list("monthly_limit_usd", flat=True).first()
    )
    return CostReport(
        team_id=team.pk,
        team_name=team.name,
        month=month,
        budget_usd=budget,
        spent_usd=totals["cost"],
        requests=totals["requests"],
        input_tokens=totals["input_tokens"],
        output_tokens=totals["output_tokens"],
        by_model=_group(rows, "model_used", "model"),
        by_day=_group(rows.annotate(day=TruncDate("created_at", tzinfo=UTC)), "day", "date"),
    )


def month_start(moment: date | None = None) -> date:
    """The first day of the (UTC) month of ``moment``, by default now."""
    moment = moment or datetime.now(UTC).date()
    return date(moment.year, moment.month, 1)


def parse_month(value: str | None, *, today: date | None = None) -> date:
    """'2026-11' -> date(2026, 11, 1); empty -> the current month (UTC)."""
    if not value:
        return month_start(today)
    parsed = datetime.strptime(value, "%Y-%m")
    return date(parsed.year, parsed.month, 1)


def month_param(value: str | None) -> date:
    """parse_month for request parameters: a bad value is the client's 400."""
    try:
        return parse_month(value)
    except ValueError as exc:
        raise ValidationFailed("month must look like 2026-11.", param="month") from exc
