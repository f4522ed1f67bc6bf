"""Browser pages: sign-up/in, password reset, dashboard, teams and API keys.

Three actors as everywhere: owner and member of org A, and an outsider who owns org B.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from accounts import apikeys
from accounts.models import APIKey, Membership, Organization, Role, Team, User
from accounts.tests.factories import (
    TEST_PASSWORD,
    MembershipFactory,
    TeamMembershipFactory,
    UserFactory,
)
from core.models import AuditEvent

pytestmark = pytest.mark.django_db

SECRET_RE = re.compile(r'value="(sk-[A-Za-z0-9_\-]+)"')
NEW_PASSWORD = "a brand new passphrase 2024"


def logged_in_user_id(client: Client) -> int | None:
    value = client.session.get(SESSION_KEY)
    return int(value) if value is not None else None


def login(client: Client, user: User) -> Client:
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def make_key(team: Team, *, name: str = "ci", **fields: Any) -> APIKey:
    secret = apikeys.generate_secret()
    return APIKey.objects.create(
        organization_id=team.organization_id,
        team=team,
        name=name,
        prefix=apikeys.display_prefix(secret),
        secret_hash=apikeys.hash_secret(secret),
        scopes=["inference"],
        **fields,
    )


def secret_from(response: Any) -> str:
    match = SECRET_RE.search(response.content.decode())
    assert match is not None, "the page shows no secret"
    return match.group(1)


# --- Landing and sign-up --------------------------------------------------------------------


def test_landing_page_links_to_signup_and_login(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert reverse("accounts:signup") in html
    assert reverse("accounts:login") in html


def test_landing_page_redirects_signed_in_users_to_dashboard(client, world):
    response = login(client, world.owner_a).get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:dashboard")


def test_signup_page_renders_the_form(client):
    html = client.get(reverse("accounts:signup")).content.decode()
    for field in ("email", "full_name", "password1", "password2"):
        assert f'name="{field}"' in html


def test_signup_creates_user_with_personal_org_and_logs_in(client):
    response = client.post(
        reverse("accounts:signup"),
        {
            "email": "New.Person@Example.test",
            "full_name": "New Person",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:dashboard")
    user = User.objects.get(email="new.person@example.test")
    assert user.check_password(NEW_PASSWORD)
    assert logged_in_user_id(client) == user.pk
    membership = Membership.objects.get(user=user)
    assert membership.role == Role.OWNER
    assert membership.organization.is_personal
    assert Team.objects.filter(organization=membership.organization).count() == 1

    dashboard = client.get(reverse("accounts:dashboard"))
    assert dashboard.status_code == 200
    assert "new.person@example.test" in dashboard.content.decode()
    assert escape(membership.organization.name) in dashboard.content.decode()


def test_signup_with_taken_email_shows_error_and_creates_nothing(client, world):
    users_before = User.objects.count()
    response = client.post(
        reverse("accounts:signup"),
        {"email": "OWNER@acme.test", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 200
    assert "An account with this email already exists." in response.content.decode()
    assert User.objects.count() == users_before
    assert logged_in_user_id(client) is None


@pytest.mark.parametrize(
    ("password1", "password2", "message"),
    [
        (NEW_PASSWORD, NEW_PASSWORD + "x", "The two passwords do not match."),
        ("password", "password", "This password is too common."),
        (
            "signup.person@example.test",
            "signup.person@example.test",
            "The password is too similar to the email",
        ),
    ],
)
def test_signup_applies_password_checks(client, password1, password2, message):
    response = client.post(
        reverse("accounts:signup"),
        {"email": "signup.person@example.test", "password1": password1, "password2": password2},
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not User.objects.filter(email="signup.person@example.test").exists()


# --- Login, logout, lockout -----------------------------------------------------------------


def test_login_with_correct_password_signs_in(client, world):
    response = client.post(
        reverse("accounts:login"), {"email": "Owner@Acme.test", "password": TEST_PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:dashboard")
    assert logged_in_user_id(client) == world.owner_a.pk


def test_login_with_bad_password_fails_and_is_audited(client, world):
    response = client.post(
        reverse("accounts:login"), {"email": "owner@acme.test", "password": "wrong"}
    )
    assert response.status_code == 200
    assert "Please enter a correct email and password" in response.content.decode()
    assert logged_in_user_id(client) is None
    assert AuditEvent.objects.filter(
        action="auth.login_failed", actor_label="owner@acme.test"
    ).exists()


def test_login_is_locked_after_five_failures(client, world):
    url = reverse("accounts:login")
    # Spelling the address differently does not reset the count.
    spellings = ["owner@acme.test", "OWNER@acme.test", "Owner@Acme.Test", "owner@acme.test"]
    for email in [*spellings, " owner@acme.test "]:
        client.post(url, {"email": email, "password": "wrong"})

    # Even the right password is refused now, with the lockout page.
    response = client.post(url, {"email": "owner@acme.test", "password": TEST_PASSWORD})
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert logged_in_user_id(client) is None
    assert (
        AuditEvent.objects.filter(action="auth.login_failed", actor_label="owner@acme.test").count()
        >= 5
    )

    # The lock is per username and address: another account from here still signs in.
    other = client.post(url, {"email": "member@acme.test", "password": TEST_PASSWORD})
    assert other.status_code == 302
    assert logged_in_user_id(client) == world.member_a.pk


def test_four_failures_do_not_lock(client, world):
    url = reverse("accounts:login")
    for _ in range(4):
        client.post(url, {"email": "owner@acme.test", "password": "wrong"})
    response = client.post(url, {"email": "owner@acme.test", "password": TEST_PASSWORD})
    assert response.status_code == 302
    assert logged_in_user_id(client) == world.owner_a.pk


def test_logout_needs_post(client, world):
    login(client, world.owner_a)
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert logged_in_user_id(client) == world.owner_a.pk
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert logged_in_user_id(client) is None


def test_pages_show_signed_in_email_and_logout_form(client, world):
    html = login(client, world.member_a).get(reverse("accounts:dashboard")).content.decode()
    assert "member@acme.test" in html
    assert f'action="{reverse("accounts:logout")}"' in html


# --- Password reset -------------------------------------------------------------------------


def test_password_reset_email_link_sets_a_new_password(client, world):
    response = client.post(reverse("accounts:password_reset"), {"email": "member@acme.test"})
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_reset_done")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["member@acme.test"]
    link = re.search(
        r"https?://[^/\s]+(/accounts/password-reset/\S+/\S+/)", str(mail.outbox[0].body)
    )
    assert link is not None

    # Django swaps the token for a session marker and redirects to the set-password form.
    form_page = client.get(link.group(1), follow=True)
    assert form_page.status_code == 200
    assert "Choose a new password" in form_page.content.decode()
    set_password_url = form_page.redirect_chain[-1][0]
    done = client.post(
        set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert done.status_code == 302
    assert done["Location"] == reverse("accounts:password_reset_complete")
    assert "Your password has been set" in client.get(done["Location"]).content.decode()
    world.member_a.refresh_from_db()
    assert world.member_a.check_password(NEW_PASSWORD)
    signed_in = client.post(
        reverse("accounts:login"), {"email": "member@acme.test", "password": NEW_PASSWORD}
    )
    assert signed_in.status_code == 302
    assert logged_in_user_id(client) == world.member_a.pk

    # The link is single-use.
    again = client.get(link.group(1), follow=True)
    assert "This link no longer works" in again.content.decode()


def test_password_reset_for_unknown_email_sends_nothing_but_looks_the_same(client, world):
    response = client.post(reverse("accounts:password_reset"), {"email": "nobody@nowhere.test"})
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_reset_done")
    assert mail.outbox == []


# --- Dashboard ------------------------------------------------------------------------------


def test_dashboard_requires_login(client):
    response = client.get(reverse("accounts:dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_dashboard_lists_own_organizations_and_teams_only(client, world):
    html = login(client, world.member_a).get(reverse("accounts:dashboard")).content.decode()
    assert "Acme" in html
    assert "Acme Research" in html
    assert reverse("accounts:team_detail", kwargs={"team_id": world.team_a.pk}) in html
    assert "Member" in html
    assert "Globex" not in html
    assert reverse("accounts:team_detail", kwargs={"team_id": world.team_b.pk}) not in html


def test_dashboard_offers_team_creation_only_to_admins(client, world):
    owner_html = login(client, world.owner_a).get(reverse("accounts:dashboard")).content.decode()
    assert "Create a team" in owner_html
    member_html = login(client, world.member_a).get(reverse("accounts:dashboard")).content.decode()
    assert "Create a team" not in member_html


def test_create_organization_from_dashboard(client, world):
    response = login(client, world.member_a).post(
        reverse("accounts:organization_create"), {"name": "Initech"}
    )
    assert response.status_code == 302
    org = Organization.objects.get(name="Initech")
    assert Membership.objects.get(organization=org, user=world.member_a).role == Role.OWNER


def test_owner_creates_team(client, world):
    response = login(client, world.owner_a).post(
        reverse("accounts:team_create"), {"organization": world.org_a.pk, "name": "Platform"}
    )
    team = Team.objects.get(organization=world.org_a, name="Platform")
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:team_detail", kwargs={"team_id": team.pk})


def test_duplicate_team_name_is_a_form_error(client, world):
    response = login(client, world.owner_a).post(
        reverse("accounts:team_create"), {"organization": world.org_a.pk, "name": "acme research"}
    )
    assert response.status_code == 200
    assert "already has a team with that name" in response.content.decode()
    assert Team.objects.filter(organization=world.org_a).count() == 1


def test_member_and_outsider_cannot_create_teams_in_org_a(client, world):
    for user in (world.member_a, world.outsider_b):
        response = login(client, user).post(
            reverse("accounts:team_create"), {"organization": world.org_a.pk, "name": "Sneaky"}
        )
        assert response.status_code == 200
        assert "Select a valid choice" in response.content.decode()
    assert not Team.objects.filter(name="Sneaky").exists()


# --- Team page and API keys -----------------------------------------------------------------


def test_team_page_lists_keys_with_status(client, world):
    make_key(world.team_a, name="live-key")
    make_key(world.team_a, name="old-key", revoked_at=timezone.now())
    make_key(world.team_a, name="stale-key", expires_at=timezone.now() - timedelta(days=1))
    response = login(client, world.member_a).get(
        reverse("accounts:team_detail", kwargs={"team_id": world.team_a.pk})
    )
    assert response.status_code == 200
    html = response.content.decode()
    for name, status in (("live-key", "Active"), ("old-key", "Revoked"), ("stale-key", "Expired")):
        row = re.search(rf"<tr>\s*<th scope=\"row\">{name}</th>.*?</tr>", html, re.S)
        assert row is not None, name
        assert f">{status}</span>" in row.group(0), name


def test_creating_a_key_shows_the_secret_once_and_stores_only_a_hash(client, world):
    login(client, world.member_a)
    team_url = reverse("accounts:team_detail", kwargs={"team_id": world.team_a.pk})
    response = client.post(
        reverse("accounts:api_key_create", kwargs={"team_id": world.team_a.pk}),
        {"name": "backend", "scopes": ["inference", "read"], "for_me": "on"},
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = secret_from(response)

    key = APIKey.objects.get(team=world.team_a, name="backend")
    assert key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert key.scopes == ["inference", "read"]
    assert key.user == world.member_a
    for field in APIKey._meta.concrete_fields:
        assert secret not in str(getattr(key, field.attname)), field.name
    for event in AuditEvent.objects.all():
        assert secret not in f"{event.target_label} {event.metadata}"

    later = client.get(team_url)
    assert later.status_code == 200
    assert key.prefix in later.content.decode()
    assert secret not in later.content.decode()


def test_key_expiry_from_the_form(client, world):
    login(client, world.owner_a)
    url = reverse("accounts:api_key_create", kwargs={"team_id": world.team_a.pk})
    past = client.post(url, {"name": "p", "scopes": ["read"], "expires_on": "2001-01-01"})
    assert past.status_code == 200
    assert "Choose a date after today." in past.content.decode()
    assert not APIKey.objects.filter(name="p").exists()

    day = (timezone.now() + timedelta(days=30)).date()
    client.post(url, {"name": "f", "scopes": ["read"], "expires_on": day.isoformat()})
    key = APIKey.objects.get(name="f")
    assert key.expires_at is not None
    assert key.expires_at.date() == day
    assert (key.expires_at.hour, key.expires_at.minute) == (0, 0)
    assert key.user is None  # "for_me" was left unchecked


def test_key_needs_a_scope(client, world):
    response = login(client, world.owner_a).post(
        reverse("accounts:api_key_create", kwargs={"team_id": world.team_a.pk}), {"name": "x"}
    )
    assert response.status_code == 200
    assert "Choose at least one scope." in response.content.decode()
    assert not APIKey.objects.filter(team=world.team_a).exists()


def test_revoke_through_confirm_page(client, world):
    key = make_key(world.team_a)
    login(client, world.owner_a)
    url = reverse("accounts:api_key_revoke", kwargs={"team_id": world.team_a.pk, "key_id": key.pk})
    confirm = client.get(url)
    assert confirm.status_code == 200
    assert "stops working" in confirm.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is None  # looking at the confirm page changes nothing

    response = client.post(url)
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_rotate_shows_new_secret_once_and_keeps_old_key_for_grace_period(client, world):
    key = make_key(world.team_a)
    login(client, world.member_a)
    url = reverse("accounts:api_key_rotate", kwargs={"team_id": world.team_a.pk, "key_id": key.pk})
    assert client.get(url).status_code == 200
    assert not APIKey.objects.filter(rotated_from=key).exists()

    response = client.post(url)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = secret_from(response)
    successor = APIKey.objects.get(rotated_from=key)
    assert successor.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    key.refresh_from_db()
    assert key.revoked_at is None
    assert key.expires_at is not None
    assert key.expires_at > timezone.now()

    team_page = client.get(reverse("accounts:team_detail", kwargs={"team_id": world.team_a.pk}))
    assert secret not in team_page.content.decode()

    # A key can be rotated only once; the second attempt explains why and mints nothing.
    again = client.post(url, follow=True)
    assert "already rotated" in again.content.decode()
    assert APIKey.objects.filter(team=world.team_a).count() == 2


def test_outsider_gets_404_everywhere_on_another_orgs_team(client, world):
    key = make_key(world.team_a)
    login(client, world.outsider_b)
    team_id, key_id = world.team_a.pk, key.pk
    urls = [
        ("get", reverse("accounts:team_detail", kwargs={"team_id": team_id})),
        ("post", reverse("accounts:api_key_create", kwargs={"team_id": team_id})),
        ("get", reverse("accounts:api_key_revoke", kwargs={"team_id": team_id, "key_id": key_id})),
        ("post", reverse("accounts:api_key_revoke", kwargs={"team_id": team_id, "key_id": key_id})),
        ("get", reverse("accounts:api_key_rotate", kwargs={"team_id": team_id, "key_id": key_id})),
        ("post", reverse("accounts:api_key_rotate", kwargs={"team_id": team_id, "key_id": key_id})),
    ]
    for method, url in urls:
        response = getattr(client, method)(url, {"name": "evil", "scopes": ["manage"]})
        assert response.status_code == 404, (method, url)
        assert "Acme" not in response.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is None
    assert key.expires_at is None
    assert APIKey.objects.filter(team=world.team_a).count() == 1


def test_key_of_another_team_is_404_even_for_a_manager(client, world):
    other = make_key(world.team_b)
    response = login(client, world.owner_a).post(
        reverse("accounts:api_key_revoke", kwargs={"team_id": world.team_a.pk, "key_id": other.pk})
    )
    assert response.status_code == 404
    other.refresh_from_db()
    assert other.revoked_at is None


def test_viewer_sees_keys_read_only_and_cannot_change_them(client, world):
    viewer = UserFactory(email="viewer@acme.test")
    MembershipFactory(organization=world.org_a, user=viewer, role=Role.VIEWER)
    TeamMembershipFactory(team=world.team_a, user=viewer)
    key = make_key(world.team_a, name="shared")
    login(client, viewer)

    page = client.get(reverse("accounts:team_detail", kwargs={"team_id": world.team_a.pk}))
    assert page.status_code == 200
    html = page.content.decode()
    assert "shared" in html
    assert "Create an API key" not in html
    assert reverse("accounts:api_key_create", kwargs={"team_id": world.team_a.pk}) not in html
    assert "Revoke" not in html

    create = client.post(
        reverse("accounts:api_key_create", kwargs={"team_id": world.team_a.pk}),
        {"name": "mine", "scopes": ["inference"]},
    )
    assert create.status_code == 403
    revoke = client.post(
        reverse("accounts:api_key_revoke", kwargs={"team_id": world.team_a.pk, "key_id": key.pk})
    )
    assert revoke.status_code == 403
    assert APIKey.objects.filter(team=world.team_a).count() == 1
    key.refresh_from_db()
    assert key.revoked_at is None


def test_manager_sees_create_form(client, world):
    html = (
        login(client, world.member_a)
        .get(reverse("accounts:team_detail", kwargs={"team_id": world.team_a.pk}))
        .content.decode()
    )
    assert "Create an API key" in html
    for value in ("inference", "read", "manage"):
        assert f'value="{value}"' in html


def test_key_pages_require_login(client, world):
    response = client.post(reverse("accounts:api_key_create", kwargs={"team_id": world.team_a.pk}))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    assert not APIKey.objects.exists()


def test_team_member_outside_team_sees_404_for_it(client, world):
    # A plain member of org A who is not in the team cannot open it.
    outsider_member = UserFactory()
    MembershipFactory(organization=world.org_a, user=outsider_member, role=Role.MEMBER)
    response = login(client, outsider_member).get(
        reverse("accounts:team_detail", kwargs={"team_id": world.team_a.pk})
    )
    assert response.status_code == 404


# --- Firebase -------------------------------------------------------------------------------


class FakeFirebaseBackend:
    """Stands in for accounts.firebase.FirebaseBackend: one token is valid, for one user."""

    valid_token = "valid-firebase-token"
    user_email = "member@acme.test"

    def authenticate(self, request, firebase_id_token=None, **kwargs):
        if firebase_id_token == self.valid_token:
            return User.objects.get(email=self.user_email)
        return None

    def get_user(self, user_id):
        return User.objects.filter(pk=user_id).first()


@pytest.fixture
def firebase_on(settings):
    settings.FIREBASE_PROJECT_ID = "demo-project"
    settings.FIREBASE_WEB_API_KEY = "web-api-key-123"
    settings.FIREBASE_AUTH_DOMAIN = "demo-project.firebaseapp.com"
    settings.AUTHENTICATION_BACKENDS = [
        "axes.backends.AxesStandaloneBackend",
        "django.contrib.auth.backends.ModelBackend",
        f"{__name__}.FakeFirebaseBackend",
    ]
    return settings


def test_login_page_has_google_button_only_when_firebase_is_on(client, settings):
    settings.FIREBASE_PROJECT_ID = ""
    assert "Sign in with Google" not in client.get(reverse("accounts:login")).content.decode()

    settings.FIREBASE_PROJECT_ID = "demo-project"
    settings.FIREBASE_WEB_API_KEY = "web-api-key-123"
    html = client.get(reverse("accounts:login")).content.decode()
    assert "Sign in with Google" in html
    assert 'data-project-id="demo-project"' in html
    assert 'data-api-key="web-api-key-123"' in html
    assert "js/firebase-signin.js" in html
    assert "<script>" not in html  # no inline scripts: a strict CSP is coming


def test_firebase_session_logs_in_with_valid_token(client, world, firebase_on):
    response = client.post(
        reverse("accounts:firebase_session"),
        {"id_token": FakeFirebaseBackend.valid_token},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json() == {"ok": True, "redirect": reverse("accounts:dashboard")}
    assert logged_in_user_id(client) == world.member_a.pk


def test_firebase_session_accepts_form_field_and_safe_next(client, world, firebase_on):
    response = client.post(
        reverse("accounts:firebase_session"),
        {"id_token": FakeFirebaseBackend.valid_token, "next": "https://evil.test/"},
    )
    assert response.json()["redirect"] == reverse("accounts:dashboard")
    team_url = reverse("accounts:team_detail", kwargs={"team_id": world.team_a.pk})
    response = client.post(
        reverse("accounts:firebase_session"),
        {"id_token": FakeFirebaseBackend.valid_token, "next": team_url},
    )
    assert response.json()["redirect"] == team_url


def test_firebase_session_rejects_bad_token(client, world, firebase_on):
    response = client.post(
        reverse("accounts:firebase_session"),
        {"id_token": "forged"},
        content_type="application/json",
    )
    assert response.status_code == 401
    assert response.json()["ok"] is False
    assert logged_in_user_id(client) is None

    missing = client.post(reverse("accounts:firebase_session"), {}, content_type="application/json")
    assert missing.status_code == 400


def test_firebase_session_is_csrf_protected(world, firebase_on):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(
        reverse("accounts:firebase_session"),
        {"id_token": FakeFirebaseBackend.valid_token},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert logged_in_user_id(strict) is None


def test_firebase_session_is_off_when_firebase_is_not_configured(client, world, settings):
    settings.FIREBASE_PROJECT_ID = ""
    response = client.post(
        reverse("accounts:firebase_session"),
        {"id_token": "anything"},
        content_type="application/json",
    )
    assert response.status_code == 404
    assert logged_in_user_id(client) is None
