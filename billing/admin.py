"""Console pages: plans and packs (editable), billing accounts, budgets with a spend vs
budget chart, and the money records (read-only): ledger, credit grants, refunds, rollups,
budget alerts and cost anomalies."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.safestring import mark_safe

from billing.charts import spend_chart_svg
from billing.models import (
    AutoTopUpAttempt,
    BillingAccount,
    BudgetAlert,
    CostAnomaly,
    CreditGrant,
    DailyCostRollup,
    Plan,
    StripeRefund,
    TeamBudget,
    TopUpPack,
    UsageRecord,
)
from billing.selectors import month_start, team_spend_vs_budget
from billing.services import credit_adjust


@admin.register(TeamBudget)
class TeamBudgetAdmin(admin.ModelAdmin[TeamBudget]):
    list_display = ("team", "monthly_limit_usd", "alert_threshold_percent", "updated_at")
    list_filter = ("team__organization",)
    search_fields = ("team__name", "team__organization__name")
    autocomplete_fields = ("team",)
    list_select_related = ("team__organization",)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        # Platform staff see every tenant here: the console's own permissions decided that.
        rows = team_spend_vs_budget(month=month_start())
        context = {**(extra_context or {}), "spend_chart": mark_safe(spend_chart_svg(rows))}  # noqa: S308 - built from escaped parts
        return super().changelist_view(request, extra_context=context)  # type: ignore[return-value]


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    """Money records are evidence: viewable, never edited or deleted from the console."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at", "request_id", "organization", "team", "model_requested", "model_used",
        "input_tokens", "output_tokens", "cost_usd", "credits_micro", "latency_ms", "status",
        "cached", "fallbacks",
    )  # fmt: skip
    list_filter = ("organization", "team", "status", "cached", "stream", "model_used", "created_at")
    search_fields = ("request_id", "model_used", "model_requested")
    date_hierarchy = "created_at"
    list_select_related = ("organization", "team")


@admin.register(BudgetAlert)
class BudgetAlertAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "team", "month", "threshold_percent", "spent_usd", "limit_usd")
    list_filter = ("team__organization", "threshold_percent")
    list_select_related = ("team__organization",)


@admin.register(CostAnomaly)
class CostAnomalyAdmin(ReadOnlyAdmin):
    list_display = ("day", "team", "cost_usd", "trailing_average_usd", "created_at")
    list_filter = ("organization",)
    list_select_related = ("team__organization",)


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin[Plan]):
    list_display = ("name", "slug", "price_usd", "monthly_credits", "rpm_limit", "includes_chat",
                    "stripe_price_id", "is_active", "position")  # fmt: skip
    list_editable = ("is_active", "position")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(TopUpPack)
class TopUpPackAdmin(admin.ModelAdmin[TopUpPack]):
    list_display = ("name", "slug", "price_usd", "credits", "stripe_price_id", "is_active")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(BillingAccount)
class BillingAccountAdmin(admin.ModelAdmin[BillingAccount]):
    list_display = ("organization", "plan", "status", "stripe_customer_id", "auto_topup_enabled",
                    "current_period_end")  # fmt: skip
    list_filter = ("plan", "status", "auto_topup_enabled")
    search_fields = ("organization__name", "stripe_customer_id", "stripe_subscription_id")
    list_select_related = ("organization", "plan")
    # Stripe is the system of record for these: they change through webhooks only.
    readonly_fields = (
        "stripe_customer_id", "stripe_subscription_id", "stripe_payment_method_id",
        "plan_event_at", "payment_event_at", "plan_changed_at", "current_period_end",
    )  # fmt: skip
    actions = ["grant_1000_credits"]

    @admin.action(description="Grant 1,000 credits (goodwill, audited)")
    def grant_1000_credits(self, request: HttpRequest, queryset: Any) -> None:
        for account in queryset.select_related("organization"):
            credit_adjust(
                organization=account.organization,
                credits=1000,
                note="Goodwill credits from the console",
                actor_label=getattr(request.user, "email", "staff"),
            )
        messages.success(request, f"Granted 1,000 credits to {queryset.count()} organization(s).")


@admin.register(CreditGrant)
class CreditGrantAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "organization", "kind", "credits_micro", "period_start", "note",
                    "invoice_id", "payment_intent")  # fmt: skip
    list_filter = ("kind", "organization")
    search_fields = ("idempotency_key", "invoice_id", "payment_intent")


@admin.register(StripeRefund)
class StripeRefundAdmin(ReadOnlyAdmin):
    list_display = ("charge_id", "organization", "amount", "amount_refunded", "updated_at")


@admin.register(AutoTopUpAttempt)
class AutoTopUpAttemptAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "organization", "pack", "succeeded", "payment_intent", "error")
    list_filter = ("succeeded",)


@admin.register(DailyCostRollup)
class DailyCostRollupAdmin(ReadOnlyAdmin):
    list_display = ("day", "organization", "team", "user", "model", "requests", "input_tokens",
                    "output_tokens", "cost_usd")  # fmt: skip
    list_filter = ("day", "organization")
    date_hierarchy = "day"
    list_select_related = ("organization", "team", "user")
