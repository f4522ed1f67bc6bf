"""Budget and credit reservations in Redis: reserve the worst case before a call, settle after.

Per team and calendar month (UTC) one hash holds ``spent`` and ``reserved`` in
nanodollars; per organization one hash mirrors its credits (billing/credits.py). One Lua
script admits a reservation only if it fits BOTH the team's budget and the organization's
credits, and takes it from both at once, so no interleaving of processes can overspend
either. The hashes mirror the ledgers: when one is missing (Redis restarted, new month,
new period) it is rebuilt from the ledger before anything is admitted. Settlement only
touches existing hashes, so a settle racing a rebuild can never leave a partial counter.

The two keys carry different hash tags, so the script needs a non-cluster Redis (which
Memorystore basic/standard tiers are); see decision 0020.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum

from accounts.models import Team
from billing.credits import (
    INSTALL,
    MICRO,
    credit_key,
    credit_state,
    credits_micro_for_cost,
    install_args,
)
from billing.selectors import month_rows, month_start
from core.asyncdb import run_detached
from core.errors import PaymentRequired
from core.redis import get_async_redis

logger = logging.getLogger(__name__)

NANO = Decimal(1_000_000_000)
_MONTH_SECONDS = 35 * 24 * 3600  # keys outlive their month by a few days, then expire

# KEYS[1] team budget hash, KEYS[2] organization credit hash.
# ARGV: budget limit (-1 = none), amount (nano), credits (micro), now (epoch seconds),
# whether the organization is known (0: its team is gone; budget only).
# Returns {status, a, b}: 1 admitted (a = 1 if credits were reserved); 0 budget refused
# (a spent, b reserved); -1 budget counter missing; -2 credit counter missing or its
# period over (rebuild first); -3 payment failed (a = reason); -4 credits refused
# (a = credits left after in-flight reservations).
_RESERVE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0, 0} end
local c = {'0'}
if ARGV[5] == '1' then
  if redis.call('EXISTS', KEYS[2]) == 0 then return {-2, 0, 0} end
  c = redis.call('HMGET', KEYS[2], 'metered', 'blocked', 'period_end', 'allowance',
                 'topup', 'used', 'reserved')
  if tonumber(c[3] or '0') <= tonumber(ARGV[4]) then return {-2, 0, 0} end
end
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved') or '0')
local limit = tonumber(ARGV[1])
local amount = tonumber(ARGV[2])
if limit >= 0 and spent + reserved + amount > limit then return {0, spent, reserved} end
local metered = c[1] == '1'
if metered then
  if tonumber(c[2] or '0') ~= 0 then return {-3, tonumber(c[2]), 0} end
  local left = tonumber(c[4]) + tonumber(c[5]) - tonumber(c[6]) - tonumber(c[7])
  if tonumber(ARGV[3]) > left then return {-4, left, 0} end
  redis.call('HINCRBY', KEYS[2], 'reserved', ARGV[3])
end
redis.call('HINCRBY', KEYS[1], 'reserved', amount)
return {1, metered and 1 or 0, 0}
"""

