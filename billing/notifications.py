"""Emails about money: budget alerts, cost anomalies, weekly team reports. Sent with
Django's mail (the console backend in development, EMAIL_URL in production)."""

from __future__ import annotations

import logging
from decimal import Decimal

from django.conf import settings
from django.core.mail import send_mail

from accounts.models import ORG_ADMIN_ROLES, Membership, Team, TeamMembership
from billing.models import BudgetAlert, CostAnomaly

logger = logging.getLogger(__name__)


def _admins(organization_id: int) -> set[str]:
    return set(
        Membership.objects.filter(
            organization_id=organization_id, role__in=ORG_ADMIN_ROLES
        ).values_list("user__email", flat=True)
    )


def _team_people(team: Team) -> set[str]:
    members = TeamMembership.objects.filter(team=team).values_list("user__email", flat=True)
    return _admins(team.organization_id) | set(members)


def _send(subject: str, body: str, recipients: set[str]) -> int:
    if not recipients:
        return 0
    return send_mail(
        subject, body, settings.DEFAULT_FROM_EMAIL, sorted(recipients), fail_silently=False
    )


def budget_alert_email(alert: BudgetAlert) -> int:
    team = Team.objects.select_related("organization").get(pk=alert.team_id)
    what = (
        "reached its limit"
        if alert.threshold_percent >= 100
        else (f"passed {alert.threshold_percent}% of its budget")
    )
    body = (
        f"The team {team.name} ({team.organization.name}) {what} for {alert.month:%B %Y}:\n"
        f"${alert.spent_usd:.2f} spent of ${alert.limit_usd:.2f}.\n\n"
        f"Costs: {settings.BILLING_PUBLIC_URL}/teams/{team.pk}/\n"
    )
    return _send(f"Budget alert: {team.name} {what}", body, _team_people(team))


def anomaly_email(anomaly: CostAnomaly) -> int:
    team = Team.objects.select_related("organization").get(pk=anomaly.team_id)
    factor = anomaly.cost_usd / anomaly.trailing_average_usd if anomaly.trailing_average_usd else 0
    body = (
        f"The team {team.name} ({team.organization.name}) spent ${anomaly.cost_usd:.2f} on "
        f"{anomaly.day:%Y-%m-%d}, {factor:.1f}x its 7-day average of "
        f"${anomaly.trailing_average_usd:.2f}.\n\nCheck its API keys and recent usage: "
        f"{settings.BILLING_PUBLIC_URL}/teams/{team.pk}/\n"
    )
    return _send(f"Cost anomaly: {team.name}", body, _team_people(team))


def weekly_report_email(
    team: Team, *, week: str, cost: Decimal, requests: int, by_model: list[tuple[str, Decimal]],
    budget: Decimal | None, month_spent: Decimal,
) -> int:  # fmt: skip
    lines = [f"Week {week} for {team.name} ({team.organization.name}):", ""]
    lines.append(f"  ${cost:.2f} over {requests:,} requests")
    for model, model_cost in by_model[:5]:
        lines.append(f"    {model or '(none)'}: ${model_cost:.2f}")
    if budget:
        lines.append(f"  This month: ${month_spent:.2f} of a ${budget:.2f} budget")
    lines += ["", f"Details: {settings.BILLING_PUBLIC_URL}/teams/{team.pk}/"]
    return _send(f"Weekly cost report: {team.name}", "\n".join(lines), _team_people(team))
