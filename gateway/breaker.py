"""Circuit breakers per provider deployment, shared by every process through Redis.

closed -> (N consecutive failures) -> open -> (cooldown passes) -> half-open: exactly one
request probes the provider; success closes the breaker, failure opens it again.
Time comes from the Redis server (TIME), so processes with skewed clocks agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from django.conf import settings

from core.redis import get_async_redis

# KEYS: failures, open_until, probe. ARGV: threshold, cooldown_ms.
_RECORD_FAILURE = """
local failures = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], 3600000)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local was_probe = redis.call('DEL', KEYS[3])
if failures >= tonumber(ARGV[1]) or was_probe == 1 then
  redis.call('SET', KEYS[2], now + tonumber(ARGV[2]), 'PX', tonumber(ARGV[2]) * 20)
  return 1
end
return 0
"""

# KEYS: open_until, probe. ARGV: probe_ttl_ms. Returns 1 closed, 2 half-open probe, 0 open.
_ALLOW = """
local open_until = redis.call('GET', KEYS[1])
if not open_until then return 1 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now < tonumber(open_until) then return 0 end
if redis.call('SET', KEYS[2], 1, 'NX', 'PX', tonumber(ARGV[1])) then return 2 end
return 0
"""


class BreakerState(Enum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


@dataclass(frozen=True)
class BreakerKeys:
    failures: str
    open_until: str
    probe: str


def _keys(provider_id: int) -> BreakerKeys:
    base = f"breaker:{{p{provider_id}}}"  # hash tag: all three keys on one cluster slot
    return BreakerKeys(f"{base}:failures", f"{base}:open_until", f"{base}:probe")


async def breaker_admit(provider_id: int, *, probe_ttl_seconds: float) -> BreakerState:
    """May a request go to this provider now? HALF_OPEN means: yes, as the single probe."""
    keys = _keys(provider_id)
    verdict = await get_async_redis().eval(
        _ALLOW, 2, keys.open_until, keys.probe, int(probe_ttl_seconds * 1000)
    )
    return {1: BreakerState.CLOSED, 2: BreakerState.HALF_OPEN}.get(int(verdict), BreakerState.OPEN)


async def breaker_record_failure(provider_id: int) -> bool:
    """Count a failure. Returns True if the breaker is (now) open."""
    keys = _keys(provider_id)
    opened = await get_async_redis().eval(
        _RECORD_FAILURE,
        3,
        keys.failures,
        keys.open_until,
        keys.probe,
        settings.BREAKER_FAILURE_THRESHOLD,
        int(settings.BREAKER_COOLDOWN_SECONDS * 1000),
    )
    return bool(opened)


async def breaker_record_success(provider_id: int) -> None:
    keys = _keys(provider_id)
    await get_async_redis().delete(keys.failures, keys.open_until, keys.probe)


async def breaker_state(provider_id: int) -> BreakerState:
    """For display and tests: the state without taking the half-open probe."""
    keys = _keys(provider_id)
    redis = get_async_redis()
    open_until = await redis.get(keys.open_until)
    if open_until is None:
        return BreakerState.CLOSED
    seconds, micros = await redis.time()
    now_ms = seconds * 1000 + micros // 1000
    return BreakerState.OPEN if now_ms < int(open_until) else BreakerState.HALF_OPEN
