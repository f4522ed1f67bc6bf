"""The issue's acceptance, end to end over HTTP: a new organization on Free spends its 500
credits on a priced model through /v1 (a real server process), is refused with 402, buys
Pro through (local) Checkout, the webhooks arrive, and requests succeed again.

The model is the gateway's local provider with a price: billing's tests may not import
the gateway (import-linter), so its rows are made through the app registry."""

from __future__ import annotations

import time

import httpx
import pytest
from django.apps import apps

from accounts import services as account_services
from accounts.access import Actor
from billing import stripe_flows
from billing.credits import MICRO, credit_state
from billing.models import Plan, UsageRecord
from billing.tests.conftest import on_plan

pytestmark = pytest.mark.django_db(transaction=True)


def _ask(url: str, secret: str) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {secret}"},
        json={
            "model": "gpt-pricey",
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 8,
        },
        timeout=30,
    )


def test_free_credits_run_out_then_pro_unlocks_55000(live_server_url, local_stripe, world, client):
    provider = apps.get_model("gateway", "Provider").objects.create(name="local", kind="local")
    apps.get_model("gateway", "CatalogModel").objects.create(  # about 100 credits a request
        name="gpt-pricey",
        provider=provider,
        upstream_name="local-extractive",
        input_price_per_mtok=2500,
        output_price_per_mtok=5000,
        context_window=128_000,
        max_output_tokens=4096,
    )
    on_plan(world.org_a)
    _, secret = account_services.api_key_create(
        actor=Actor(user=world.owner_a), team=world.team_a, name="sdk", user=world.owner_a
    )

    def ask() -> httpx.Response:
        return _ask(live_server_url, secret)

    statuses = []
    for _ in range(20):
        response = ask()
        statuses.append(response.status_code)
        if response.status_code != 200:
            break
    assert statuses[-1] == 402
    assert set(statuses[:-1]) == {200}
    assert len(statuses) > 2
    error = response.json()["error"]
    assert error["code"] == "insufficient_credits"
    assert "/billing/" in error["message"]
    assert "top-up" in error["message"]
    spent = sum(
        UsageRecord.objects.filter(organization=world.org_a).values_list("credits_micro", flat=True)
    )
    assert 0 < spent <= 500 * MICRO  # never more than the plan's credits

    time.sleep(1.1)  # the customer is on the Checkout page: Stripe's times are in seconds
    url = stripe_flows.checkout_subscription(
        organization=world.org_a, plan=Plan.objects.get(slug="pro")
    )
    local_stripe.deliver_all(local_stripe.stripe.complete_checkout(local_stripe.session_id(url)))

    assert credit_state(world.org_a.pk).available_micro == 55_000 * MICRO
    client.force_login(world.owner_a)
    page = client.get(f"/billing/?org={world.org_a.pk}")
    assert "55,000" in page.content.decode()
    assert "Pro" in page.content.decode()
    assert ask().status_code == 200
    # The API answers first; its ledger row lands just after (gateway decision 0023).
    deadline = time.monotonic() + 10
    while credit_state(world.org_a.pk).available_micro == 55_000 * MICRO:
        assert time.monotonic() < deadline, "the request's ledger row never arrived"
        time.sleep(0.05)
    assert credit_state(world.org_a.pk).available_micro < 55_000 * MICRO
