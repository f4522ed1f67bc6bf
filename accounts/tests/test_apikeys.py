from __future__ import annotations

import hashlib
from datetime import timedelta

import httpx
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import apikeys, services
from accounts.access import Actor
from accounts.models import APIKey, Scope
from core.errors import Forbidden, TooManyRequests, Unauthenticated, ValidationFailed
from core.models import AuditEvent
from core.redis import get_redis


@pytest.fixture
def owner_key(world):
    return services.api_key_create(actor=Actor(user=world.owner_a), team=world.team_a, name="ci")


def test_secret_is_shown_once_and_only_its_hash_is_stored(owner_key):
    key, secret = owner_key
    assert secret.startswith("sk-")
    assert len(secret) > 40
    stored = APIKey.objects.get(pk=key.pk)
    assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert stored.prefix == secret[:12]
    row_text = " ".join(str(getattr(stored, f.attname)) for f in APIKey._meta.concrete_fields)
    assert secret not in row_text
    assert secret[12:] not in row_text
    assert AuditEvent.objects.filter(action="api_key.create", target_id=str(key.pk)).exists()


def test_a_valid_key_authenticates_to_its_team(owner_key, world):
    key, secret = owner_key
    context = apikeys.authenticate_secret(secret, ip="10.0.0.1")
    assert (context.key_id, context.team_id, context.organization_id) == (
        key.pk,
        world.team_a.pk,
        world.org_a.pk,
    )
    assert set(context.scopes) == {Scope.INFERENCE, Scope.READ}


def test_cached_lookup_needs_no_database_query(owner_key):
    _, secret = owner_key
    with CaptureQueriesContext(connection) as first:
        apikeys.authenticate_secret(secret, ip=None)  # fills the cache and last_used_at
    assert len(first) >= 1  # the capture sees this path's queries at all
    with CaptureQueriesContext(connection) as queries:
        apikeys.authenticate_secret(secret, ip=None)
    assert len(queries) == 0


def test_unknown_keys_are_refused_and_not_cached(db):
    with pytest.raises(Unauthenticated):
        apikeys.authenticate_secret("sk-not-a-real-key", ip="10.0.0.2")
    assert not list(get_redis().scan_iter("apikey:v1:*"))


def test_revocation_takes_effect_on_the_next_call_despite_the_cache(owner_key, world):
    key, secret = owner_key
    apikeys.authenticate_secret(secret, ip=None)  # cached as valid
    services.api_key_revoke(actor=Actor(user=world.owner_a), api_key=key)
    with pytest.raises(Unauthenticated):
        apikeys.authenticate_secret(secret, ip=None)
    assert AuditEvent.objects.filter(action="api_key.revoke", target_id=str(key.pk)).exists()


def test_a_stale_cache_fill_cannot_resurrect_a_revoked_key(owner_key, world):
    """A lookup that read the row before the revocation and writes the cache after it."""
    key, secret = owner_key
    stale_row = APIKey.objects.get(pk=key.pk)  # read while still active
    services.api_key_revoke(actor=Actor(user=world.owner_a), api_key=key)
    # The stale reader now tries to fill the cache the way _lookup does (SET NX).
    get_redis().set(
        f"apikey:v1:{stale_row.secret_hash}", apikeys._cache_value(stale_row), nx=True, ex=900
    )
    with pytest.raises(Unauthenticated):
        apikeys.authenticate_secret(secret, ip=None)


def test_expired_keys_are_refused(world):
    key, secret = services.api_key_create(
        actor=Actor(user=world.owner_a),
        team=world.team_a,
        name="short",
        expires_at=timezone.now() + timedelta(seconds=60),
    )
    apikeys.authenticate_secret(secret, ip=None)
    APIKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    get_redis().delete(f"apikey:v1:{key.secret_hash}")
    with pytest.raises(Unauthenticated, match="expired"):
        apikeys.authenticate_secret(secret, ip=None)


