"""Firebase sign-in end to end: real firebase-admin verification against local fakes of
Google's certificate endpoint and Identity Toolkit API; nothing leaves 127.0.0.1."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time

import google.auth as google_auth
import pytest
from django.contrib.auth import authenticate
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from google.auth.exceptions import DefaultCredentialsError

from accounts import firebase, services
from accounts.models import Organization, User
from accounts.tests.firebase_fakes import NO_KID, FakeGoogle, SigningKey, id_token_claims
from core.models import AuditEvent

PROJECT = "genai-test"
KID = "fake-key-1"
UID = "uid-ada"
EMAIL = "ada@example.test"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture(autouse=True)
def _only_loopback(monkeypatch):
    """Fail loudly if anything (say, a broken URL override) tries to reach Google."""
    real_getaddrinfo = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        if host not in LOOPBACK:
            raise OSError(f"test tried to reach {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


@pytest.fixture(scope="module")
def fake_server():
    fake = FakeGoogle()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def signing_key() -> SigningKey:
    return SigningKey.generate(KID)


@pytest.fixture(scope="module")
def impostor_key() -> SigningKey:
    """Another key that claims the same kid: its signatures must not verify."""
    return SigningKey.generate(KID)


@pytest.fixture
def google(fake_server, signing_key, settings, db):
    fake_server.reset()
    fake_server.certs[KID] = signing_key.cert_pem
    settings.FIREBASE_PROJECT_ID = PROJECT
    settings.FIREBASE_CERTS_URL = fake_server.certs_url
    settings.FIREBASE_IDENTITY_TOOLKIT_URL = fake_server.toolkit_url
    settings.FIREBASE_CHECK_REVOKED = True
    settings.FIREBASE_CLOCK_SKEW_SECONDS = 0
    firebase.reset_firebase_client()
    yield fake_server
    firebase.reset_firebase_client()


@pytest.fixture
def mint(google, signing_key):
    """Sign an ID token (and register its user with the fake Identity Toolkit)."""

    def _mint(
        *,
        uid=UID,
        email=EMAIL,
        email_verified=True,
        name="Ada Lovelace",
        issued_at=None,
        lifetime=3600,
        key=None,
        kid=None,
        register=True,
        disabled=False,
        valid_since=None,
        **overrides,
    ):
        claims = id_token_claims(
            project_id=PROJECT,
            uid=uid,
            email=email,
            email_verified=email_verified,
            name=name,
            issued_at=issued_at,
            lifetime=lifetime,
        )
        claims.update(overrides)
        if register:
            google.add_user(
                uid,
                email=email,
                email_verified=email_verified,
                disabled=disabled,
                valid_since=valid_since,
            )
        return (key or signing_key).sign(claims, kid=kid)

    return _mint


def get_me(api_client, token):
    return api_client.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {token}")


def assert_rejected(response, *, code="invalid_firebase_token", says=""):
    assert response.status_code == 401, response.content
    error = response.json()["error"]
    assert error["type"] == "authentication_error"
    assert error["code"] == code
    assert says in error["message"]


def _unsigned_token(claims, *, alg):
    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': alg, 'typ': 'JWT', 'kid': KID})}.{part(claims)}."


# --- signing in --------------------------------------------------------------------------


def test_valid_token_provisions_user_with_personal_org(api_client, google, mint):
    response = get_me(api_client, mint())

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["email"] == EMAIL
    assert body["full_name"] == "Ada Lovelace"
    assert body["authenticated_by"] == "firebase"
    user = User.objects.get(pk=body["id"])
    assert user.firebase_uid == UID
    assert not user.has_usable_password()
    orgs = list(user.organizations.all())
    assert len(orgs) == 1
    assert orgs[0].is_personal
    assert orgs[0].teams.count() == 1
    # The revocation check went to the fake, for this project and uid, with no OAuth token.
    assert len(google.lookups) == 1
    lookup = google.lookups[0]
    assert lookup["path"] == f"/identitytoolkit/v1/projects/{PROJECT}/accounts:lookup"
    assert lookup["body"] == {"localId": [UID]}
    assert lookup["authorization"] is None


def test_second_sign_in_reuses_the_user(api_client, google, mint):
    first = get_me(api_client, mint())
    second = get_me(api_client, mint())

    assert first.status_code == second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert User.objects.filter(email=EMAIL).count() == 1
    assert Organization.objects.filter(members__email=EMAIL).count() == 1
    assert len(google.lookups) == 2  # revocation is checked on every request


@pytest.mark.parametrize(
    ("case", "code", "says"),
    [
        ("wrong_audience", "invalid_firebase_token", '"aud"'),
        ("wrong_issuer", "invalid_firebase_token", '"iss"'),
        ("expired", "firebase_token_expired", "expired"),
        ("bad_signature", "invalid_firebase_token", "signature"),
        ("unknown_kid", "invalid_firebase_token", "key id unknown-kid"),
        ("missing_kid", "invalid_firebase_token", '"kid"'),
        ("alg_none", "invalid_firebase_token", "algorithm"),
        ("garbage", "invalid_firebase_token", "invalid"),
    ],
)
def test_bad_tokens_are_rejected(api_client, google, mint, impostor_key, case, code, says):
    now = int(time.time())
    token = {
        "wrong_audience": lambda: mint(aud="someone-elses-project"),
        "wrong_issuer": lambda: mint(iss="https://securetoken.google.com/someone-elses-project"),
        "expired": lambda: mint(issued_at=now - 7200, lifetime=3600),
        "bad_signature": lambda: mint(key=impostor_key),
        "unknown_kid": lambda: mint(kid="unknown-kid"),
        "missing_kid": lambda: mint(kid=NO_KID),
        "alg_none": lambda: _unsigned_token(
            id_token_claims(project_id=PROJECT, uid=UID, email=EMAIL), alg="none"
        ),
        "garbage": lambda: "not.a.jwt",
    }[case]()

    response = get_me(api_client, token)

    assert_rejected(response, code=code, says=says)
    assert not User.objects.filter(firebase_uid=UID).exists()
    assert google.lookups == []  # never got as far as the revocation check


def test_revoked_token_is_rejected_when_checking_revocation(api_client, google, mint):
    issued_at = int(time.time()) - 60
    token = mint(issued_at=issued_at, valid_since=issued_at + 30)  # revoked after issue

    assert_rejected(get_me(api_client, token), code="firebase_token_revoked", says="revoked")
    assert not User.objects.filter(firebase_uid=UID).exists()


def test_revoked_token_is_accepted_when_revocation_check_is_off(api_client, google, mint, settings):
    settings.FIREBASE_CHECK_REVOKED = False
    issued_at = int(time.time()) - 60
    token = mint(issued_at=issued_at, valid_since=issued_at + 30)

    response = get_me(api_client, token)

    assert response.status_code == 200, response.content
    assert google.lookups == []


def test_disabled_firebase_user_is_rejected(api_client, google, mint):
    assert_rejected(
        get_me(api_client, mint(disabled=True)), code="firebase_user_disabled", says="disabled"
    )


def test_user_unknown_to_firebase_is_rejected(api_client, google, mint):
    assert_rejected(
        get_me(api_client, mint(register=False)),
        code="firebase_user_not_found",
        says="no longer exists",
    )


def test_certificate_endpoint_down_is_a_503(api_client, google, mint):
    google.certs_status = 500

    response = get_me(api_client, mint())

    assert response.status_code == 503, response.content
    assert response.json()["error"]["code"] == "firebase_unavailable"
    assert google.cert_fetches >= 1


def test_missing_google_credentials_is_a_503(api_client, google, mint, settings, monkeypatch):
    # Without the test-only toolkit URL we are on the production path: application-default
    # credentials, looked up when the client is first built, not at import.
    settings.FIREBASE_IDENTITY_TOOLKIT_URL = ""
    lookups = []

    def no_credentials(*args, **kwargs):
        lookups.append(kwargs)
        raise DefaultCredentialsError("nothing configured")

    monkeypatch.setattr(google_auth, "default", no_credentials)
    token = mint()

    for _ in range(2):  # a failed build leaves nothing half-initialised behind
        response = get_me(api_client, token)
        assert response.status_code == 503, response.content
        assert response.json()["error"]["code"] == "firebase_unavailable"
    assert len(lookups) == 2


@pytest.mark.parametrize(("skew", "accepted"), [(0, False), (60, True)])
def test_clock_skew_setting_is_applied(api_client, google, mint, settings, skew, accepted):
    settings.FIREBASE_CLOCK_SKEW_SECONDS = skew
    token = mint(issued_at=int(time.time()) + 30)  # the issuer's clock runs 30 s ahead

    response = get_me(api_client, token)

    if accepted:
        assert response.status_code == 200, response.content
    else:
        assert_rejected(response, says="too early")


def test_cached_client_follows_the_project_setting(api_client, google, mint, settings):
    token = mint()
    assert get_me(api_client, token).status_code == 200

    settings.FIREBASE_PROJECT_ID = "another-project"

    assert_rejected(get_me(api_client, token), says='"aud"')


def test_emulator_mode_is_refused(google, mint, monkeypatch):
    # Emulator mode would accept this unsigned token as valid.
    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099")
    token = _unsigned_token(id_token_claims(project_id=PROJECT, uid=UID, email=EMAIL), alg="none")

    with pytest.raises(ImproperlyConfigured):
        firebase.verify_id_token(token)


def test_firebase_off_without_a_project(api_client, google, mint, settings):
    token = mint()
    settings.FIREBASE_PROJECT_ID = ""

    response = get_me(api_client, token)

    # FirebaseAuthentication steps aside, so this is DRF's plain "not authenticated".
    assert response.status_code in (401, 403)
    assert response.json()["error"]["code"] == "not_authenticated"
    assert google.cert_fetches == 0


# --- mapping tokens to accounts ----------------------------------------------------------


def test_unverified_email_does_not_take_over_an_existing_account(api_client, world, mint):
    token = mint(uid="uid-mallory", email=world.owner_a.email, email_verified=False)

    assert_rejected(get_me(api_client, token), code="firebase_email_unverified")
    world.owner_a.refresh_from_db()
    assert world.owner_a.firebase_uid is None
    assert not User.objects.filter(firebase_uid="uid-mallory").exists()


def test_verified_email_links_the_existing_account(api_client, world, mint):
    token = mint(uid="uid-owner", email=world.owner_a.email.upper(), email_verified=True)

    response = get_me(api_client, token)

    assert response.status_code == 200, response.content
    assert response.json()["id"] == world.owner_a.pk
    world.owner_a.refresh_from_db()
    assert world.owner_a.firebase_uid == "uid-owner"
    assert list(world.owner_a.organizations.all()) == [world.org_a]  # no new personal org
    assert AuditEvent.objects.filter(action="user.firebase_link", actor_id=world.owner_a.pk)


def test_account_linked_to_another_uid_is_not_relinked(api_client, world, mint):
    User.objects.filter(pk=world.owner_a.pk).update(firebase_uid="uid-original")
    token = mint(uid="uid-newcomer", email=world.owner_a.email, email_verified=True)

    assert_rejected(get_me(api_client, token), code="firebase_account_mismatch")
    world.owner_a.refresh_from_db()
    assert world.owner_a.firebase_uid == "uid-original"


def test_inactive_user_is_rejected(api_client, world, mint):
    User.objects.filter(pk=world.member_a.pk).update(firebase_uid=UID, is_active=False)

    assert_rejected(get_me(api_client, mint()), code="account_disabled")


def test_token_without_email_cannot_create_an_account(api_client, google, mint):
    assert_rejected(get_me(api_client, mint(email=None)), code="firebase_email_required")
    assert not User.objects.filter(firebase_uid=UID).exists()


def test_linked_uid_signs_in_without_email(api_client, world, mint):
    User.objects.filter(pk=world.member_a.pk).update(firebase_uid=UID)

    response = get_me(api_client, mint(email=None))

    assert response.status_code == 200, response.content
    assert response.json()["id"] == world.member_a.pk


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("rival_email", [EMAIL, "ada.elsewhere@example.test"])
def test_concurrent_first_sign_in_returns_the_winner(monkeypatch, rival_email):
    """Another request provisions the same uid and commits while ours is mid-way: ours hits
    the unique email (or firebase_uid) constraint and must return the winner's user."""
    real_signup = services.user_signup
    rival: dict[str, User] = {}

    def commit_rival():
        try:
            with transaction.atomic():
                user = real_signup(email=rival_email, password=None, full_name="Rival")
                user.firebase_uid = UID
                user.save(update_fields=["firebase_uid"])
            rival["user"] = user
        finally:
            connection.close()

    def signup_after_rival(**kwargs):
        thread = threading.Thread(target=commit_rival)
        thread.start()
        thread.join()
        return real_signup(**kwargs)

    monkeypatch.setattr(services, "user_signup", signup_after_rival)
    identity = firebase.FirebaseIdentity(uid=UID, email=EMAIL, email_verified=True, name="Ada")

    user = firebase.user_from_firebase_identity(identity)

    assert user.pk == rival["user"].pk
    assert User.objects.count() == 1
    assert Organization.objects.count() == 1  # our half-made personal org was rolled back


# --- the Django auth backend -------------------------------------------------------------


def test_backend_signs_in_through_django_authenticate(google, mint, rf):
    request = rf.post("/accounts/login/")

    user = authenticate(request, firebase_id_token=mint())

    assert user is not None
    assert user.firebase_uid == UID
    assert getattr(user, "backend", None) == "accounts.firebase.FirebaseBackend"


def test_backend_returns_none_for_a_bad_token(google, mint, impostor_key, rf):
    request = rf.post("/accounts/login/")

    assert authenticate(request, firebase_id_token=mint(key=impostor_key)) is None
    assert firebase.FirebaseBackend().authenticate(request, firebase_id_token=None) is None
    assert not User.objects.filter(firebase_uid=UID).exists()
