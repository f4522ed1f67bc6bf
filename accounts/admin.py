"""Governance console: users, organizations, teams, memberships, API keys and the audit log.

Every changelist of tenant-owned rows can be filtered by organization (and team).
Writes that matter go through the services, so the admin audits exactly like the API.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from accounts import apikeys, services
from accounts.access import Actor
from accounts.models import APIKey, Membership, Organization, Team, TeamMembership, User
from core.audit import audit_record
from core.errors import ApplicationError
from core.http import client_ip
from core.models import AuditEvent


def _actor(request: HttpRequest) -> Actor:
    # Only reachable through admin views, which have already checked staff status and
    # the model permission for the action.
    assert isinstance(request.user, User)
    assert request.user.is_staff
    return Actor(user=request.user, platform_admin=True)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):  # type: ignore[type-arg]  # our User is no AbstractUser
    ordering = ("email",)
    list_display = ("email", "full_name", "is_active", "is_staff", "date_joined", "last_login")
    list_filter = ("is_active", "is_staff", "memberships__organization")
    search_fields = ("email", "full_name")
    readonly_fields = ("date_joined", "last_login", "firebase_uid")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("full_name", "firebase_uid")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


class MembershipInline(admin.TabularInline[Membership, Organization]):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)
    readonly_fields = ("role",)
    can_delete = False


class TeamInline(admin.TabularInline[Team, Organization]):
    model = Team
    extra = 0
    fields = ("name", "slug", "created_at")
    readonly_fields = ("created_at",)
    show_change_link = True


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin[Organization]):
    list_display = ("name", "slug", "is_personal", "created_at")
    list_filter = ("is_personal",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (MembershipInline, TeamInline)


class TeamMembershipInline(admin.TabularInline[TeamMembership, Team]):
    model = TeamMembership
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin[Team]):
    list_display = ("name", "organization", "slug", "created_at")
    list_filter = ("organization",)
    search_fields = ("name", "slug", "organization__name")
    list_select_related = ("organization",)
    inlines = (TeamMembershipInline,)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin[Membership]):
    list_display = ("user", "organization", "role", "created_at")
    list_filter = ("organization", "role")
    search_fields = ("user__email", "organization__name")
    list_select_related = ("user", "organization")
    autocomplete_fields = ("user", "organization")

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        # Role changes are audited; route them through the service rather than a bare save.
        if change and "role" in form.changed_data:
            services.membership_set_role(
                actor=_actor(request), organization=obj.organization, user=obj.user, role=obj.role
            )
            return
        super().save_model(request, obj, form, change)
        if not change:
            audit_record(
                action="membership.create",
                actor_id=request.user.pk,
                actor_label=str(request.user),
                organization_id=obj.organization_id,
                target_type="user",
                target_id=obj.user_id,
                target_label=str(obj.user),
                ip_address=client_ip(request),
                metadata={"role": obj.role},
            )


class APIKeyStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("active", "Active"), ("revoked", "Revoked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[APIKey]) -> QuerySet[APIKey]:
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(APIKey)
class APIKeyAdmin(admin.ModelAdmin[APIKey]):
    list_display = (
        "name", "prefix", "team", "organization", "user", "scopes", "created_at",
        "expires_at", "revoked_at", "last_used_at",
    )  # fmt: skip
    list_filter = ("organization", "team", APIKeyStatusFilter)
    search_fields = ("name", "prefix", "team__name", "organization__name", "user__email")
    list_select_related = ("team", "organization", "user")
    autocomplete_fields = ("team", "user")
    actions = ("revoke_keys", "rotate_keys")
    fields = ("name", "team", "user", "scopes", "expires_at", "rpm_limit", "tpm_limit")
    readonly_fields_on_change = (
        "team", "user", "prefix", "created_at", "revoked_at", "last_used_at", "rotated_from",
    )  # fmt: skip

    def get_readonly_fields(self, request: HttpRequest, obj: APIKey | None = None) -> Any:
        return self.readonly_fields_on_change if obj is not None else ()

    def get_fields(self, request: HttpRequest, obj: APIKey | None = None) -> Any:
        if obj is None:
            return self.fields
        return ("name", "prefix", "team", "user", "scopes", "rpm_limit", "tpm_limit", "created_at",
                "expires_at", "revoked_at", "last_used_at", "rotated_from")  # fmt: skip

    def has_delete_permission(self, request: HttpRequest, obj: APIKey | None = None) -> bool:
        return False  # revoke instead: the row is evidence for the ledger and the audit log

    def save_model(self, request: HttpRequest, obj: APIKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            # Scopes or expiry may have changed: every process must see it now, not in 15 min.
            apikeys.cache_overwrite(obj)
            audit_record(
                action="api_key.update",
                actor_id=request.user.pk,
                actor_label=str(request.user),
                organization_id=obj.organization_id,
                target_type="api_key",
                target_id=obj.pk,
                target_label=f"{obj.name} ({obj.prefix})",
                ip_address=client_ip(request),
                metadata={"changed": list(form.changed_data)},
            )
            return
        key, secret = services.api_key_create(
            actor=_actor(request),
            team=obj.team,
            name=obj.name,
            scopes=list(obj.scopes) or None,
            expires_at=obj.expires_at,
            user=obj.user,
            ip_address=client_ip(request),
        )
        obj.pk = key.pk
        request._new_api_key_secrets = [(key, secret)]  # type: ignore[attr-defined]

    def response_add(
        self, request: HttpRequest, obj: APIKey, post_url_continue: str | None = None
    ) -> HttpResponse:
        return self._show_secrets(request) or super().response_add(request, obj, post_url_continue)

    def _show_secrets(self, request: HttpRequest) -> HttpResponse | None:
        """Render new secrets straight into the response: they never touch the session,
        the messages cookie or the database, and this page is the only time they appear."""
        created = getattr(request, "_new_api_key_secrets", None)
        if not created:
            return None
        response = TemplateResponse(
            request,
            "admin/accounts/apikey/secret_once.html",
            {**self.admin_site.each_context(request), "created": created, "opts": self.model._meta,
             "title": "Copy the new key now"},
        )  # fmt: skip
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke selected keys (takes effect at once)")
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[APIKey]) -> None:
        for key in queryset:
            services.api_key_revoke(
                actor=_actor(request), api_key=key, ip_address=client_ip(request)
            )
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)

    @admin.action(description="Rotate selected keys (old ones keep working for the grace period)")
    def rotate_keys(self, request: HttpRequest, queryset: QuerySet[APIKey]) -> HttpResponse | None:
        created = []
        for key in queryset:
            try:
                created.append(
                    services.api_key_rotate(
                        actor=_actor(request), api_key=key, ip_address=client_ip(request)
                    )
                )
            except ApplicationError as exc:
                self.message_user(request, f"{key}: {exc.message}", messages.ERROR)
        request._new_api_key_secrets = created  # type: ignore[attr-defined]
        return self._show_secrets(request)


class AuditOrganizationFilter(admin.SimpleListFilter):
    """Audit rows keep organization ids (not foreign keys); show them by name."""

    title = "organization"
    parameter_name = "organization_id"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            (str(pk), name)
            for pk, name in Organization.objects.order_by("name").values_list("id", "name")
        ]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[AuditEvent]
    ) -> QuerySet[AuditEvent]:
        if self.value():
            return queryset.filter(organization_id=self.value())
        return queryset


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin[AuditEvent]):
    """Read-only: the audit log can be searched and filtered, never edited or deleted."""

    list_display = ("id", "created_at", "action", "actor_label", "organization_id", "target_type",
                    "target_label", "ip_address", "request_id")  # fmt: skip
    list_filter = ("action", AuditOrganizationFilter, "created_at")
    search_fields = ("actor_label", "target_label", "request_id", "action")
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request: HttpRequest, obj: AuditEvent | None = None) -> Any:
        return [field.name for field in AuditEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False