# KEYS[1] team budget hash, KEYS[2] credit hash. ARGV: team reserved, team actual,
# credits reserved, credits actual, whether credits were reserved (1/0). Returns
# {team spent or -1 if gone, 1 if the credit hash was settled, credits left, auto top-up
# threshold or 0}.
_SETTLE = """
local spent = -1
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'reserved', 0 - tonumber(ARGV[1]))
  spent = redis.call('HINCRBY', KEYS[1], 'spent', tonumber(ARGV[2]))
end
local present, left, below = 0, 0, 0
if ARGV[5] == '1' and redis.call('EXISTS', KEYS[2]) == 1 then
  present = 1
  redis.call('HINCRBY', KEYS[2], 'reserved', 0 - tonumber(ARGV[3]))
  redis.call('HINCRBY', KEYS[2], 'used', tonumber(ARGV[4]))
  local c = redis.call('HMGET', KEYS[2], 'allowance', 'topup', 'used', 'reserved', 'auto_below')
  left = tonumber(c[1]) + tonumber(c[2]) - tonumber(c[3]) - tonumber(c[4])
  below = tonumber(c[5] or '0')
end
return {spent, present, left, below}
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
    organization_id: int = 0
    credits_micro: int = 0
    metered: bool = False  # whether the credits were reserved too


# A team never moves to another organization, so the mapping can live in the process.
_team_organization: dict[int, int] = {}


def _organization_of(team_id: int) -> int | None:
    found = Team.objects.filter(pk=team_id).values_list("organization_id", flat=True).first()
    return None if found is None else int(found)


async def organization_of(team_id: int) -> int | None:
    """None if the team is gone (deleted while its request was in flight): its budget
    still applies, there is no organization left to charge."""
    organization_id = _team_organization.get(team_id)
    if organization_id is None:
        organization_id = await run_detached(_organization_of, team_id)
        if organization_id is None:
            logger.warning("no organization for team %s; reserving its budget only", team_id)
            return None
        _team_organization[team_id] = organization_id
    return organization_id


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


async def rebuild_credit_counter(organization_id: int) -> None:
    """Install the organization's credits from the ledgers, unless another process has
    just installed a current one."""
    now = datetime.now(UTC)
    state = await run_detached(credit_state, organization_id, now=now)
    args = install_args(state, mode="missing", now=now)
    await get_async_redis().eval(INSTALL, 1, credit_key(organization_id), *args)


async def budget_reserve(
    *, team_id: int, limit_usd: Decimal | None, amount: Decimal
) -> Reservation:
    """Reserve ``amount`` against the team's monthly budget and its organization's
    credits, or raise PaymentRequired saying what to do."""
    organization_id = await organization_of(team_id)
    month = month_start()
    key = _key(team_id, month)
    ckey = credit_key(organization_id) if organization_id is not None else "credits:{none}"
    amount_nano = to_nano(amount)
    credits = credits_micro_for_cost(amount)
    limit_nano = -1 if limit_usd is None else to_nano(limit_usd)
    redis = get_async_redis()
    for _ in range(3):
        status, a, b = await redis.eval(
            _RESERVE,
            2,
            key,
            ckey,
            limit_nano,
            amount_nano,
            credits,
            int(time.time()),
            int(organization_id is not None),
        )
        if status == 1:
            metered = int(a) == 1
            return Reservation(
                team_id,
                month,
                amount_nano,
                organization_id or 0,
                credits if metered else 0,
                metered,
            )
        if status == 0:
            raise _budget_exhausted(
                limit_usd, spent_nano=int(a), reserved_nano=int(b), amount=amount
            )
        if status == -3:
            raise _payment_failed()
        if status == -4:
            raise _credits_exhausted(left_micro=int(a), need_micro=credits)
        if status == -1:
            await rebuild_budget_counter(team_id, month)
        elif organization_id is not None:
            await rebuild_credit_counter(organization_id)
    raise PaymentRequired(
        "The budget counter could not be rebuilt; try again.", code="budget_unavailable"
    )


def billing_url() -> str:
    return f"{settings.BILLING_PUBLIC_URL}/billing/"


def _credits_exhausted(*, left_micro: int, need_micro: int) -> PaymentRequired:
    left = max(left_micro, 0) / MICRO
    return PaymentRequired(
        f"Your organization is out of credits: {left:,.2f} left, and this request could "
        f"need up to {need_micro / MICRO:,.2f}. Upgrade your plan or buy a top-up at "
        f"{billing_url()} (a smaller max_tokens may also fit).",
        code="insufficient_credits",
    )


def _payment_failed() -> PaymentRequired:
    return PaymentRequired(
        "Your organization's last payment failed, so requests are paused. Update the card "
        f"or pay the open invoice at {billing_url()}.",
        code="payment_failed",
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
    """Release the reservation and add the actual cost (to the budget and the credits).
    Returns the month's team spend so far in nanodollars, or None if the counter was gone
    (it will be rebuilt from the ledger)."""
    spent, present, left, below = await get_async_redis().eval(
        _SETTLE,
        2,
        _key(reservation.team_id, reservation.month),
        credit_key(reservation.organization_id),
        reservation.amount_nano,
        to_nano(actual),
        reservation.credits_micro,
        credits_micro_for_cost(actual) if reservation.metered else 0,
        int(reservation.metered),
    )
    if int(present) and int(below) > 0 and int(left) < int(below):
        from billing.autotopup import request_auto_topup

        await run_detached(request_auto_topup, reservation.organization_id)
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
