"""Reads for billing: cost reports from the ledger, billing overviews, rollups. Callers pass
a team or organization they have already fetched through the tenancy access helpers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate

from accounts.models import Organization, Team
from billing.models import (
    BillingAccount,
    CreditGrant,
    DailyCostRollup,
    Plan,
    TeamBudget,
    TopUpPack,
    UsageRecord,
)
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


def next_month_start(moment: datetime) -> datetime:
    """Midnight UTC of the first day of the month after ``moment``."""
    nxt = _next_month(moment.astimezone(UTC).date().replace(day=1))
    return datetime.combine(nxt, datetime.min.time(), tzinfo=UTC)


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


@dataclass(frozen=True)
class BillingOverview:
    organization_id: int
    account: Any  # BillingAccount | None (None: not metered)
    credits: Any  # billing.credits.CreditState
    recent_grants: list[Any]
    can_manage: bool


def billing_overview(*, organization: Organization, can_manage: bool) -> BillingOverview:
    """What the billing page shows for one organization (the caller checked membership)."""
    from billing.credits import account_for, credit_state

    account = account_for(organization.pk)
    grants = list(
        CreditGrant.objects.filter(organization=organization).order_by("-created_at")[:10]
    )
    return BillingOverview(
        organization_id=organization.pk,
        account=account,
        credits=credit_state(organization.pk),
        recent_grants=grants,
        can_manage=can_manage,
    )


def plans_on_sale() -> list[Plan]:
    return list(Plan.objects.filter(is_active=True))


def packs_on_sale() -> list[TopUpPack]:
    return list(TopUpPack.objects.filter(is_active=True))


def daily_rollups(*, organization: Organization, start: date, end: date) -> QuerySet[Any]:
    """Per-day totals of an organization's rollups, [start, end)."""
    return (
        DailyCostRollup.objects.filter(organization=organization, day__gte=start, day__lt=end)
        .values("day")
        .annotate(cost=Sum("cost_usd"), requests=Sum("requests"))
        .order_by("day")
    )


@dataclass(frozen=True)
class TeamSpend:
    team_id: int
    team: str
    organization: str
    spent_usd: Decimal
    budget_usd: Decimal | None


def team_spend_vs_budget(
    *, month: date, organization: Organization | None = None
) -> list[TeamSpend]:
    """Spend this month per team with its budget, for the console (platform staff pass no
    organization; everything else passes the tenant)."""
    start = datetime.combine(month, datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(_next_month(month), datetime.min.time(), tzinfo=UTC)
    rows = UsageRecord.objects.filter(created_at__gte=start, created_at__lt=end)
    teams = Team.objects.select_related("organization").order_by("organization__name", "name")
    if organization is not None:
        rows, teams = (
            rows.filter(organization=organization),
            teams.filter(organization=organization),
        )
    spent = dict(
        rows.values("team_id").annotate(total=Sum("cost_usd")).values_list("team_id", "total")
    )
    budgets = dict(TeamBudget.objects.values_list("team_id", "monthly_limit_usd"))
    return [
        TeamSpend(t.pk, t.name, t.organization.name, spent.get(t.pk) or ZERO, budgets.get(t.pk))
        for t in teams
        if t.pk in spent or budgets.get(t.pk) is not None
    ]


def team_plan_rpm() -> dict[int, int]:
    """Each team's default requests per minute from its organization's plan (teams of
    organizations without an account get BILLING_DEFAULT_PLAN's; none if that is empty)."""
    from django.conf import settings

    by_org = dict(BillingAccount.objects.values_list("organization_id", "plan__rpm_limit"))
    default = (
        Plan.objects.filter(slug=settings.BILLING_DEFAULT_PLAN)
        .values_list("rpm_limit", flat=True)
        .first()
        if settings.BILLING_DEFAULT_PLAN
        else None
    )
    teams = Team.objects.values_list("pk", "organization_id")
    if default is None:
        teams = teams.filter(organization_id__in=list(by_org))
    return {
        team_id: rpm
        for team_id, org_id in teams
        if (rpm := by_org.get(org_id, default)) is not None
    }
