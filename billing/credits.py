"""Organization credits: what the ledgers say an organization may still spend, and the
Redis counter that mirrors it for admission (billing/budgets.py reserves against both the
team budget and this counter in one Lua script).

Units: a credit is $0.001 of provider cost times BILLING_CREDIT_MARGIN; amounts are kept
in millionths of a credit ("micro") so one cheap request still costs a whole number.

Periods: each plan grant (CreditGrant kind=plan) opens a period that lasts until the next
plan grant. Plan credits left at the end of a period expire; top-ups never do. So the
top-up balance is every top-up (less refunds) minus what each past period used beyond its
plan credits. Free plans (and paid plans given without Stripe) get a grant per calendar
month, created here when first needed; paid plans get theirs from invoice.paid.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum

from billing.models import (
    UNPAID_STATUSES,
    BillingAccount,
    CreditGrant,
    GrantKind,
    Plan,
    StripeRefund,
    UsageRecord,
)
from billing.selectors import next_month_start

logger = logging.getLogger(__name__)

MICRO = 1_000_000  # units per credit
_KEY_TTL_SECONDS = 40 * 24 * 3600
_RECHECK_SECONDS = 300  # a period whose renewal has not arrived yet is re-read this often


def credits_micro_for_cost(cost_usd: Decimal) -> int:
    """Round up, like budgets: credits may only ever be overstated."""
    margin = Decimal(settings.BILLING_CREDIT_MARGIN)
    return math.ceil(cost_usd * margin * 1000 * MICRO)


def credit_key(organization_id: int) -> str:
    return f"credits:{{o{organization_id}}}"


@dataclass(frozen=True, slots=True)
class CreditState:
    metered: bool
    blocked: int  # 0 no, 1 payment failed (past due / unpaid)
    period_start: datetime | None
    period_end: datetime | None  # when to re-read the database at the latest
    allowance_micro: int  # plan credits of the current period
    topup_micro: int  # top-up credits available to the current period
    used_micro: int  # usage of the current period
    auto_below_micro: int  # auto top-up threshold, 0 = off
    plan_slug: str = ""

    @property
    def available_micro(self) -> int:
        return self.allowance_micro + self.topup_micro - self.used_micro

    @property
    def monthly_left_micro(self) -> int:
        return max(0, self.allowance_micro - self.used_micro)

    @property
    def topup_left_micro(self) -> int:
        return self.topup_micro - max(0, self.used_micro - self.allowance_micro)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


UNMETERED = CreditState(False, 0, None, None, 0, 0, 0, 0)


def account_for(organization_id: int) -> BillingAccount | None:
    """The organization's account; created on the default plan when it has none yet
    (BILLING_DEFAULT_PLAN; empty leaves the organization unmetered)."""
    account = (
        BillingAccount.objects.select_related("plan", "auto_topup_pack")
        .filter(organization_id=organization_id)
        .first()
    )
    if account is not None or not settings.BILLING_DEFAULT_PLAN:
        return account
    plan = Plan.objects.filter(slug=settings.BILLING_DEFAULT_PLAN).first()
    if plan is None:
        logger.error("BILLING_DEFAULT_PLAN %r is not a plan", settings.BILLING_DEFAULT_PLAN)
        return None
    try:
        with transaction.atomic():
            BillingAccount.objects.create(organization_id=organization_id, plan=plan)
    except IntegrityError:
        pass  # created concurrently
    return BillingAccount.objects.select_related("plan", "auto_topup_pack").get(
        organization_id=organization_id
    )


def _month_start(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def ensure_calendar_grant(account: BillingAccount, now: datetime) -> None:
    """Free plans (and paid plans given in the console, without a subscription) get their
    credits per calendar month, from the later of the month's start and the plan change."""
    if not (account.plan.is_free or not account.stripe_subscription_id):
        return
    # Whole seconds, like Stripe's times: a paid period starting in the same second as
    # the account must not sort before it.
    start = max(_month_start(now), account.plan_changed_at.replace(microsecond=0))
    try:
        with transaction.atomic():
            CreditGrant.objects.create(
                organization_id=account.organization_id,
                kind=GrantKind.PLAN,
                credits_micro=account.plan.monthly_credits * MICRO,
                # One per month and plan change (its exact time, as start is rounded).
                idempotency_key=f"calendar:{account.organization_id}:{start:%Y-%m}:"
                f"{max(_month_start(now), account.plan_changed_at).isoformat()}",
                period_start=start,
                plan=account.plan,
                note=f"{account.plan.name} credits for {start:%B %Y}",
            )
    except IntegrityError:
        pass  # this period's grant exists


def _refund_fractions(organization_id: int) -> dict[str, Decimal]:
    """Refunded share per payment intent and per invoice."""
    shares: dict[str, Decimal] = {}
    for refund in StripeRefund.objects.filter(organization_id=organization_id):
        share = Decimal(refund.amount_refunded) / Decimal(refund.amount) if refund.amount else 0
        for ref in (refund.payment_intent, refund.invoice_id):
            if ref:
                shares[ref] = min(Decimal(1), shares.get(ref, Decimal(0)) + Decimal(share))
    return shares


