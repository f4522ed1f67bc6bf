"""Budget reservations in Redis: reserve the worst case before a call, settle after.

Per team and calendar month (UTC) one hash holds ``spent`` and ``reserved`` in
nanodollars. A Lua script admits a reservation only if spent + reserved + amount stays
within the limit, so no interleaving of processes can overspend. The hash mirrors the
ledger: when it is missing (Redis restarted, new month) it is rebuilt from the ledger's
sum before anything is admitted. Settlement only touches an existing hash, so a settle
racing a rebuild can never leave a partial counter behind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Sum

from billing.selectors import month_rows, month_start
from core.asyncdb import run_detached
from core.errors import PaymentRequired
from core.redis import get_async_redis

NANO = Decimal(1_000_000_000)
_MONTH_SECONDS = 35 * 24 * 3600  # keys outlive their month by a few days, then expire

# KEYS[1] budget hash. ARGV: limit (-1 = none), amount. Returns {status, spent, reserved}:
# status 1 admitted, 0 refused, -1 missing (rebuild first).
_RESERVE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0, 0} end
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved') or '0')
local limit = tonumber(ARGV[1])
local amount = tonumber(ARGV[2])
if limit >= 0 and spent + reserved + amount > limit then return {0, spent, reserved} end
redis.call('HINCRBY', KEYS[1], 'reserved', amount)
return {1, spent, reserved + amount}
"""

# KEYS[1] budget hash. ARGV: reserved amount to release, actual spend. Returns new spent
# (or -1 if the hash is gone; the ledger row already carries the spend).
_SETTLE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('HINCRBY', KEYS[1], 'reserved', -tonumber(ARGV[1]))
return redis.call('HINCRBY', KEYS[1], 'spent', tonumber(ARGV[2]))
"""


def to_nano(amount: Decimal) -> int:
    """Round up: reservations and spend may only ever be overstated, never understated."""
    return math.ceil(amount * NANO)


def _key(team_id: int, month: date) -> str:
    return f"budget:{{t{team_id}}}:{month:%Y-%m}"


@dataclass(frozen=True, slots=True)
class Reservation:
    team_id: int
    month: date
    amount_nano: int


def _ledger_spend_nano(team_id: int, month: date) -> int:
    total = month_rows(team_id=team_id, month=month).aggregate(total=Sum("cost_usd"))["total"]
    return to_nano(total or Decimal(0))


async def rebuild_budget_counter(team_id: int, month: date) -> None:
    """Recreate a missing counter from the ledger (in-flight reservations start at 0)."""
    spent = await run_detached(_ledger_spend_nano, team_id, month)
    redis = get_async_redis()
    key = _key(team_id, month)
    # HSETNX: if another process rebuilt it meanwhile, keep theirs.
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hsetnx(key, "spent", spent)
        pipe.hsetnx(key, "reserved", 0)
        pipe.expire(key, _MONTH_SECONDS)
        await pipe.execute()


async def budget_reserve(
    *, team_id: int, limit_usd: Decimal | None, amount: Decimal
) -> Reservation:
    """Reserve ``amount`` against the team's monthly budget, or raise PaymentRequired."""
    month = month_start()
    key = _key(team_id, month)
    amount_nano = to_nano(amount)
    limit_nano = -1 if limit_usd is None else to_nano(limit_usd)
    redis = get_async_redis()
    for _ in range(2):
        status, spent, reserved = await redis.eval(_RESERVE, 1, key, limit_nano, amount_nano)
        if status == 1:
            return Reservation(team_id, month, amount_nano)
        if status == 0:
            raise _budget_exhausted(
                limit_usd, spent_nano=int(spent), reserved_nano=int(reserved), amount=amount
            )
        await rebuild_budget_counter(team_id, month)
    raise PaymentRequired(
        "The budget counter could not be rebuilt; try again.", code="budget_unavailable"
    )


def _budget_exhausted(
    limit_usd: Decimal | None, *, spent_nano: int, reserved_nano: int, amount: Decimal
) -> PaymentRequired:
    spent, reserved = Decimal(spent_nano) / NANO, Decimal(reserved_nano) / NANO
    return PaymentRequired(
        f"This team's monthly budget of ${limit_usd} is used up: ${spent:.4f} spent and "
        f"${reserved:.4f} reserved by requests in flight, and this request could cost up to "
        f"${amount:.6f}. Ask an owner to raise the budget, or try a smaller max_tokens.",
        code="budget_exceeded",
        extra={"spent_nano": spent_nano},
    )


async def budget_settle(reservation: Reservation, *, actual: Decimal) -> int | None:
    """Release the reservation and add the actual cost. Returns the month's spend so far in
    nanodollars, or None if the counter was gone (it will be rebuilt from the ledger)."""
    spent = await get_async_redis().eval(
        _SETTLE,
        1,
        _key(reservation.team_id, reservation.month),
        reservation.amount_nano,
        to_nano(actual),
    )
    return None if int(spent) < 0 else int(spent)


async def budget_release(reservation: Reservation) -> None:
    """Give back a reservation for a request that never reached a provider."""
    await budget_settle(reservation, actual=Decimal(0))


async def month_spend_nano(team_id: int) -> tuple[int, int]:
    """(spent, reserved) of the current month, from the counter (rebuilt if missing)."""
    month = month_start()
    key = _key(team_id, month)
    redis = get_async_redis()
    if not await redis.exists(key):
        await rebuild_budget_counter(team_id, month)
    spent, reserved = await redis.hmget(key, ["spent", "reserved"])
    return int(spent or 0), int(reserved or 0)
