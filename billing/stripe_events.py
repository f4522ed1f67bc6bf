"""What each Stripe event means for an organization. Runs inside the transaction in which
dj-stripe stores the verified event (billing/webhooks.py), reading only the event's own
payload, so it needs no call back to Stripe.

In any order, any number of times:
- every grant has an idempotency key named after its Stripe object (an invoice, a payment
  intent), so whichever of its events arrives first grants and the others change nothing;
- account state remembers the time of the event that set it; an older event is ignored
  (``plan_event_at`` for the plan and subscription, ``payment_event_at`` for paid/past due);
- refunds are stored per charge and applied when balances are computed, so a refund that
  overtakes its top-up still takes effect.
Object shapes: the current API (2025+, ``parent.subscription_details``, per-item periods,
``pricing.price_details``) and the older one (``invoice.subscription``, ``line.price``)
are both read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from billing.credits import credits_refresh_on_commit
from billing.models import AccountStatus, BillingAccount, GrantKind, Plan, StripeRefund, TopUpPack
from billing.services import billing_account_locked, credit_grant, free_plan
from core.audit import audit_record

logger = logging.getLogger(__name__)

Obj = dict[str, Any]

_SUBSCRIPTION_STATUS = {
    "active": AccountStatus.ACTIVE,
    "trialing": AccountStatus.TRIALING,
    "past_due": AccountStatus.PAST_DUE,
    "unpaid": AccountStatus.UNPAID,
    "incomplete": AccountStatus.INCOMPLETE,
    "paused": AccountStatus.PAST_DUE,
}
_ENDED = {"canceled", "incomplete_expired"}


def _dt(timestamp: int | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, tz=UTC) if timestamp else None


def _id(value: Any) -> str:
    """Stripe fields hold an id or, when expanded, the object."""
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return str(value or "")


def _organization_id(obj: Obj, *, customer: str) -> int | None:
    """Our organization for a Stripe object: by its customer (created by us for that
    organization), else by the metadata we put on everything we create."""
    if customer:
        found = (
            BillingAccount.objects.filter(stripe_customer_id=customer)
            .values_list("organization_id", flat=True)
            .first()
        )
        if found:
            return int(found)
    for source in (obj.get("metadata") or {}, _invoice_subscription_metadata(obj)):
        raw = source.get("organization_id")
        if raw and str(raw).isdigit():
            return int(raw)
    reference = obj.get("client_reference_id")
    return int(reference) if reference and str(reference).isdigit() else None


def _invoice_subscription_metadata(invoice: Obj) -> Obj:
    details = (invoice.get("parent") or {}).get("subscription_details") or invoice.get(
        "subscription_details"
    )
    return dict((details or {}).get("metadata") or {})


def _invoice_subscription(invoice: Obj) -> str:
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    return _id(details.get("subscription") or invoice.get("subscription"))


def _line_price(line: Obj) -> str:
    details = (line.get("pricing") or {}).get("price_details") or {}
    return _id(details.get("price") or line.get("price"))


def _invoice_payment_intent(invoice: Obj) -> str:
    if invoice.get("payment_intent"):
        return _id(invoice["payment_intent"])
    for payment in (invoice.get("payments") or {}).get("data") or []:
        intent = _id((payment.get("payment") or {}).get("payment_intent"))
        if intent:
            return intent
    return ""


def _plan_for_price(price: str) -> Plan | None:
    return Plan.objects.filter(stripe_price_id=price).first() if price else None


def _set_plan(
    account: BillingAccount,
    *,
    at: datetime,
    plan: Plan,
    subscription: str,
    period_end: datetime | None,
) -> bool:
    if account.plan_event_at and at < account.plan_event_at:
        return False  # a newer event already set the plan
    if account.plan_id != plan.pk:
        account.plan_changed_at = at
    account.plan = plan
    account.stripe_subscription_id = subscription
    account.current_period_end = period_end
    account.plan_event_at = at
    return True


def _set_status(account: BillingAccount, *, at: datetime, status: AccountStatus) -> bool:
    if account.payment_event_at and at < account.payment_event_at:
        return False
    account.status = status
    account.payment_event_at = at
    return True


def _locked(organization_id: int) -> BillingAccount:
    return billing_account_locked(organization_id=organization_id)


def on_checkout_completed(obj: Obj, at: datetime) -> int | None:
    organization_id = _organization_id(obj, customer=_id(obj.get("customer")))
    if organization_id is None:
        return None
    account = _locked(organization_id)
    if not account.stripe_customer_id and obj.get("customer"):
        account.stripe_customer_id = _id(obj["customer"])
        account.save()
    metadata = obj.get("metadata") or {}
    if obj.get("mode") == "subscription":
        plan = Plan.objects.filter(slug=metadata.get("plan", "")).first()
        if plan is not None and _set_plan(
            account,
            at=at,
            plan=plan,
            subscription=_id(obj.get("subscription")),
            period_end=account.current_period_end,
        ):
            account.save()
    elif obj.get("mode") == "payment" and obj.get("payment_status") == "paid":
        _grant_topup(
            organization_id, metadata, intent=_id(obj.get("payment_intent")), ref=obj["id"]
        )
    return organization_id


def _grant_topup(organization_id: int, metadata: Obj, *, intent: str, ref: str) -> None:
    pack = TopUpPack.objects.filter(slug=metadata.get("pack", "")).first()
    if pack is None:
        logger.error("payment %s names no known top-up pack: %r", ref, metadata)
        return
    credit_grant(
        organization_id=organization_id,
        kind=GrantKind.TOPUP,
        credits=pack.credits,
        # The payment intent is common to checkout.session.completed and
        # payment_intent.succeeded: whichever comes first grants.
        idempotency_key=f"pi:{intent or ref}",
        payment_intent=intent,
        note=f"{pack.name} top-up",
    )


def on_payment_intent_succeeded(obj: Obj, at: datetime) -> int | None:
    metadata = obj.get("metadata") or {}
    if metadata.get("kind") not in {"topup", "auto_topup"}:
        return None  # subscription payments are granted through their invoice
    organization_id = _organization_id(obj, customer=_id(obj.get("customer")))
    if organization_id is None:
        return None
    _grant_topup(organization_id, metadata, intent=obj["id"], ref=obj["id"])
    return organization_id


def on_invoice_paid(obj: Obj, at: datetime) -> int | None:
    organization_id = _organization_id(obj, customer=_id(obj.get("customer")))
    if organization_id is None:
        return None
    subscription = _invoice_subscription(obj)
    lines = (obj.get("lines") or {}).get("data") or []
    plan_line = next((ln for ln in lines if _plan_for_price(_line_price(ln))), None)
    account = _locked(organization_id)
    if _set_status(account, at=at, status=AccountStatus.ACTIVE):
        account.save()
    if plan_line is None:
        return organization_id
    plan = _plan_for_price(_line_price(plan_line))
    assert plan is not None
    period = plan_line.get("period") or {}
    start = _dt(period.get("start")) or at
    end = _dt(period.get("end"))
    if _set_plan(account, at=at, plan=plan, subscription=subscription, period_end=end):
        account.save()
    credit_grant(
        organization_id=organization_id,
        kind=GrantKind.PLAN,
        credits=plan.monthly_credits,
        idempotency_key=f"invoice:{obj['id']}",
        period_start=start,
        plan=plan,
        invoice_id=obj["id"],
        payment_intent=_invoice_payment_intent(obj),
        note=f"{plan.name} credits from {start:%Y-%m-%d}",
    )
    return organization_id


def on_invoice_failed(obj: Obj, at: datetime) -> int | None:
    organization_id = _organization_id(obj, customer=_id(obj.get("customer")))
    if organization_id is None:
        return None
    account = _locked(organization_id)
    if _set_status(account, at=at, status=AccountStatus.PAST_DUE):
        account.save()
    return organization_id


def _subscription_period_end(obj: Obj) -> datetime | None:
    items = (obj.get("items") or {}).get("data") or []
    end = obj.get("current_period_end") or (items[0].get("current_period_end") if items else None)
    return _dt(end)


def _subscription_price(obj: Obj) -> str:
    items = (obj.get("items") or {}).get("data") or []
    return _id((items[0].get("price") if items else None) or obj.get("plan"))


def on_subscription_changed(obj: Obj, at: datetime) -> int | None:
    organization_id = _organization_id(obj, customer=_id(obj.get("customer")))
    if organization_id is None:
        return None
    if obj.get("status") in _ENDED:
        return on_subscription_deleted(obj, at)
    account = _locked(organization_id)
    plan = _plan_for_price(_subscription_price(obj))
    changed = False
    if plan is not None:
        changed |= _set_plan(
            account,
            at=at,
            plan=plan,
            subscription=obj["id"],
            period_end=_subscription_period_end(obj),
        )
    status = _SUBSCRIPTION_STATUS.get(str(obj.get("status")))
    if status is not None:
        changed |= _set_status(account, at=at, status=status)
    if changed:
        account.save()
    return organization_id


def on_subscription_deleted(obj: Obj, at: datetime) -> int | None:
    organization_id = _organization_id(obj, customer=_id(obj.get("customer")))
    if organization_id is None:
        return None
    account = _locked(organization_id)
    if account.stripe_subscription_id not in {"", obj["id"]}:
        return organization_id  # an old subscription ended; the current one stands
    if _set_plan(account, at=at, plan=free_plan(), subscription="", period_end=None):
        _set_status(account, at=at, status=AccountStatus.ACTIVE)
        account.save()
    return organization_id


def on_charge_refunded(obj: Obj, at: datetime) -> int | None:
    organization_id = _organization_id(obj, customer=_id(obj.get("customer")))
    if organization_id is None:
        return None
    refund, created = StripeRefund.objects.select_for_update().get_or_create(
        charge_id=obj["id"],
        defaults={
            "organization_id": organization_id,
            "payment_intent": _id(obj.get("payment_intent")),
            "invoice_id": _id(obj.get("invoice")),
            "amount": int(obj.get("amount") or 0),
            "amount_refunded": int(obj.get("amount_refunded") or 0),
        },
    )
    # amount_refunded only grows: keep the largest seen, whatever the order of delivery.
    if not created and int(obj.get("amount_refunded") or 0) > refund.amount_refunded:
        refund.amount_refunded = int(obj["amount_refunded"])
        refund.save()
    credits_refresh_on_commit(organization_id)
    return organization_id


HANDLERS: dict[str, Callable[[Obj, datetime], int | None]] = {
    "checkout.session.completed": on_checkout_completed,
    "checkout.session.async_payment_succeeded": on_checkout_completed,
    "payment_intent.succeeded": on_payment_intent_succeeded,
    "invoice.paid": on_invoice_paid,
    "invoice.payment_succeeded": on_invoice_paid,
    "invoice.payment_failed": on_invoice_failed,
    "customer.subscription.created": on_subscription_changed,
    "customer.subscription.updated": on_subscription_changed,
    "customer.subscription.deleted": on_subscription_deleted,
    "charge.refunded": on_charge_refunded,
}


def handle_stripe_event(event: Obj) -> int | None:
    """Apply one verified event. Returns the organization it concerned, if any."""
    handler = HANDLERS.get(str(event.get("type")))
    if handler is None:
        return None
    obj = (event.get("data") or {}).get("object") or {}
    # Clamped to now: a Stripe clock ahead of ours must not date changes in our future.
    now = datetime.now(UTC)
    at = min(_dt(event.get("created")) or now, now)
    organization_id = handler(obj, at)
    if organization_id is None:
        logger.warning(
            "Stripe event %s (%s) matches no organization", event.get("id"), event.get("type")
        )
        return None
    audit_record(
        action="billing.stripe_event",
        actor_label="stripe",
        organization_id=organization_id,
        target_type="stripe_event",
        target_id=str(event.get("id")),
        metadata={"type": event.get("type"), "object": obj.get("id")},
    )
    credits_refresh_on_commit(organization_id)
    return organization_id
