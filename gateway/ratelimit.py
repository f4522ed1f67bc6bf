"""Requests- and tokens-per-minute limits per API key and per team: token buckets in Redis.

One Lua script checks all four buckets (key RPM, key TPM, team RPM, team TPM) and takes
from them only if every one can pay, so a request is admitted or refused as a whole and
processes never race each other. A bucket holds up to one minute's allowance and refills
continuously. Tokens are charged at admission from an estimate (prompt + max_tokens) and
corrected at settlement with the real count (refunds never overfill a bucket).
Time comes from Redis (TIME), so every process agrees on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from redis.asyncio.client import Pipeline

from core.errors import TooManyRequests
from core.redis import get_async_redis

# KEYS: one hash per bucket. ARGV: per bucket (capacity, cost) pairs, in KEYS order.
# Returns {admitted, index of the first refusing bucket (0-based) or -1, wait_ms, remaining...}
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local levels = {}
local refusing, wait = -1, 0
for i, key in ipairs(KEYS) do
  local capacity = tonumber(ARGV[2 * i - 1])
  local cost = tonumber(ARGV[2 * i])
  local state = redis.call('HMGET', key, 'level', 'at')
  local level = tonumber(state[1]) or capacity
  local at = tonumber(state[2]) or now
  level = math.min(capacity, level + (now - at) * capacity / 60000)
  levels[i] = level
  if refusing < 0 and level < cost then
    refusing = i - 1
    wait = math.ceil((cost - level) * 60000 / capacity)
  end
end
local result = {refusing < 0 and 1 or 0, refusing, wait}
for i, key in ipairs(KEYS) do
  local capacity = tonumber(ARGV[2 * i - 1])
  local level = levels[i]
  if refusing < 0 then level = level - tonumber(ARGV[2 * i]) end
  redis.call('HSET', key, 'level', tostring(level), 'at', now)
  redis.call('PEXPIRE', key, 120000)
  result[#result + 1] = math.floor(level)
end
return result
"""

# KEYS: token buckets. ARGV: per bucket (capacity, delta); positive delta refunds.
_ADJUST = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i, key in ipairs(KEYS) do
  local capacity = tonumber(ARGV[2 * i - 1])
  local state = redis.call('HMGET', key, 'level', 'at')
  if state[1] then
    local elapsed = now - tonumber(state[2])
    local level = math.min(capacity, tonumber(state[1]) + elapsed * capacity / 60000)
    level = math.min(capacity, level + tonumber(ARGV[2 * i]))
    redis.call('HSET', key, 'level', tostring(level), 'at', now)
    redis.call('PEXPIRE', key, 120000)
  end
end
return 1
"""


@dataclass(frozen=True, slots=True)
class Limits:
    key_rpm: int  # 0 = unlimited
    key_tpm: int
    team_rpm: int
    team_tpm: int


@dataclass(frozen=True, slots=True)
class Admission:
    """What was charged, for settlement and for the x-ratelimit-* headers."""

    key_id: int
    team_id: int
    limits: Limits
    tokens_charged: int
    remaining_requests: int | None
    remaining_tokens: int | None

    def headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        rpm = _effective(self.limits.key_rpm, self.limits.team_rpm)
        tpm = _effective(self.limits.key_tpm, self.limits.team_tpm)
        if rpm and self.remaining_requests is not None:
            headers["x-ratelimit-limit-requests"] = str(rpm)
            headers["x-ratelimit-remaining-requests"] = str(self.remaining_requests)
            headers["x-ratelimit-reset-requests"] = _reset(rpm - self.remaining_requests, rpm)
        if tpm and self.remaining_tokens is not None:
            headers["x-ratelimit-limit-tokens"] = str(tpm)
            headers["x-ratelimit-remaining-tokens"] = str(self.remaining_tokens)
            headers["x-ratelimit-reset-tokens"] = _reset(tpm - self.remaining_tokens, tpm)
        return headers


def _effective(key_limit: int, team_limit: int) -> int:
    limits = [limit for limit in (key_limit, team_limit) if limit]
    return min(limits) if limits else 0


def _reset(missing: int, per_minute: int) -> str:
    """Time until the bucket is full again, in OpenAI's header style ("1.5s")."""
    return f"{max(missing, 0) * 60 / per_minute:.3g}s"


