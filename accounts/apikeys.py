"""API key mechanics: minting, hashing, the Redis lookup cache and per-IP lockout.

Cache protocol (race-free without Lua):
- a lookup that misses fills the cache with ``SET NX``, so it can never overwrite a newer
  entry written by a revocation or rotation;
- revocation and rotation overwrite the entry unconditionally (a revoked key is cached
  as revoked), so a lookup that read the database just before the change cannot
  re-insert the stale state afterwards;
- unknown keys are never cached (no cache poisoning by guessing).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from dataclasses import asdict
from datetime import datetime

import redis
from asgiref.sync import async_to_sync
from django.conf import settings
from django.utils import timezone

from accounts.access import KeyContext
from accounts.models import APIKey
from core.asyncdb import run_detached
from core.errors import ServiceUnavailable, TooManyRequests, Unauthenticated
from core.redis import get_async_redis, get_redis

logger = logging.getLogger(__name__)

_CACHE_KEY = "apikey:v1:{}"
_FAIL_KEY = "apikey:fail:{}"
_LAST_USED_KEY = "apikey:used:{}"
_REVOKED = "revoked"
_PREFIX_LENGTH = 12  # "sk-" + 9 characters: enough to tell keys apart, useless to guess


def generate_secret() -> str:
    return f"{settings.API_KEY_PREFIX}{secrets.token_urlsafe(32)}"


def hash_secret(secret: str) -> str:
    # Keys are 256 random bits, so a fast hash is safe here (no dictionary to attack)
    # and keeps authentication cheap on the hot path.
    return hashlib.sha256(secret.encode()).hexdigest()


def display_prefix(secret: str) -> str:
    return secret[:_PREFIX_LENGTH]


def looks_like_api_key(token: str) -> bool:
    return token.startswith(settings.API_KEY_PREFIX)


def _context_of(key: APIKey) -> KeyContext:
    return KeyContext(
        key_id=key.pk,
        prefix=key.prefix,
        team_id=key.team_id,
        organization_id=key.organization_id,
        user_id=key.user_id,
        scopes=tuple(key.scopes),
        rpm_limit=key.rpm_limit,
        tpm_limit=key.tpm_limit,
    )


def _cache_value(key: APIKey) -> str:
    if key.revoked_at is not None:
        return _REVOKED
    payload = asdict(_context_of(key))
    payload["expires_at"] = key.expires_at.isoformat() if key.expires_at else None
    return json.dumps(payload)


def cache_overwrite(key: APIKey) -> None:
    """Publish a key's new state (revoked, new expiry) to every process at once."""
    get_redis().set(
        _CACHE_KEY.format(key.secret_hash), _cache_value(key), ex=settings.API_KEY_CACHE_SECONDS
    )


async def _refuse_if_locked_out(ip: str | None, failures: bytes | str | None) -> None:
    if ip is None or failures is None or int(failures) < settings.API_KEY_LOCKOUT_FAILURES:
        return
    ttl = await get_async_redis().ttl(_FAIL_KEY.format(ip))
    raise TooManyRequests(
        "Too many failed API key attempts from this address; try again later.",
        retry_after=max(int(ttl), 1),
        code="auth_locked_out",
    )


# INCR and start the window on the first failure, atomically (EXPIRE NX needs Redis 7;
# the embedded server is 6.2).
_COUNT_FAILURE_LUA = """
local failures = redis.call('INCR', KEYS[1])
if failures == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return failures
"""


async def _record_failure(ip: str | None) -> None:
    if ip is None:
        return
    await get_async_redis().eval(
        _COUNT_FAILURE_LUA, 1, _FAIL_KEY.format(ip), settings.API_KEY_LOCKOUT_SECONDS
    )


def _from_cache(cached: bytes | str) -> tuple[KeyContext, datetime | None] | None:
    if cached in (_REVOKED, _REVOKED.encode()):
        return None
    data = json.loads(cached)
    expires = data.pop("expires_at")
    data["scopes"] = tuple(data["scopes"])
    return KeyContext(**data), datetime.fromisoformat(expires) if expires else None


async def _lookup(secret_hash: str, *, ip: str | None) -> tuple[KeyContext, datetime | None] | None:
    """Lockout check, then cache, then the database. Returns None for unknown or revoked
    keys. The lockout counter and the cached key come back in one round trip (MGET)."""
    redis = get_async_redis()
    cache_key = _CACHE_KEY.format(secret_hash)
    if ip is None:
        cached, failures = await redis.get(cache_key), None
    else:
        cached, failures = await redis.mget([cache_key, _FAIL_KEY.format(ip)])
    await _refuse_if_locked_out(ip, failures)
    if cached is not None:
        return _from_cache(cached)
    key = await run_detached(APIKey.objects.filter(secret_hash=secret_hash).first)
    if key is None:
        return None  # unknown keys are not cached
    await redis.set(cache_key, _cache_value(key), ex=settings.API_KEY_CACHE_SECONDS, nx=True)
    if key.revoked_at is not None:
        return None
    return _context_of(key), key.expires_at


# Keys whose last_used_at this process has recently made sure of: key id -> until when
# (monotonic). Skips the shared Redis gate below on nearly every request.
_touched_until: dict[int, float] = {}


async def _touch_last_used(context: KeyContext) -> None:
    """Write last_used_at at most once per resolution window per key (and ask Redis, which
    all processes share, at most once per window per process)."""
    window = settings.API_KEY_LAST_USED_RESOLUTION_SECONDS
    now = time.monotonic()
    key_id = context.key_id
    if key_id is None or _touched_until.get(key_id, 0.0) > now:
        return
    _touched_until[key_id] = now + window
    if await get_async_redis().set(_LAST_USED_KEY.format(key_id), 1, ex=window, nx=True):
        await run_detached(APIKey.objects.filter(pk=key_id).update, last_used_at=timezone.now())


async def authenticate_secret_async(secret: str, *, ip: str | None) -> KeyContext:
    """Resolve a presented secret to its key, or raise Unauthenticated / TooManyRequests.
    With the key cached this costs one Redis round trip and no SQL; the key's state is
    read from Redis on every call, so a revocation anywhere holds on the next request."""
    try:
        found = await _lookup(hash_secret(secret), ip=ip)
        if found is None:
            await _record_failure(ip)
            raise Unauthenticated("Invalid API key.")
        context, expires_at = found
        if expires_at is not None and expires_at <= timezone.now():
            await _record_failure(ip)
            raise Unauthenticated("This API key has expired.", code="expired_api_key")
        await _touch_last_used(context)
    except (redis.RedisError, OSError) as exc:
        if settings.REDIS_FAILURE_POLICY == "allow":
            logger.error(
                "REDIS UNAVAILABLE during API key authentication (%s): checking the database only",
                exc,
            )
            return await _authenticate_from_database(secret)
        # The failure lockout and the cache live in Redis: refuse rather than run without them.
        logger.error("Redis unavailable during API key authentication: %s", exc)
        raise ServiceUnavailable("Authentication is temporarily unavailable.") from exc
    return context


async def _authenticate_from_database(secret: str) -> KeyContext:
    """REDIS_FAILURE_POLICY=allow only: no cache, no lockout; revocation still holds."""
    key = await run_detached(APIKey.objects.filter(secret_hash=hash_secret(secret)).first)
    if key is None or not key.is_active:
        raise Unauthenticated("Invalid API key.")
    return _context_of(key)


# The resource API (DRF) runs synchronously; it shares the one implementation.
authenticate_secret = async_to_sync(authenticate_secret_async)
