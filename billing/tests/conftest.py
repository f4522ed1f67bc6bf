"""Billing fixtures: plans and packs with Stripe prices, the local Stripe server with the
SDK pointed at it, and signed webhook delivery."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import import_module

import pytest
import stripe
from django.apps import apps
from django.test import Client

from billing.credits import credits_refresh
from billing.models import BillingAccount, Plan, TopUpPack
from billing.testing.stripe_server import StripeServer, sign

SECRET_KEY = "sk_test_localbillingserver0000000"
WEBHOOK_SECRET = "whsec_test_local_billing"
PRICES = {"guru": ("price_guru", 1000), "pro": ("price_pro", 5000)}
PACK_PRICES = {
    "small": ("price_small", 500),
    "medium": ("price_medium", 2500),
    "large": ("price_large", 10000),
}


@pytest.fixture
def plans(db) -> dict[str, Plan]:
    """The seeded plans and packs (transactional tests flush data-migration rows)."""
    import_module("billing.migrations.0003_seed_plans_and_packs").seed(apps, None)
    for slug, (price, _) in PRICES.items():
        Plan.objects.filter(slug=slug).update(stripe_price_id=price)
    for slug, (price, _) in PACK_PRICES.items():
        TopUpPack.objects.filter(slug=slug).update(stripe_price_id=price)
    return {p.slug: p for p in Plan.objects.all()}


def on_plan(organization, slug: str = "free") -> BillingAccount:
    """What sign-up gives a new organization in production (BILLING_DEFAULT_PLAN)."""
    account, _ = BillingAccount.objects.update_or_create(
        organization=organization, defaults={"plan": Plan.objects.get(slug=slug)}
    )
    credits_refresh(organization.pk)
    return account


@pytest.fixture(scope="session")
def _stripe_server() -> Iterator[StripeServer]:
    with StripeServer(SECRET_KEY) as server:
        for price, amount in [*PRICES.values(), *PACK_PRICES.values()]:
            server.stripe.set_price(price, unit_amount=amount)
        yield server


@dataclass
class LocalStripe:
    server: StripeServer
    client: Client
    delivered: list[dict]

    @property
    def stripe(self):
        return self.server.stripe

    def deliver(self, event: dict, *, secret: str = WEBHOOK_SECRET, **headers: str):
        payload = json.dumps(event).encode()
        response = self.client.post(
            "/billing/stripe/webhook",
            data=payload,
            content_type="application/json",
            headers={"Stripe-Signature": sign(payload, secret), **headers},
        )
        if response.status_code == 200:
            self.delivered.append(event)
        return response

    def deliver_all(self, events: list[dict]) -> None:
        for event in events:
            response = self.deliver(event)
            assert response.status_code == 200, response.content

    def session_id(self, url: str) -> str:
        return url.rsplit("/", 1)[-1]


@pytest.fixture
def local_stripe(_stripe_server, settings, plans) -> Iterator[LocalStripe]:
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.BILLING_PUBLIC_URL = "http://testserver"
    previous = stripe.api_base
    stripe.api_base = _stripe_server.url
    _stripe_server.stripe._clock = 0
    yield LocalStripe(_stripe_server, Client(), [])
    stripe.api_base = previous
