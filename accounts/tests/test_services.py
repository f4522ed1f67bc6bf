from __future__ import annotations

import threading

import pytest
from django.db import connections

from accounts import services
from accounts.access import Actor
from accounts.models import Membership, Role, Team, User
from core.errors import Forbidden, ValidationFailed
from core.models import AuditEvent


@pytest.mark.django_db
def test_signup_creates_a_personal_organization_owned_by_the_user():
    user = services.user_signup(email="  Ada@Example.TEST ", password="pw-1234567", full_name="Ada")
    assert user.email == "ada@example.test"
    membership = Membership.objects.get(user=user)
    assert membership.role == Role.OWNER
    assert membership.organization.is_personal
    assert membership.organization.name == "Ada's workspace"
    team = Team.objects.get(organization=membership.organization)
    assert team.name == "Default"
    assert team.team_memberships.filter(user=user).exists()
    assert AuditEvent.objects.filter(action="user.signup", actor_id=user.pk).exists()


@pytest.mark.django_db
def test_signup_refuses_an_existing_email_in_any_case():
    services.user_signup(email="bob@example.test", password="pw-1234567")
    with pytest.raises(ValidationFailed, match="already exists"):
        services.user_signup(email="BOB@example.test", password="pw-1234567")


@pytest.mark.django_db(transaction=True)
def test_concurrent_signups_with_one_email_create_one_user():
    outcomes: list[str] = []

    def sign_up() -> None:
        try:
            services.user_signup(email="race@example.test", password="pw-1234567")
            outcomes.append("created")
        except ValidationFailed:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sign_up) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created", "refused", "refused", "refused"]
    assert User.objects.filter(email="race@example.test").count() == 1


def test_role_changes_are_audited_and_keep_an_owner(world):
    owner = Actor(user=world.owner_a)
    services.membership_set_role(
        actor=owner, organization=world.org_a, user=world.member_a, role=Role.ADMIN
    )
    event = AuditEvent.objects.get(action="membership.role_change")
    assert event.metadata == {"from": "member", "to": "admin"}
    assert event.organization_id == world.org_a.pk
    with pytest.raises(ValidationFailed, match="at least one owner"):
        services.membership_set_role(
            actor=owner, organization=world.org_a, user=world.owner_a, role=Role.MEMBER
        )


def test_admins_cannot_make_owners_and_members_cannot_change_roles(world):
    services.membership_set_role(
        actor=Actor(user=world.owner_a),
        organization=world.org_a,
        user=world.member_a,
        role=Role.ADMIN,
    )
    with pytest.raises(Forbidden):
        services.membership_set_role(
            actor=Actor(user=world.member_a),
            organization=world.org_a,
            user=world.member_a,
            role=Role.OWNER,
        )
    with pytest.raises(Forbidden):
        services.membership_set_role(
            actor=Actor(user=world.outsider_b),
            organization=world.org_a,
            user=world.outsider_b,
            role=Role.OWNER,
        )


def test_team_members_must_belong_to_the_organization(world):
    with pytest.raises(ValidationFailed):
        services.team_member_add(
            actor=Actor(user=world.owner_a), team=world.team_a, user=world.outsider_b
        )


def test_keys_act_only_for_members_of_their_team(world):
    with pytest.raises(ValidationFailed):
        services.api_key_create(
            actor=Actor(user=world.owner_a), team=world.team_a, name="x", user=world.outsider_b
        )
