from __future__ import annotations

import hashlib
import re

import pytest

from accounts import apikeys, services
from accounts.access import Actor
from accounts.models import APIKey, Membership, Role
from accounts.tests.factories import TEST_PASSWORD, UserFactory
from core.audit import audit_record
from core.models import AuditEvent


@pytest.fixture
def staff_client(client, world):
    admin_user = UserFactory(email="root@platform.test", is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    return client


@pytest.mark.parametrize(
    ("url", "filter_param"),
    [
        ("/admin/accounts/user/", "memberships__organization__id__exact"),
        ("/admin/accounts/organization/", None),
        ("/admin/accounts/team/", "organization__id__exact"),
        ("/admin/accounts/membership/", "organization__id__exact"),
        ("/admin/accounts/apikey/", "organization__id__exact"),
        ("/admin/core/auditevent/", "organization_id"),
    ],
)
def test_changelists_load_and_filter_by_organization(staff_client, world, url, filter_param):
    assert staff_client.get(url).status_code == 200
    if filter_param:
        response = staff_client.get(url, {filter_param: world.org_a.pk})
        assert response.status_code == 200


def test_team_and_key_changelists_are_scoped_by_the_org_filter(staff_client, world):
    services.api_key_create(actor=Actor(user=world.owner_a), team=world.team_a, name="alpha-key")
    services.api_key_create(actor=Actor(user=world.outsider_b), team=world.team_b, name="beta-key")
    page = staff_client.get(
        "/admin/accounts/apikey/", {"organization__id__exact": world.org_a.pk}
    ).content
    assert b"alpha-key" in page
    assert b"beta-key" not in page


def test_adding_a_key_in_admin_shows_the_secret_once(staff_client, world):
    response = staff_client.post(
        "/admin/accounts/apikey/add/",
        {"name": "console-made", "team": world.team_a.pk, "scopes": "inference,read"},
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    match = re.search(rb"<code>(sk-[^<]+)</code>", response.content)
    assert match is not None
    secret = match.group(1).decode()
    key = APIKey.objects.get(name="console-made")
    assert key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    change_page = staff_client.get(f"/admin/accounts/apikey/{key.pk}/change/").content.decode()
    assert secret not in change_page
    assert key.prefix in change_page


def test_revoke_action_revokes_at_once(staff_client, world):
    key, secret = services.api_key_create(
        actor=Actor(user=world.owner_a), team=world.team_a, name="k"
    )
    apikeys.authenticate_secret(secret, ip=None)
    response = staff_client.post(
        "/admin/accounts/apikey/",
        {"action": "revoke_keys", "_selected_action": [key.pk]},
        follow=True,
    )
    assert response.status_code == 200
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert AuditEvent.objects.filter(
        action="api_key.revoke", actor_label="root@platform.test"
    ).exists()


def test_rotate_action_shows_the_new_secret_once(staff_client, world):
    key, _ = services.api_key_create(actor=Actor(user=world.owner_a), team=world.team_a, name="k")
    response = staff_client.post(
        "/admin/accounts/apikey/", {"action": "rotate_keys", "_selected_action": [key.pk]}
    )
    assert response.status_code == 200
    match = re.search(rb"<code>(sk-[^<]+)</code>", response.content)
    assert match is not None
    secret = match.group(1).decode()
    successor = APIKey.objects.get(rotated_from=key)
    assert successor.secret_hash == hashlib.sha256(secret.encode()).hexdigest()


def test_role_change_in_admin_is_audited(staff_client, world):
    membership = Membership.objects.get(organization=world.org_a, user=world.member_a)
    response = staff_client.post(
        f"/admin/accounts/membership/{membership.pk}/change/",
        {"organization": world.org_a.pk, "user": world.member_a.pk, "role": Role.VIEWER},
    )
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == Role.VIEWER
    assert AuditEvent.objects.filter(
        action="membership.role_change", target_id=str(world.member_a.pk)
    ).exists()


def test_audit_log_is_read_only_in_admin(staff_client, world):
    event = audit_record(action="test.event", organization_id=world.org_a.pk)
    assert staff_client.get("/admin/core/auditevent/add/").status_code == 403
    assert staff_client.get(f"/admin/core/auditevent/{event.pk}/delete/").status_code == 403
    detail = staff_client.get(f"/admin/core/auditevent/{event.pk}/change/")
    assert detail.status_code == 200
    assert b'name="action"' not in detail.content  # shown, not editable
    staff_client.post(f"/admin/core/auditevent/{event.pk}/change/", {"action": "forged"})
    event.refresh_from_db()
    assert event.action == "test.event"


def test_api_keys_cannot_be_deleted_in_admin(staff_client, world):
    key, _ = services.api_key_create(actor=Actor(user=world.owner_a), team=world.team_a, name="k")
    assert staff_client.get(f"/admin/accounts/apikey/{key.pk}/delete/").status_code == 403


def test_admin_login_is_locked_out_after_repeated_failures(client, settings, db):
    settings.AXES_FAILURE_LIMIT = 3
    UserFactory(email="root2@platform.test", is_staff=True, is_superuser=True)
    for _ in range(3):
        client.post("/admin/login/", {"username": "Root2@Platform.test", "password": "wrong"})
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "root2@platform.test", "password": TEST_PASSWORD}
    )
    assert response.status_code == 429  # the right password no longer helps
    assert "_auth_user_id" not in client.session
    assert (
        AuditEvent.objects.filter(
            action="auth.login_failed", actor_label="root2@platform.test"
        ).count()
        >= 3
    )