def _buckets(key_id: int, team_id: int, limits: Limits) -> list[tuple[str, int, str]]:
    """(redis key, capacity, kind) for each limited bucket; unlimited ones are skipped."""
    candidates = [
        (f"rl:{{t{team_id}}}:k{key_id}:rpm", limits.key_rpm, "requests"),
        (f"rl:{{t{team_id}}}:k{key_id}:tpm", limits.key_tpm, "tokens"),
        (f"rl:{{t{team_id}}}:rpm", limits.team_rpm, "requests"),
        (f"rl:{{t{team_id}}}:tpm", limits.team_tpm, "tokens"),
    ]
    return [c for c in candidates if c[1] > 0]


async def admit(*, key_id: int, team_id: int, limits: Limits, tokens: int) -> Admission:
    """Charge one request and ``tokens`` estimated tokens, or raise TooManyRequests."""
    buckets = _buckets(key_id, team_id, limits)
    if not buckets:
        return Admission(key_id, team_id, limits, tokens, None, None)
    args: list[int] = []
    for _, capacity, kind in buckets:
        args += [capacity, 1 if kind == "requests" else tokens]
    result = await get_async_redis().eval(_TAKE, len(buckets), *[b[0] for b in buckets], *args)
    admitted, refusing, wait_ms, *levels = (int(v) for v in result)
    if not admitted:
        _, capacity, kind = buckets[refusing]
        scope = "API key" if ":k" in buckets[refusing][0] else "team"
        if kind == "tokens" and tokens > capacity:
            raise TooManyRequests(
                f"This request needs about {tokens} tokens, more than the {scope}'s whole limit of "
                f"{capacity} tokens per minute; lower max_tokens or ask for a higher limit.",
                retry_after=60,
                code="tokens_over_limit",
            )
        raise TooManyRequests(
            f"Rate limit reached: the {scope} allows {capacity} {kind} per minute. "
            f"Retry after {math.ceil(wait_ms / 1000)} s.",
            retry_after=max(1, math.ceil(wait_ms / 1000)),
            code=f"rate_limit_{kind}",
        )
    request_levels = [lvl for lvl, b in zip(levels, buckets, strict=True) if b[2] == "requests"]
    token_levels = [lvl for lvl, b in zip(levels, buckets, strict=True) if b[2] == "tokens"]
    return Admission(
        key_id,
        team_id,
        limits,
        tokens,
        min(request_levels) if request_levels else None,
        min(token_levels) if token_levels else None,
    )


def _correction(admission: Admission, *, actual_tokens: int) -> list[str | int] | None:
    """EVAL arguments (numkeys, keys, args) that settle the token charge, or None."""
    delta = admission.tokens_charged - actual_tokens
    buckets = [
        b
        for b in _buckets(admission.key_id, admission.team_id, admission.limits)
        if b[2] == "tokens"
    ]
    if not buckets or delta == 0:
        return None
    args: list[str | int] = [len(buckets), *[b[0] for b in buckets]]
    for _, capacity, _ in buckets:
        args += [capacity, delta]
    return args


async def correct_tokens(admission: Admission, *, actual_tokens: int) -> None:
    """Settle the token charge: refund what the estimate overstated (or take the excess)."""
    args = _correction(admission, actual_tokens=actual_tokens)
    if args is not None:
        await get_async_redis().eval(_ADJUST, *args)  # type: ignore[arg-type]


def queue_token_correction(pipe: Pipeline, admission: Admission, *, actual_tokens: int) -> None:
    """The same, as one command of the caller's settlement pipeline."""
    args = _correction(admission, actual_tokens=actual_tokens)
    if args is not None:
        pipe.eval(_ADJUST, *args)  # type: ignore[arg-type]