def test_expiry_in_the_past_is_rejected_at_creation(world):
    with pytest.raises(ValidationFailed):
        services.api_key_create(
            actor=Actor(user=world.owner_a), team=world.team_a, name="x", expires_at=timezone.now()
        )


def test_rotation_keeps_the_old_key_for_the_grace_period(owner_key, world):
    old, old_secret = owner_key
    apikeys.authenticate_secret(old_secret, ip=None)
    new, new_secret = services.api_key_rotate(
        actor=Actor(user=world.owner_a), api_key=old, grace=timedelta(hours=1)
    )
    assert new.rotated_from_id == old.pk
    assert new.team_id == old.team_id
    assert new.scopes == old.scopes
    assert apikeys.authenticate_secret(new_secret, ip=None).key_id == new.pk
    assert apikeys.authenticate_secret(old_secret, ip=None).key_id == old.pk  # grace
    old.refresh_from_db()
    assert (
        timezone.now() + timedelta(minutes=59)
        < old.expires_at
        <= timezone.now() + timedelta(hours=1)
    )
    with pytest.raises(ValidationFailed, match="already rotated"):
        services.api_key_rotate(actor=Actor(user=world.owner_a), api_key=old)


def test_rotation_with_no_grace_ends_the_old_key_at_once(owner_key, world):
    old, old_secret = owner_key
    apikeys.authenticate_secret(old_secret, ip=None)  # cached with no expiry
    services.api_key_rotate(actor=Actor(user=world.owner_a), api_key=old, grace=timedelta(0))
    with pytest.raises(Unauthenticated):
        apikeys.authenticate_secret(old_secret, ip=None)


def test_repeated_failures_lock_out_the_ip_even_for_valid_keys(owner_key, settings):
    settings.API_KEY_LOCKOUT_FAILURES = 3
    _, secret = owner_key
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            apikeys.authenticate_secret("sk-guess", ip="203.0.113.9")
    with pytest.raises(TooManyRequests) as locked:
        apikeys.authenticate_secret(secret, ip="203.0.113.9")
    assert 0 < locked.value.retry_after <= settings.API_KEY_LOCKOUT_SECONDS
    # Other addresses are unaffected.
    assert apikeys.authenticate_secret(secret, ip="203.0.113.10")


def test_last_used_is_recorded_at_most_once_per_window(owner_key):
    key, secret = owner_key
    apikeys.authenticate_secret(secret, ip=None)
    key.refresh_from_db()
    first = key.last_used_at
    assert first is not None
    apikeys.authenticate_secret(secret, ip=None)
    key.refresh_from_db()
    assert key.last_used_at == first


def test_keys_cannot_mint_keys_with_more_scopes_than_they_have(world):
    key, _ = services.api_key_create(
        actor=Actor(user=world.owner_a), team=world.team_a, name="m", scopes=["manage", "read"]
    )
    context = apikeys._context_of(key)
    with pytest.raises(Forbidden):
        services.api_key_create(
            actor=Actor(user=None, key=context),
            team=world.team_a,
            name="wider",
            scopes=["inference"],
        )


def test_unknown_scopes_are_refused(world):
    with pytest.raises(ValidationFailed, match="Unknown scopes"):
        services.api_key_create(
            actor=Actor(user=world.owner_a), team=world.team_a, name="x", scopes=["root"]
        )


def test_revocation_stops_the_key_in_another_server_process_on_the_next_call(server_process, world):
    """Two real processes: a uvicorn server that has the key cached, and this one revoking."""
    key, secret = services.api_key_create(
        actor=Actor(user=world.owner_a), team=world.team_a, name="x-proc"
    )
    base = server_process()
    headers = {"Authorization": f"Bearer {secret}"}
    assert httpx.get(f"{base}/api/me", headers=headers).status_code == 200
    assert httpx.get(f"{base}/api/me", headers=headers).status_code == 200  # now from cache
    services.api_key_revoke(actor=Actor(user=world.owner_a), api_key=key)
    response = httpx.get(f"{base}/api/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
