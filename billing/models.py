"""Money: plans and credits, team budgets, the usage ledger and what is derived from it.

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
    # What this request cost the organization in credits (millionths of a credit), at the
    # margin of the moment: a later margin change does not rewrite past balances.
    credits_micro = models.BigIntegerField(default=0)

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


class Plan(models.Model):
    """A subscription plan. Data, not code: the console edits prices, credits and limits."""

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=60)
    price_usd = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal(0))
    monthly_credits = models.PositiveIntegerField(help_text="Credits granted each period.")
    rpm_limit = models.PositiveIntegerField(
        help_text="Default requests per minute of each team (a team or key setting overrides)."
    )
    includes_chat = models.BooleanField(
        default=True, help_text="The browser chat page (the API is open on every plan)."
    )
    stripe_price_id = models.CharField(
        max_length=100, blank=True, help_text="The recurring Stripe price (empty for free plans)."
    )
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True, help_text="Offered on the pricing page.")

    class Meta:
        ordering = ["position", "price_usd"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_free(self) -> bool:
        return self.price_usd == 0


class TopUpPack(models.Model):
    """Credits bought once; they never expire."""

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=60)
    price_usd = models.DecimalField(max_digits=10, decimal_places=2)
    credits = models.PositiveIntegerField()
    stripe_price_id = models.CharField(max_length=100, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "price_usd"]
        verbose_name = "top-up pack"

    def __str__(self) -> str:
        return f"{self.name}: {self.credits:,} credits for ${self.price_usd}"


class AccountStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    TRIALING = "trialing", "Trialing"
    PAST_DUE = "past_due", "Past due (payment failed)"
    UNPAID = "unpaid", "Unpaid"
    INCOMPLETE = "incomplete", "Incomplete"
    CANCELED = "canceled", "Canceled"


# Statuses in which the paywall engages.
UNPAID_STATUSES = frozenset({AccountStatus.PAST_DUE, AccountStatus.UNPAID})


class BillingAccount(TimeStampedModel):
    """An organization as a paying customer. The Stripe customer belongs to the
    organization, never to an email typed into a form."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="billing_account"
    )
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="accounts")
    status = models.CharField(
        max_length=20, choices=AccountStatus.choices, default=AccountStatus.ACTIVE
    )
    stripe_customer_id = models.CharField(max_length=100, unique=True, null=True, blank=True)
    stripe_subscription_id = models.CharField(max_length=100, blank=True)
    stripe_payment_method_id = models.CharField(
        max_length=100, blank=True, help_text="Saved card for auto top-up (off-session)."
    )
    # Webhooks may arrive in any order: each kind of state remembers the time of the event
    # that set it, and an older event never overwrites a newer one.
    plan_event_at = models.DateTimeField(null=True, blank=True)
    payment_event_at = models.DateTimeField(null=True, blank=True)
    plan_changed_at = models.DateTimeField(default=timezone.now)
    current_period_end = models.DateTimeField(null=True, blank=True)
    auto_topup_enabled = models.BooleanField(default=False)
    auto_topup_pack = models.ForeignKey(
        TopUpPack, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    auto_topup_threshold_credits = models.PositiveIntegerField(
        default=1000, help_text="Buy the pack when the balance falls below this."
    )

    def __str__(self) -> str:
        return f"{self.organization}: {self.plan} ({self.status})"


class GrantKind(models.TextChoices):
    PLAN = "plan", "Plan credits for a period"
    TOPUP = "topup", "Top-up"
    ADJUSTMENT = "adjustment", "Adjustment"


class CreditGrant(models.Model):
    """The credit ledger: credits added to an organization. Usage is the other side
    (UsageRecord.credits_micro). ``idempotency_key`` makes every Stripe object grant once,
    whichever of its events arrives first or how often it is replayed.

    A plan grant opens a period: its credits are usable from ``period_start`` until the
    next plan grant of the organization, and what is left then expires. Top-ups and
    adjustments never expire."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=12, choices=GrantKind.choices)
    credits_micro = models.BigIntegerField()
    idempotency_key = models.CharField(max_length=200, unique=True)
    period_start = models.DateTimeField(null=True, blank=True)
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, null=True, blank=True)
    payment_intent = models.CharField(max_length=100, blank=True, db_index=True)
    invoice_id = models.CharField(max_length=100, blank=True, db_index=True)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "kind", "period_start"])]

    def __str__(self) -> str:
        return f"{self.organization} +{self.credits_micro / 1_000_000:,.0f} ({self.kind})"


class StripeRefund(models.Model):
    """The refunded share of a charge, from charge.refunded. Joined to grants through the
    payment intent or invoice, so it applies whether it arrives before or after them."""

    charge_id = models.CharField(max_length=100, unique=True)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    payment_intent = models.CharField(max_length=100, blank=True, db_index=True)
    invoice_id = models.CharField(max_length=100, blank=True, db_index=True)
    amount = models.PositiveBigIntegerField()
    amount_refunded = models.PositiveBigIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.charge_id}: {self.amount_refunded}/{self.amount}"


class AutoTopUpAttempt(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    pack = models.ForeignKey(TopUpPack, on_delete=models.PROTECT)
    succeeded = models.BooleanField()
    payment_intent = models.CharField(max_length=100, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.organization} {self.pack} {'ok' if self.succeeded else 'failed'}"


class DailyCostRollup(models.Model):
    """One day of the ledger per team, user and model (org totals are sums of these).
    Rebuilt whole for a day, so running it again gives the same rows."""

    day = models.DateField(db_index=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    model = models.CharField(max_length=100, blank=True)
    requests = models.PositiveIntegerField()
    input_tokens = models.PositiveBigIntegerField()
    output_tokens = models.PositiveBigIntegerField()
    cost_usd = models.DecimalField(max_digits=18, decimal_places=10)
    credits_micro = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "team", "user", "model"],
                name="rollup_unique",
                nulls_distinct=False,
            )
        ]
        indexes = [models.Index(fields=["organization", "day"], name="rollup_org_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.team_id} {self.model} ${self.cost_usd}"


class CostAnomaly(models.Model):
    """A team's day over BILLING_ANOMALY_FACTOR x its trailing 7-day average."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    cost_usd = models.DecimalField(max_digits=18, decimal_places=10)
    trailing_average_usd = models.DecimalField(max_digits=18, decimal_places=10)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "cost anomalies"
        constraints = [models.UniqueConstraint(fields=["team", "day"], name="anomaly_once")]

    def __str__(self) -> str:
        return f"{self.team} {self.day}: ${self.cost_usd:.2f} vs ${self.trailing_average_usd:.2f}"
