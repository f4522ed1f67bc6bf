"""Reads for accounts and tenancy. Every function takes the actor first and scopes by it."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.access import (
    Actor,
    access_organization,
    access_team,
    organizations_visible_to,
    teams_visible_to,
)
from accounts.models import APIKey, Membership, Organization, Team


def organization_list(*, actor: Actor) -> QuerySet[Organization]:
    return organizations_visible_to(actor).order_by("name")


def organization_role_map(*, actor: Actor) -> dict[int, str]:
    """The actor's role in each organization (empty for service keys)."""
    if actor.user is None or actor.key is not None:
        return {}
    return dict(Membership.objects.filter(user=actor.user).values_list("organization_id", "role"))


def team_list(*, actor: Actor, organization_id: int | None = None) -> QuerySet[Team]:
    teams = teams_visible_to(actor).select_related("organization")
    if organization_id is not None:
        access_organization(actor, organization_id)
        teams = teams.filter(organization_id=organization_id)
    return teams.order_by("organization__name", "name")


def api_key_list(*, actor: Actor, team_id: int, include_inactive: bool = True) -> QuerySet[APIKey]:
    team = access_team(actor, team_id)
    keys = APIKey.objects.filter(team=team).select_related("user", "created_by")
    if not include_inactive:
        keys = keys.filter(revoked_at__isnull=True)
    return keys.order_by("-created_at")
