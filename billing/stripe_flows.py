"""Calls to the Stripe API: customers, Checkout sessions, the customer portal and the
off-session charge of an auto top-up. Everything we create carries the organization id in
its metadata, and every session is bound to the organization's own customer."""

from __future__ import annotations

from decimal import Decimal

import stripe
from django.conf import settings
from django.db import transaction

from accounts.models import Organization
from billing.models import AccountStatus, BillingAccount, Plan, TopUpPack
from billing.services import billing_account_locked
from core.errors import ApplicationError, ValidationFailed


class StripeNotConfigured(ApplicationError):
    status_code = 503
    error_type = "service_unavailable"
    code = "stripe_not_configured"


def stripe_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def _key() -> str:
    if not stripe_configured():
        raise StripeNotConfigured("Payments are not configured on this installation.")
    return str(settings.STRIPE_SECRET_KEY)


def _cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


@transaction.atomic
def customer_for(*, organization: Organization) -> str:
    """The organization's Stripe customer, created once (the row lock and Stripe's
    idempotency key keep two concurrent checkouts from creating two)."""
    account = billing_account_locked(organization_id=organization.pk)
    if account.stripe_customer_id:
        return account.stripe_customer_id
    customer = stripe.Customer.create(
        api_key=_key(),
        name=organization.name,
        metadata={"organization_id": str(organization.pk)},
        idempotency_key=f"customer-organization-{organization.pk}",
    )
    account.stripe_customer_id = customer.id
    account.save(update_fields=["stripe_customer_id", "updated_at"])
    return str(customer.id)


def _metadata(organization: Organization, **extra: str) -> dict[str, str]:
    return {"organization_id": str(organization.pk), **extra}


def _base() -> str:
    return str(settings.BILLING_PUBLIC_URL)


def checkout_subscription(*, organization: Organization, plan: Plan) -> str:
    """A hosted Checkout page for the plan; returns its URL."""
    if plan.is_free or not plan.stripe_price_id:
        raise ValidationFailed(f"The {plan.name} plan is not sold through Stripe.", param="plan")
    account = BillingAccount.objects.filter(organization=organization).first()
    if account and account.stripe_subscription_id and account.status != AccountStatus.CANCELED:
        # One subscription per organization: changes go through the portal.
        return portal_url(organization=organization)
    metadata = _metadata(organization, plan=plan.slug)
    session = stripe.checkout.Session.create(
        api_key=_key(),
        mode="subscription",
        customer=customer_for(organization=organization),
        client_reference_id=str(organization.pk),
        line_items=[{"price": plan.stripe_price_id, "quantity": 1}],
        subscription_data={"metadata": metadata},
        metadata=metadata,
        success_url=f"{_base()}/billing/?org={organization.pk}&checkout=success",
        cancel_url=f"{_base()}/pricing/?org={organization.pk}",
    )
    return str(session.url)


def checkout_topup(*, organization: Organization, pack: TopUpPack) -> str:
    if not pack.stripe_price_id:
        raise ValidationFailed(f"The {pack.name} pack has no Stripe price.", param="pack")
    metadata = _metadata(organization, pack=pack.slug, kind="topup")
    session = stripe.checkout.Session.create(
        api_key=_key(),
        mode="payment",
        customer=customer_for(organization=organization),
        client_reference_id=str(organization.pk),
        line_items=[{"price": pack.stripe_price_id, "quantity": 1}],
        # The card is kept for auto top-ups (off-session charges).
        payment_intent_data={"metadata": metadata, "setup_future_usage": "off_session"},
        metadata=metadata,
        success_url=f"{_base()}/billing/?org={organization.pk}&checkout=success",
        cancel_url=f"{_base()}/billing/?org={organization.pk}",
    )
    return str(session.url)


def portal_url(*, organization: Organization) -> str:
    """The customer portal (cards, invoices, plan changes, cancellation)."""
    session = stripe.billing_portal.Session.create(
        api_key=_key(),
        customer=customer_for(organization=organization),
        return_url=f"{_base()}/billing/?org={organization.pk}",
    )
    return str(session.url)


def saved_payment_method(*, customer: str) -> str:
    methods = stripe.PaymentMethod.list(api_key=_key(), customer=customer, type="card", limit=1)
    return str(methods.data[0].id) if methods.data else ""


def charge_off_session(
    *, organization_id: int, customer: str, payment_method: str, pack: TopUpPack, key: str
) -> stripe.PaymentIntent:
    """Charge a saved card for a pack now (raises stripe.StripeError if refused)."""
    return stripe.PaymentIntent.create(
        api_key=_key(),
        amount=_cents(pack.price_usd),
        currency="usd",
        customer=customer,
        payment_method=payment_method,
        off_session=True,
        confirm=True,
        metadata={"organization_id": str(organization_id), "pack": pack.slug, "kind": "auto_topup"},
        idempotency_key=key,
    )
