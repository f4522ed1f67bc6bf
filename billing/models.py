"""Money: team budgets and the usage ledger.

The ledger (UsageRecord) is the source of truth for spend: one row per request that
reached a provider (or was answered from the cache), written even when the client went
away or the provider failed, never twice (request_id is unique). Redis holds fast
counters that mirror it for admission decisions and are rebuilt from it when missing.
Ledger rows point at their tenant with PROTECT: money records outlive nothing by accident.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from accounts.models import APIKey, Organization, Team
from core.models import TimeStampedModel


class TeamBudget(TimeStampedModel):
    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="budget")
    monthly_limit_usd = models.DecimalField(
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="Hard limit per calendar month (UTC). Empty: no limit.",
    )
    alert_threshold_percent = models.PositiveSmallIntegerField(
        default=80,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
        help_text="A soft alert is raised once a month when spend crosses this share.",
    )

    def __str__(self) -> str:
        limit = f"${self.monthly_limit_usd}" if self.monthly_limit_usd is not None else "no limit"
        return f"{self.team}: {limit} a month"


class UsageStatus(models.TextChoices):
    OK = "ok", "Answered"
    CACHED = "cached", "Answered from the cache"
    CLIENT_CANCELLED = "client_cancelled", "Client went away"
    PROVIDER_ERROR = "provider_error", "Provider failed"


class UsageRecord(models.Model):
    request_id = models.CharField(max_length=128, unique=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="usage_records")
    api_key = models.ForeignKey(
        APIKey, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # SET_NULL: erasing a person keeps the money trail, without them.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    model_requested = models.CharField(max_length=100)
    model_used = models.CharField(max_length=100, blank=True)
    provider = models.CharField(max_length=60, blank=True)
    pipeline = models.CharField(max_length=8, blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=18, decimal_places=10, default=Decimal(0))
    latency_ms = models.PositiveIntegerField(default=0)
    ttft_ms = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=UsageStatus.choices)
    cached = models.BooleanField(default=False)
    stream = models.BooleanField(default=False)
    fallbacks = models.PositiveSmallIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["team", "created_at"], name="usage_team_time"),
            models.Index(fields=["organization", "created_at"], name="usage_org_time"),
        ]

    def __str__(self) -> str:
        return f"{self.request_id} {self.model_used or self.model_requested} ${self.cost_usd}"


class BudgetAlert(models.Model):
    """A threshold crossed in a month. The unique constraint makes each alert fire once,
    however many processes see the crossing at the same moment."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="budget_alerts")
    month = models.DateField(help_text="First day of the month.")
    threshold_percent = models.PositiveSmallIntegerField()
    spent_usd = models.DecimalField(max_digits=18, decimal_places=10)
    limit_usd = models.DecimalField(max_digits=14, decimal_places=4)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["team", "month", "threshold_percent"], name="budget_alert_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.team} crossed {self.threshold_percent}% in {self.month:%Y-%m}"
