"""``access_*`` helpers: fetch a tenant-owned object only through the caller's tenancy.

Every lookup joins through membership in the same query, so an object outside the
caller's organizations is indistinguishable from one that does not exist (404).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from accounts.models import (
    ORG_ADMIN_ROLES,
    APIKey,
    Membership,
    Organization,
    Role,
    Scope,
    Team,
    User,
)
from core.errors import Forbidden, NotFound


@dataclass(frozen=True)
class KeyContext:
    """What an API key authenticates: a team, its organization and the key's scopes.

    ``key_id`` is None when a signed-in person calls the gateway in-process from the browser
    chat: the call is then attributed to the user and the team, with no key."""

    key_id: int | None
    prefix: str
    team_id: int
    organization_id: int
    user_id: int | None
    scopes: tuple[str, ...]
    rpm_limit: int | None = None
    tpm_limit: int | None = None


@dataclass(frozen=True)
class Actor:
    """Who is asking: a signed-in user, an API key, or a key acting for its user.

    ``platform_admin`` is set only by the governance console (Django admin), whose own
    model permissions already decided that this staff member may act on every tenant.
    """

    user: User | None
    key: KeyContext | None = None
    platform_admin: bool = False


def membership_role(*, user: User, organization_id: int) -> str | None:
    return (
        Membership.objects.filter(user=user, organization_id=organization_id)
        .values_list("role", flat=True)
        .first()
    )


def organizations_visible_to(actor: Actor) -> QuerySet[Organization]:
    if actor.platform_admin:
        return Organization.objects.all()
    if actor.key is not None:
        return Organization.objects.filter(pk=actor.key.organization_id)
    if actor.user is None:
        return Organization.objects.none()
    return Organization.objects.filter(memberships__user=actor.user)


def access_organization(actor: Actor, organization_id: int) -> Organization:
    org = organizations_visible_to(actor).filter(pk=organization_id).first()
    if org is None:
        raise NotFound("No such organization.")
    return org


def teams_visible_to(actor: Actor) -> QuerySet[Team]:
    """Org owners/admins see every team of the org; others see the teams they belong to."""
    if actor.platform_admin:
        return Team.objects.all()
    if actor.key is not None:
        return Team.objects.filter(pk=actor.key.team_id)
    if actor.user is None:
        return Team.objects.none()
    admin_of = Membership.objects.filter(user=actor.user, role__in=ORG_ADMIN_ROLES).values(
        "organization_id"
    )
    return Team.objects.filter(
        Q(organization_id__in=admin_of)
        | Q(team_memberships__user=actor.user, organization__memberships__user=actor.user)
    ).distinct()


def access_team(actor: Actor, team_id: int, *, manage: bool = False) -> Team:
    """The team, if the actor may see it; with ``manage``, only if they may change it.

    Managing a team (its keys) is for org owners/admins and for team members whose org
    role is ``member``; viewers only look. A key needs the ``manage`` scope.
    """
    team = teams_visible_to(actor).select_related("organization").filter(pk=team_id).first()
    if team is None:
        raise NotFound("No such team.")
    if manage and not can_manage_team(actor, team):
        raise Forbidden("You may view this team but not manage it.")
    return team


def can_manage_team(actor: Actor, team: Team) -> bool:
    if actor.platform_admin:
        return True
    if actor.key is not None:
        return actor.key.team_id == team.pk and Scope.MANAGE.value in actor.key.scopes
    if actor.user is None:
        return False
    role = membership_role(user=actor.user, organization_id=team.organization_id)
    if role in ORG_ADMIN_ROLES:
        return True
    return role == Role.MEMBER and team.team_memberships.filter(user=actor.user).exists()


def access_api_key(actor: Actor, team_id: int, key_id: int, *, manage: bool = False) -> APIKey:
    team = access_team(actor, team_id, manage=manage)
    key = APIKey.objects.filter(team=team, pk=key_id).select_related("team").first()
    if key is None:
        raise NotFound("No such API key.")
    return key


def require_org_admin(actor: Actor, organization: Organization) -> None:
    if actor.platform_admin:
        return
    if actor.key is not None or actor.user is None:
        raise Forbidden("Only organization owners and admins may do this.")
    if membership_role(user=actor.user, organization_id=organization.pk) not in ORG_ADMIN_ROLES:
        raise Forbidden("Only organization owners and admins may do this.")
