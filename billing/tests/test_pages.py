"""Pricing and billing pages, checkout and portal redirects, the paywall, the console."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from billing.credits import credits_refresh
from billing.models import AccountStatus, BillingAccount, TeamBudget, UsageRecord, UsageStatus
from billing.paywall import paywalled
from billing.tests.conftest import on_plan


def test_pricing_lists_the_seeded_plans_and_says_stripe_is_not_configured(client, plans, settings):
    settings.STRIPE_SECRET_KEY = ""
    page = client.get("/pricing/").content.decode()
    for text in ("Free", "Guru", "Pro", "55,000", "125,000", "Stripe is not configured"):
        assert text in page


def test_billing_page_shows_the_balance_to_members_and_hides_other_orgs(client, plans, world):
    on_plan(world.org_a)
    client.force_login(world.member_a)
    page = client.get(f"/billing/?org={world.org_a.pk}").content.decode()
    assert "500" in page
    assert "Free" in page
    assert "Buy a top-up" not in page  # members look; owners and admins buy
    assert client.get(f"/billing/?org={world.org_b.pk}").status_code == 404  # not theirs


def test_checkout_and_portal_redirect_to_stripe_for_owners_only(client, local_stripe, world):
    on_plan(world.org_a)
    client.force_login(world.owner_a)
    response = client.post("/billing/checkout/", {"org": world.org_a.pk, "plan": "pro"})
    assert response.status_code == 302
    assert response["Location"].startswith(f"{local_stripe.server.url}/checkout/cs_test_")
    response = client.post("/billing/checkout/", {"org": world.org_a.pk, "pack": "large"})
    assert response["Location"].startswith(f"{local_stripe.server.url}/checkout/cs_test_")
    response = client.post("/billing/portal/", {"org": world.org_a.pk})
    assert response["Location"].startswith(f"{local_stripe.server.url}/portal/cus_")
    client.force_login(world.member_a)
    assert (
        client.post("/billing/checkout/", {"org": world.org_a.pk, "plan": "pro"}).status_code == 404
    )
    client.force_login(world.outsider_b)
    assert client.post("/billing/portal/", {"org": world.org_a.pk}).status_code == 404


def _view(request):
    return HttpResponse("chat")


@pytest.mark.parametrize("state", ["past_due", "no_credits"])
def test_the_paywall_sends_an_unpaid_browser_user_to_pricing(plans, world, state):
    account = on_plan(world.org_a)
    if state == "past_due":
        BillingAccount.objects.filter(pk=account.pk).update(status=AccountStatus.PAST_DUE)
    else:
        UsageRecord.objects.create(
            request_id="spent-all", organization=world.org_a, team=world.team_a,
            model_requested="m", cost_usd=Decimal(1), credits_micro=500_000_000,
            status=UsageStatus.OK,
        )  # fmt: skip
    credits_refresh(world.org_a.pk)
    request = RequestFactory().get("/chat/")
    request.user = world.member_a
    response = paywalled(_view)(request)
    assert response.status_code == 302
    assert response["Location"].startswith("/pricing/?reason=")
    request.user = world.outsider_b  # another organization, not metered: passes
    assert paywalled(_view)(request).status_code == 200


def test_the_console_charts_spend_against_budget(client, plans, world, django_user_model):
    TeamBudget.objects.create(team=world.team_a, monthly_limit_usd=Decimal("10"))
    UsageRecord.objects.create(
        request_id="r1", organization=world.org_a, team=world.team_a, model_requested="m",
        cost_usd=Decimal("8.5"), status=UsageStatus.OK,
    )  # fmt: skip
    staff = django_user_model.objects.create_superuser(email="staff@platform.test", password="x")
    client.force_login(staff)
    page = client.get("/admin/billing/teambudget/").content.decode()
    assert "<svg" in page
    assert "Acme / Acme Research" in page
    assert "$8.50 / $10.00" in page
    assert client.get("/admin/billing/plan/").status_code == 200
    assert client.get("/admin/billing/billingaccount/").status_code == 200
