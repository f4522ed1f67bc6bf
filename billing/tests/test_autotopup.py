"""Auto top-up: concurrent attempts charge once; at most 3 a day; a pause after a refusal."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from billing import stripe_flows
from billing.autotopup import auto_topup_run
from billing.credits import MICRO, credit_state
from billing.models import AutoTopUpAttempt, BillingAccount, TopUpPack
from billing.tests.conftest import on_plan


def _enable(local_stripe, org, *, threshold: int = 1000) -> BillingAccount:
    account = on_plan(org)
    customer = stripe_flows.customer_for(organization=org)
    local_stripe.stripe._card(customer)  # a card saved by an earlier checkout
    account.refresh_from_db()
    account.auto_topup_enabled = True
    account.auto_topup_pack = TopUpPack.objects.get(slug="small")
    account.auto_topup_threshold_credits = threshold
    account.save()
    return account


@pytest.mark.django_db(transaction=True)
def test_concurrent_attempts_charge_once(local_stripe, world):
    _enable(local_stripe, world.org_a)  # 500 credits < 1000: a top-up is due
    charges_before = local_stripe.stripe.payment_intents_created
    outcomes: list[str] = []
    start = threading.Barrier(6)

    def attempt():
        start.wait()
        try:
            outcomes.append(auto_topup_run(world.org_a.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert local_stripe.stripe.payment_intents_created - charges_before == 1
    assert outcomes.count("charged") == 1, outcomes
    assert set(outcomes) <= {"charged", "busy", "not_needed"}
    assert credit_state(world.org_a.pk).available_micro == 5_500 * MICRO
    assert auto_topup_run(world.org_a.pk) == "not_needed"  # 5,500 is above the threshold


def test_at_most_three_a_day(local_stripe, world):
    _enable(local_stripe, world.org_a, threshold=10_000_000)  # always "below"
    outcomes = [auto_topup_run(world.org_a.pk) for _ in range(5)]
    assert outcomes == ["charged", "charged", "charged", "daily_limit", "daily_limit"]
    assert AutoTopUpAttempt.objects.filter(organization=world.org_a, succeeded=True).count() == 3


def test_a_refused_card_pauses_auto_top_up(local_stripe, world):
    account = _enable(local_stripe, world.org_a)
    local_stripe.stripe.decline_cards(account.stripe_customer_id)
    try:
        assert auto_topup_run(world.org_a.pk) == "failed"
        assert auto_topup_run(world.org_a.pk) == "paused"
    finally:
        local_stripe.stripe.decline_cards(account.stripe_customer_id, decline=False)
    assert credit_state(world.org_a.pk).available_micro == 500 * MICRO
    assert AutoTopUpAttempt.objects.get(organization=world.org_a).succeeded is False