def _effective(grant: CreditGrant, shares: dict[str, Decimal]) -> int:
    share = max(shares.get(grant.payment_intent, 0), shares.get(grant.invoice_id, 0))
    return math.floor(grant.credits_micro * (1 - Decimal(share)))


def _usage_between(organization_id: int, start: datetime, end: datetime | None) -> int:
    rows = UsageRecord.objects.filter(organization_id=organization_id, created_at__gte=start)
    if end is not None:
        rows = rows.filter(created_at__lt=end)
    return int(rows.aggregate(total=Sum("credits_micro"))["total"] or 0)


def credit_state(organization_id: int, *, now: datetime | None = None) -> CreditState:
    """The organization's credits now, from the ledgers (the source of truth)."""
    now = now or datetime.now(UTC)
    account = account_for(organization_id)
    if account is None:
        return UNMETERED
    ensure_calendar_grant(account, now)
    shares = _refund_fractions(organization_id)
    grants = list(CreditGrant.objects.filter(organization_id=organization_id))
    plan_grants = sorted(
        (g for g in grants if g.kind == GrantKind.PLAN and g.period_start is not None),
        # Same second: the grant recorded later opens the later period.
        key=lambda g: (g.period_start, g.pk),
    )
    plan_grants = [g for g in plan_grants if g.period_start and g.period_start <= now]
    topup_total = sum(_effective(g, shares) for g in grants if g.kind != GrantKind.PLAN)
    topup_used_before = 0
    for grant, following in pairwise(plan_grants):
        assert grant.period_start is not None
        used = _usage_between(organization_id, grant.period_start, following.period_start)
        topup_used_before += max(0, used - _effective(grant, shares))
    current = plan_grants[-1] if plan_grants else None
    period_start = current.period_start if current else None
    allowance = _effective(current, shares) if current else 0
    used = _usage_between(organization_id, period_start, None) if period_start else 0
    return CreditState(
        metered=True,
        blocked=1 if account.status in UNPAID_STATUSES else 0,
        period_start=period_start,
        period_end=_period_end(account, now),
        allowance_micro=allowance,
        topup_micro=topup_total - topup_used_before,
        used_micro=used,
        auto_below_micro=_auto_below(account),
        plan_slug=account.plan.slug,
    )


def _period_end(account: BillingAccount, now: datetime) -> datetime:
    if account.plan.is_free or not account.stripe_subscription_id:
        end = next_month_start(now)
    else:
        end = account.current_period_end or now + timedelta(days=35)
    return max(end, now + timedelta(seconds=_RECHECK_SECONDS))


def _auto_below(account: BillingAccount) -> int:
    if account.auto_topup_enabled and account.auto_topup_pack_id:
        return account.auto_topup_threshold_credits * MICRO
    return 0


# KEYS[1] credit hash. ARGV: mode ('missing' installs only if absent or stale, 'force'
# always), now, ttl, then field/value pairs (period first). The in-flight ``reserved`` is
# always kept: requests admitted against the old state still hold it and will give it
# back. Within the same period ``used`` never goes down: a request settled in Redis while
# its ledger row was being read is counted, at worst twice, never zero times.
INSTALL = """
if ARGV[1] == 'missing' and redis.call('EXISTS', KEYS[1]) == 1 then
  local period_end = tonumber(redis.call('HGET', KEYS[1], 'period_end') or '0')
  if period_end > tonumber(ARGV[2]) then return 0 end
end
local old = redis.call('HMGET', KEYS[1], 'reserved', 'period', 'used')
redis.call('DEL', KEYS[1])
for i = 4, #ARGV, 2 do
  local value = ARGV[i + 1]
  if ARGV[i] == 'used' and old[2] == ARGV[5] then
    value = math.max(tonumber(value), tonumber(old[3] or '0'))
  end
  redis.call('HSET', KEYS[1], ARGV[i], value)
end
redis.call('HSET', KEYS[1], 'reserved', tonumber(old[1] or '0'))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""


def install_args(state: CreditState, *, mode: str, now: datetime) -> list[str | int]:
    period_end = state.period_end or now + timedelta(seconds=_RECHECK_SECONDS)
    return [
        mode,
        int(now.timestamp()),
        _KEY_TTL_SECONDS,
        "period", int(state.period_start.timestamp()) if state.period_start else 0,
        "metered", int(state.metered),
        "blocked", state.blocked,
        "period_end", int(period_end.timestamp()),
        "allowance", state.allowance_micro,
        "topup", state.topup_micro,
        "used", state.used_micro,
        "auto_below", state.auto_below_micro,
    ]  # fmt: skip


def credits_refresh(organization_id: int) -> CreditState:
    """Recompute from the ledgers and overwrite the counter (keeping in-flight
    reservations). Called after anything that changes credits commits, and by the
    periodic reconcile."""
    from core.redis import get_redis

    now = datetime.now(UTC)
    state = credit_state(organization_id, now=now)
    args = install_args(state, mode="force", now=now)
    get_redis().eval(INSTALL, 1, credit_key(organization_id), *args)
    return state


def credits_refresh_on_commit(organization_id: int) -> None:
    transaction.on_commit(lambda: credits_refresh(organization_id))
