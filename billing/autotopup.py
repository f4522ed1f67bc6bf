"""Auto top-up: buy the organization's chosen pack when its balance falls below its
threshold. Safety, all shared in Redis so any number of workers agree:
- ``auto_topup:lock:{org}``: one attempt at a time; a second concurrent attempt returns;
  after the lock the balance is read again from the ledger, so an attempt that waited
  behind a successful one finds nothing to do (two processes never charge twice);
- ``auto_topup:daily:{org}:{date}``: at most BILLING_AUTO_TOPUP_MAX_PER_DAY charges a day;
- ``auto_topup:pause:{org}``: after a refused charge, nothing for
  BILLING_AUTO_TOPUP_FAILURE_PAUSE_SECONDS (4 hours).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import stripe
from django.conf import settings

from billing.credits import credits_refresh
from billing.models import AutoTopUpAttempt, BillingAccount, GrantKind
from billing.services import credit_grant
from billing.stripe_flows import charge_off_session, saved_payment_method, stripe_configured
from core.audit import audit_record
from core.redis import get_redis

logger = logging.getLogger(__name__)

_LOCK_SECONDS = 120


def _keys(organization_id: int) -> tuple[str, str, str]:
    day = datetime.now(UTC).date().isoformat()
    return (
        f"auto_topup:lock:{organization_id}",
        f"auto_topup:daily:{organization_id}:{day}",
        f"auto_topup:pause:{organization_id}",
    )


def request_auto_topup(organization_id: int) -> None:
    """Called when a settlement leaves the balance under the threshold: queue one attempt
    (at most one queued per organization a minute; the attempt itself re-checks all)."""
    if not get_redis().set(f"auto_topup:queued:{organization_id}", 1, nx=True, ex=60):
        return
    try:
        from billing.tasks import auto_topup

        auto_topup.apply_async(args=(organization_id,), retry=False)
    except Exception:  # the broker is down: the periodic reconcile will try again
        logger.exception("could not queue the auto top-up of organization %s", organization_id)


def auto_topup_run(organization_id: int) -> str:
    """One attempt. Returns what happened (for logs and tests)."""
    redis = get_redis()
    lock_key, daily_key, pause_key = _keys(organization_id)
    lock = redis.lock(lock_key, timeout=_LOCK_SECONDS, blocking=False)
    if not lock.acquire():
        return "busy"
    try:
        return _attempt(organization_id, daily_key=daily_key, pause_key=pause_key)
    finally:
        lock.release()


def _attempt(organization_id: int, *, daily_key: str, pause_key: str) -> str:
    redis = get_redis()
    account = (
        BillingAccount.objects.select_related("auto_topup_pack")
        .filter(organization_id=organization_id)
        .first()
    )
    if account is None or not account.auto_topup_enabled or account.auto_topup_pack is None:
        return "disabled"
    if not stripe_configured() or not account.stripe_customer_id:
        return "no_payment_setup"
    if redis.exists(pause_key):
        return "paused"
    state = credits_refresh(organization_id)  # the ledger, not a counter that may lag
    if state.available_micro >= account.auto_topup_threshold_credits * 1_000_000:
        return "not_needed"
    count = int(redis.get(daily_key) or 0)
    if count >= settings.BILLING_AUTO_TOPUP_MAX_PER_DAY:
        return "daily_limit"
    redis.set(daily_key, count + 1, ex=2 * 24 * 3600)
    pack = account.auto_topup_pack
    try:
        method = saved_payment_method(customer=account.stripe_customer_id)
        if not method:
            raise stripe.InvalidRequestError("No saved card.", param="payment_method")  # type: ignore[no-untyped-call]
        intent = charge_off_session(
            organization_id=organization_id,
            customer=account.stripe_customer_id,
            payment_method=method,
            pack=pack,
            key=f"{daily_key}:{count + 1}",
        )
    except stripe.StripeError as exc:
        redis.set(pause_key, 1, ex=settings.BILLING_AUTO_TOPUP_FAILURE_PAUSE_SECONDS)
        AutoTopUpAttempt.objects.create(
            organization_id=organization_id, pack=pack, succeeded=False, error=str(exc)[:300]
        )
        audit_record(
            action="billing.auto_topup_failed",
            actor_label="system",
            organization_id=organization_id,
            metadata={"pack": pack.slug, "error": str(exc)[:200]},
        )
        return "failed"
    AutoTopUpAttempt.objects.create(
        organization_id=organization_id, pack=pack, succeeded=True, payment_intent=intent.id
    )
    if intent.status == "succeeded":
        # payment_intent.succeeded grants the same key later; whichever is first counts.
        credit_grant(
            organization_id=organization_id,
            kind=GrantKind.TOPUP,
            credits=pack.credits,
            idempotency_key=f"pi:{intent.id}",
            payment_intent=intent.id,
            note=f"{pack.name} auto top-up",
        )
    return "charged"
