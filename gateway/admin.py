"""Console pages for the catalogue: providers, models (with prices and team access), routes
with their fallback chains, and per-team gateway settings. Rows managed by the
GATEWAY_CONFIG file are read-only here; the file is their source of truth."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Model
from django.http import HttpRequest, HttpResponse

from gateway.models import CatalogModel, Provider, Route, RouteStep, TeamGatewaySettings

_MANAGED_NOTE = "Managed by the GATEWAY_CONFIG file: change the file, not this page."


class FileManagedAdmin(admin.ModelAdmin[Any]):
    """Read-only for rows the config file manages (otherwise the next start-up would
    silently undo the edit)."""

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if obj is not None and getattr(obj, "managed_by_file", False):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if obj is not None and getattr(obj, "managed_by_file", False):
            return False
        return super().has_delete_permission(request, obj)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)
        if obj is not None and getattr(obj, "managed_by_file", False):
            messages.info(request, _MANAGED_NOTE)
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(boolean=True, description="from file")
    def from_file(self, obj: Any) -> bool:
        return bool(obj.managed_by_file)


class ProviderForm(forms.ModelForm[Provider]):
    """The stored key is write-only: the form never shows it, and leaving the field empty
    keeps the current one."""

    base_url = forms.URLField(
        required=False,
        assume_scheme="https",
        help_text="OpenAI-compatible servers: e.g. http://vllm:8000/v1. Empty: the SDK default.",
    )
    new_api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Type a new key to replace the stored one (stored encrypted). Empty keeps it.",
    )
    clear_api_key = forms.BooleanField(required=False, help_text="Remove the stored key.")

    class Meta:
        model = Provider
        fields = ["name", "kind", "base_url", "api_key_env", "timeout_seconds", "enabled"]

    def save(self, commit: bool = True) -> Provider:
        provider = super().save(commit=False)
        if self.cleaned_data.get("clear_api_key"):
            provider.api_key = ""
        elif self.cleaned_data.get("new_api_key"):
            provider.api_key = self.cleaned_data["new_api_key"]
        if commit:
            provider.save()
        return provider


@admin.register(Provider)
class ProviderAdmin(FileManagedAdmin):
    form = ProviderForm
    list_display = (
        "name",
        "kind",
        "base_url",
        "key_status",
        "timeout_seconds",
        "enabled",
        "from_file",
    )
    list_filter = ("kind", "enabled", "managed_by_file")
    search_fields = ("name", "base_url")

    @admin.display(description="key")
    def key_status(self, obj: Provider) -> str:
        if obj.api_key_env:
            return f"from ${obj.api_key_env}"
        return "stored (encrypted)" if obj.api_key else "none"


@admin.register(CatalogModel)
class CatalogModelAdmin(FileManagedAdmin):
    list_display = (
        "name", "provider", "upstream_name", "input_price_per_mtok", "output_price_per_mtok",
        "context_window", "max_output_tokens", "all_teams", "enabled", "from_file",
    )  # fmt: skip
    list_filter = (
        "provider",
        "enabled",
        "all_teams",
        "managed_by_file",
        "teams__organization",
        "teams",
    )
    search_fields = ("name", "upstream_name")
    autocomplete_fields = ("teams",)
    list_select_related = ("provider",)


class RouteStepInline(admin.TabularInline[RouteStep, Route]):
    model = RouteStep
    extra = 1
    ordering = ("position",)
    autocomplete_fields = ("model",)


@admin.register(Route)
class RouteAdmin(FileManagedAdmin):
    list_display = ("name", "chain", "enabled", "from_file")
    list_filter = ("enabled", "managed_by_file")
    search_fields = ("name", "description")
    inlines = (RouteStepInline,)

    @admin.display(description="fallback chain")
    def chain(self, obj: Route) -> str:
        return " → ".join(step.model.name for step in obj.steps.select_related("model"))


@admin.register(TeamGatewaySettings)
class TeamGatewaySettingsAdmin(admin.ModelAdmin[TeamGatewaySettings]):
    list_display = ("team", "default_pipeline")
    list_filter = ("default_pipeline", "team__organization")
    autocomplete_fields = ("team",)
