"""Writes for accounts and tenancy. Every change that matters for security is audited."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.text import slugify

from accounts import apikeys
from accounts.access import Actor, access_team, require_org_admin
from accounts.models import (
    DEFAULT_SCOPES,
    APIKey,
    Membership,
    Organization,
    Role,
    Scope,
    Team,
    TeamMembership,
    User,
    normalize_email_address,
)
from core.audit import audit_record
from core.errors import Forbidden, ValidationFailed

DEFAULT_TEAM_NAME = "Default"


def _audit(actor: Actor, action: str, **fields: Any) -> None:
    if actor.user is not None:
        actor_id, label = actor.user.pk, actor.user.email
    elif actor.key is not None:
        actor_id, label = None, f"api-key:{actor.key.prefix}"
    else:
        actor_id, label = None, "system"
    audit_record(action=action, actor_id=actor_id, actor_label=label, **fields)


def _unique_slug(base: str, *, exists: object) -> str:
    slug = slugify(base)[:40] or "org"
    candidate = slug
    while exists(candidate):  # type: ignore[operator]
        candidate = f"{slug}-{get_random_string(6).lower()}"
    return candidate


@transaction.atomic
def organization_create(*, owner: User, name: str, personal: bool = False) -> Organization:
    name = name.strip()
    if not name:
        raise ValidationFailed("An organization needs a name.", code="name_required")
    org = Organization.objects.create(
        name=name,
        slug=_unique_slug(name, exists=lambda s: Organization.objects.filter(slug=s).exists()),
        is_personal=personal,
    )
    Membership.objects.create(organization=org, user=owner, role=Role.OWNER)
    team_create(actor=Actor(user=owner), organization=org, name=DEFAULT_TEAM_NAME)
    _audit(
        Actor(user=owner),
        "organization.create",
        organization_id=org.pk,
        target_type="organization",
        target_id=org.pk,
        target_label=org.name,
    )
    return org


@transaction.atomic
def user_signup(
    *,
    email: str,
    password: str | None,
    full_name: str = "",
    ip_address: str | None = None,
    personal_organization: bool = True,
) -> User:
    """Create a user with a personal organization (they own it) and its default team."""
    email = normalize_email_address(email)
    if User.objects.filter(email=email).exists():
        raise ValidationFailed("An account with this email already exists.", code="email_taken")
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=password, full_name=full_name)
    except IntegrityError as exc:  # a concurrent sign-up with the same address won
        raise ValidationFailed(
            "An account with this email already exists.", code="email_taken"
        ) from exc
    if personal_organization:
        org_name = f"{full_name or email.split('@')[0]}'s workspace"
        organization_create(owner=user, name=org_name, personal=True)
    _audit(
        Actor(user=user),
        "user.signup",
        target_type="user",
        target_id=user.pk,
        target_label=user.email,
        ip_address=ip_address,
    )
    return user


@transaction.atomic
def team_create(*, actor: Actor, organization: Organization, name: str) -> Team:
    require_org_admin(actor, organization)
    name = name.strip()
    if not name:
        raise ValidationFailed("A team needs a name.", code="name_required")
    if organization.teams.filter(name__iexact=name).exists():
        raise ValidationFailed("This organization already has a team with that name.")
    team = Team.objects.create(
        organization=organization,
        name=name,
        slug=_unique_slug(name, exists=lambda s: organization.teams.filter(slug=s).exists()),
    )
    if actor.user is not None and organization.memberships.filter(user=actor.user).exists():
        # The creator joins the team; a platform admin acting from the console does not.
        TeamMembership.objects.create(team=team, user=actor.user)
    _audit(
        actor,
        "team.create",
        organization_id=organization.pk,
        target_type="team",
        target_id=team.pk,
        target_label=team.name,
    )
    return team


@transaction.atomic
def team_member_add(*, actor: Actor, team: Team, user: User) -> TeamMembership:
    require_org_admin(actor, team.organization)
    if not Membership.objects.filter(organization=team.organization, user=user).exists():
        raise ValidationFailed("Only members of the organization can join its teams.")
    membership, _ = TeamMembership.objects.get_or_create(team=team, user=user)
    _audit(
        actor,
        "team.member_add",
        organization_id=team.organization_id,
        target_type="user",
        target_id=user.pk,
        target_label=user.email,
        metadata={"team_id": team.pk},
    )
    return membership


@transaction.atomic
def membership_set_role(
    *, actor: Actor, organization: Organization, user: User, role: str
) -> Membership:
    require_org_admin(actor, organization)
    if role not in Role.values:
        raise ValidationFailed(f"Unknown role {role!r}.", code="invalid_role")
    membership, created = Membership.objects.select_for_update().get_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    old_role = None if created else membership.role
    if old_role == Role.OWNER and role != Role.OWNER:
        others = organization.memberships.filter(role=Role.OWNER).exclude(pk=membership.pk)
        if not others.exists():
            raise ValidationFailed("An organization must keep at least one owner.")
    if old_role != role:
        if role == Role.OWNER and not actor.platform_admin:
            actor_role = (
                organization.memberships.filter(user=actor.user)
                .values_list("role", flat=True)
                .first()
            )
            if actor_role != Role.OWNER:
                raise Forbidden("Only an owner can make someone an owner.")
        membership.role = role
        membership.save(update_fields=["role", "updated_at"])
        _audit(
            actor,
            "membership.role_change",
            organization_id=organization.pk,
            target_type="user",
            target_id=user.pk,
            target_label=user.email,
            metadata={"from": old_role, "to": role},
        )
    return membership


def _validate_scopes(scopes: list[str] | None) -> list[str]:
    if scopes is None:
        return list(DEFAULT_SCOPES)
    unknown = sorted(set(scopes) - set(Scope.values))
    if unknown:
        raise ValidationFailed(f"Unknown scopes: {', '.join(unknown)}.", code="invalid_scope")
    if not scopes:
        raise ValidationFailed("A key needs at least one scope.", code="invalid_scope")
    return sorted(set(scopes))


@transaction.atomic
def api_key_create(
    *,
    actor: Actor,
    team: Team,
    name: str,
    scopes: list[str] | None = None,
    expires_at: datetime | None = None,
    user: User | None = None,
    ip_address: str | None = None,
) -> tuple[APIKey, str]:
    """Mint a key. Returns the key and its secret, which is never retrievable again."""
    access_team(actor, team.pk, manage=True)
    name = name.strip()
    if not name:
        raise ValidationFailed("A key needs a name.", code="name_required")
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed("The expiry must be in the future.", code="invalid_expiry")
    if actor.key is not None and not set(_validate_scopes(scopes)) <= set(actor.key.scopes):
        raise Forbidden("A key cannot mint a key with scopes it does not have.")
    if user is not None and not team.team_memberships.filter(user=user).exists():
        raise ValidationFailed("A key can only act for a member of its team.")
    secret = apikeys.generate_secret()
    key = APIKey.objects.create(
        organization_id=team.organization_id,
        team=team,
        user=user,
        created_by=actor.user,
        name=name,
        prefix=apikeys.display_prefix(secret),
        secret_hash=apikeys.hash_secret(secret),
        scopes=_validate_scopes(scopes),
        expires_at=expires_at,
    )
    _audit(
        actor,
        "api_key.create",
        organization_id=team.organization_id,
        target_type="api_key",
        target_id=key.pk,
        target_label=f"{key.name} ({key.prefix})",
        ip_address=ip_address,
        metadata={"team_id": team.pk, "scopes": key.scopes},
    )
    return key, secret


def api_key_revoke(*, actor: Actor, api_key: APIKey, ip_address: str | None = None) -> APIKey:
    with transaction.atomic():
        key = APIKey.objects.select_for_update().get(pk=api_key.pk)
        access_team(actor, key.team_id, manage=True)
        if key.revoked_at is None:
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
            _audit(
                actor,
                "api_key.revoke",
                organization_id=key.organization_id,
                target_type="api_key",
                target_id=key.pk,
                target_label=f"{key.name} ({key.prefix})",
                ip_address=ip_address,
            )
    # After commit, so a process that misses the cache reads the revoked row.
    apikeys.cache_overwrite(key)
    return key


def api_key_rotate(
    *,
    actor: Actor,
    api_key: APIKey,
    grace: timedelta | None = None,
    ip_address: str | None = None,
) -> tuple[APIKey, str]:
    """Mint a successor with the same team, user and scopes; the old key keeps working for
    ``grace`` (default API_KEY_ROTATION_GRACE_HOURS) so deployments can switch over."""
    if grace is None:
        grace = timedelta(hours=settings.API_KEY_ROTATION_GRACE_HOURS)
    if grace < timedelta(0):
        raise ValidationFailed("The grace period cannot be negative.")
    with transaction.atomic():
        old = APIKey.objects.select_for_update().select_related("team").get(pk=api_key.pk)
        access_team(actor, old.team_id, manage=True)
        if not old.is_active:
            raise ValidationFailed("Only an active key can be rotated.", code="key_inactive")
        if APIKey.objects.filter(rotated_from=old).exists():
            raise ValidationFailed("This key was already rotated.", code="already_rotated")
        secret = apikeys.generate_secret()
        new = APIKey.objects.create(
            organization_id=old.organization_id,
            team=old.team,
            user=old.user,
            created_by=actor.user,
            name=old.name,
            prefix=apikeys.display_prefix(secret),
            secret_hash=apikeys.hash_secret(secret),
            scopes=old.scopes,
            expires_at=old.expires_at,
            rotated_from=old,
        )
        grace_end = timezone.now() + grace
        if old.expires_at is None or old.expires_at > grace_end:
            old.expires_at = grace_end
            old.save(update_fields=["expires_at"])
        _audit(
            actor,
            "api_key.rotate",
            organization_id=old.organization_id,
            target_type="api_key",
            target_id=old.pk,
            target_label=f"{old.name} ({old.prefix})",
            ip_address=ip_address,
            metadata={"successor_id": new.pk, "old_key_expires_at": old.expires_at.isoformat()},
        )
    apikeys.cache_overwrite(old)
    return new, secret
