"""Console pages for budgets, the usage ledger (read-only) and budget alerts."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from billing.models import BudgetAlert, TeamBudget, UsageRecord


@admin.register(TeamBudget)
class TeamBudgetAdmin(admin.ModelAdmin[TeamBudget]):
    list_display = ("team", "monthly_limit_usd", "alert_threshold_percent", "updated_at")
    list_filter = ("team__organization",)
    search_fields = ("team__name", "team__organization__name")
    autocomplete_fields = ("team",)
    list_select_related = ("team__organization",)


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
        "input_tokens", "output_tokens", "cost_usd", "latency_ms", "status", "cached", "fallbacks",
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
