"""Checkout -> webhook -> credits, through dj-stripe, against the local Stripe server.
Replays, reversed order, failed invoices, cancellations and refunds."""

from __future__ import annotations

import random

import pytest
from djstripe.models import Event, WebhookEventTrigger

from billing import stripe_flows
from billing.credits import MICRO, credit_state
from billing.models import AccountStatus, BillingAccount, CreditGrant, Plan, TopUpPack
from billing.tests.conftest import on_plan


def _credits(org) -> float:
    return credit_state(org.pk).available_micro / MICRO


def _subscribe(local_stripe, org, plan_slug: str = "pro") -> list[dict]:
    url = stripe_flows.checkout_subscription(
        organization=org, plan=Plan.objects.get(slug=plan_slug)
    )
    return local_stripe.stripe.complete_checkout(local_stripe.session_id(url))


def _balances(*orgs) -> list[tuple]:
    return [
        (
            credit_state(o.pk).as_dict(),
            BillingAccount.objects.filter(organization=o)
            .values_list("plan__slug", "status")
            .first(),
        )
        for o in orgs
    ]


def test_a_pro_checkout_and_its_webhooks_grant_55000_credits(local_stripe, world):
    on_plan(world.org_a)
    assert _credits(world.org_a) == 500
    events = _subscribe(local_stripe, world.org_a)
    assert [e["type"] for e in events] == [
        "customer.subscription.created",
        "invoice.paid",
        "invoice.payment_succeeded",
        "checkout.session.completed",
    ]
    local_stripe.deliver_all(events)

    account = BillingAccount.objects.get(organization=world.org_a)
    assert account.plan.slug == "pro"
    assert account.status == AccountStatus.ACTIVE
    assert account.stripe_subscription_id.startswith("sub_")
    assert _credits(world.org_a) == 55_000  # the new period: Pro's credits, Free's expired
    # dj-stripe recorded each verified delivery and each event once.
    assert Event.objects.count() == 4
    assert WebhookEventTrigger.objects.filter(valid=True, processed=True).count() == 4
    assert not BillingAccount.objects.filter(organization=world.org_b).exists()  # outsider


def test_replaying_every_event_twice_changes_nothing(local_stripe, world):
    on_plan(world.org_a)
    on_plan(world.org_b)
    events = _subscribe(local_stripe, world.org_a)
    local_stripe.deliver_all(events)
    subscription = events[0]["data"]["object"]["id"]
    local_stripe.deliver_all(local_stripe.stripe.fail_renewal(subscription))
    local_stripe.deliver_all(local_stripe.stripe.renew(subscription))
    url = stripe_flows.checkout_topup(
        organization=world.org_b, pack=TopUpPack.objects.get(slug="small")
    )
    paid = local_stripe.stripe.complete_checkout(local_stripe.session_id(url))
    local_stripe.deliver_all(paid)
    charge = paid[0]["data"]["object"]["latest_charge"]
    local_stripe.deliver_all(local_stripe.stripe.refund(charge, amount=100))  # a fifth
    before = _balances(world.org_a, world.org_b)
    grants, events_stored = CreditGrant.objects.count(), Event.objects.count()

    for _ in range(2):
        local_stripe.deliver_all(list(local_stripe.delivered))

    assert _balances(world.org_a, world.org_b) == before
    assert (CreditGrant.objects.count(), Event.objects.count()) == (grants, events_stored)
    assert before[1][0]["topup_micro"] == 4_000 * MICRO  # 5,000 less the refunded fifth
    assert WebhookEventTrigger.objects.count() == len(local_stripe.delivered)  # all recorded


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_events_in_any_order_give_the_same_state(local_stripe, world, seed):
    on_plan(world.org_a)
    events = _subscribe(local_stripe, world.org_a)
    subscription = events[0]["data"]["object"]["id"]
    events += local_stripe.stripe.renew(subscription)
    random.Random(seed).shuffle(events)
    local_stripe.deliver_all(events)
    account = BillingAccount.objects.get(organization=world.org_a)
    assert (account.plan.slug, account.status) == ("pro", AccountStatus.ACTIVE)
    assert account.stripe_subscription_id == subscription
    paid = CreditGrant.objects.filter(organization=world.org_a, invoice_id__startswith="in_")
    assert paid.count() == 2  # both periods, each once
    assert _credits(world.org_a) == 55_000  # the renewal's period has not started yet


def test_a_failed_renewal_puts_the_org_past_due_until_paid(local_stripe, world):
    on_plan(world.org_a)
    events = _subscribe(local_stripe, world.org_a)
    local_stripe.deliver_all(events)
    subscription = events[0]["data"]["object"]["id"]
    local_stripe.deliver_all(local_stripe.stripe.fail_renewal(subscription))
    assert BillingAccount.objects.get(organization=world.org_a).status == AccountStatus.PAST_DUE
    assert credit_state(world.org_a.pk).blocked == 1

    local_stripe.deliver_all(local_stripe.stripe.renew(subscription))
    assert BillingAccount.objects.get(organization=world.org_a).status == AccountStatus.ACTIVE


def test_cancelling_returns_the_org_to_free(local_stripe, world):
    on_plan(world.org_a)
    events = _subscribe(local_stripe, world.org_a)
    local_stripe.deliver_all(events)
    local_stripe.deliver_all(local_stripe.stripe.cancel(events[0]["data"]["object"]["id"]))
    account = BillingAccount.objects.get(organization=world.org_a)
    assert (account.plan.slug, account.stripe_subscription_id) == ("free", "")
    assert _credits(world.org_a) == 500


def test_a_refunded_top_up_takes_its_credits_back_even_when_it_arrives_first(local_stripe, world):
    on_plan(world.org_a)
    url = stripe_flows.checkout_topup(
        organization=world.org_a, pack=TopUpPack.objects.get(slug="medium")
    )
    events = local_stripe.stripe.complete_checkout(local_stripe.session_id(url))
    charge = local_stripe.stripe.objects[events[0]["data"]["object"]["latest_charge"]]
    refund = local_stripe.stripe.refund(charge["id"], amount=1250)  # half
    local_stripe.deliver_all(refund + events)  # the refund overtakes the payment
    assert _credits(world.org_a) == 500 + 27_500 / 2


def test_bad_signatures_are_refused_and_change_nothing(local_stripe, world):
    on_plan(world.org_a)
    events = _subscribe(local_stripe, world.org_a)
    assert local_stripe.deliver(events[1], secret="whsec_wrong").status_code == 400
    forged = local_stripe.deliver(events[1], **{"X-Djstripe-Webhook-Secret": "whsec_wrong"})
    assert forged.status_code == 400
    assert (
        local_stripe.client.post(
            "/billing/stripe/webhook", data=b"{}", content_type="application/json"
        ).status_code
        == 400
    )
    assert CreditGrant.objects.filter(kind="plan", invoice_id__startswith="in_").count() == 0
    assert BillingAccount.objects.get(organization=world.org_a).plan.slug == "free"


def test_the_stripe_customer_belongs_to_the_organization(local_stripe, world):
    on_plan(world.org_a)
    first = stripe_flows.customer_for(organization=world.org_a)
    assert stripe_flows.customer_for(organization=world.org_a) == first
    assert local_stripe.stripe.objects[first]["metadata"] == {
        "organization_id": str(world.org_a.pk)
    }
    assert stripe_flows.customer_for(organization=world.org_b) != first
