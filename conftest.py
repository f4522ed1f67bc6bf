"""Shared fixtures. Every test base has three actors: owner of org A, member of org A,
and an outsider who owns org B (healthchecks / Zulip style)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from accounts.models import Organization, Role, Team, User
from accounts.tests.factories import (
    MembershipFactory,
    OrganizationFactory,
    TeamFactory,
    TeamMembershipFactory,
    UserFactory,
)
from core.redis import get_redis


@pytest.fixture(autouse=True)
def _clean_redis():
    """Each xdist worker has its own Redis database (see config/django/test.py)."""
    get_redis().flushdb()
    yield


@dataclass
class World:
    org_a: Organization
    team_a: Team
    owner_a: User
    member_a: User
    org_b: Organization
    team_b: Team
    outsider_b: User


@pytest.fixture
def world(db) -> World:
    org_a = OrganizationFactory(name="Acme")
    team_a = TeamFactory(organization=org_a, name="Acme Research")
    owner_a = UserFactory(email="owner@acme.test")
    member_a = UserFactory(email="member@acme.test")
    MembershipFactory(organization=org_a, user=owner_a, role=Role.OWNER)
    MembershipFactory(organization=org_a, user=member_a, role=Role.MEMBER)
    TeamMembershipFactory(team=team_a, user=owner_a)
    TeamMembershipFactory(team=team_a, user=member_a)

    org_b = OrganizationFactory(name="Globex")
    team_b = TeamFactory(organization=org_b, name="Globex Ops")
    outsider_b = UserFactory(email="outsider@globex.test")
    MembershipFactory(organization=org_b, user=outsider_b, role=Role.OWNER)
    TeamMembershipFactory(team=team_b, user=outsider_b)
    return World(org_a, team_a, owner_a, member_a, org_b, team_b, outsider_b)


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def client_as(api_client):
    """Log an APIClient in as a user (session auth)."""

    def _login(user: User) -> APIClient:
        api_client.force_authenticate(user=None)
        api_client.force_login(user)
        return api_client

    return _login
