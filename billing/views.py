"""Billing pages: pricing (public), the organization's billing page, and the POSTs that
send a person to Stripe (Checkout, the customer portal). Only organization owners and
admins may buy or change anything; members see the balance."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from accounts.access import Actor, access_organization, membership_role
from accounts.models import ORG_ADMIN_ROLES, Organization, User
from billing import selectors, services, stripe_flows
from billing.credits import MICRO
from billing.models import Plan, TopUpPack
from billing.paywall import REASONS, default_organization_id
from core.errors import ApplicationError, NotFound


def _organization(request: HttpRequest, raw: str | None = None) -> tuple[Organization, bool]:
    """The organization the page is about, if the person belongs to it (else 404), and
    whether they may manage its billing."""
    assert isinstance(request.user, User)
    wanted = raw if raw is not None else request.GET.get("org", "")
    organization_id = (
        int(wanted) if wanted and wanted.isdigit() else default_organization_id(request)
    )
    if organization_id is None:
        raise Http404("You are not a member of any organization.")
    try:
        organization = access_organization(Actor(user=request.user), organization_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    role = membership_role(user=request.user, organization_id=organization.pk)
    return organization, role in ORG_ADMIN_ROLES


@require_safe
def pricing(request: HttpRequest) -> HttpResponse:
    current = None
    if request.user.is_authenticated:
        try:
            organization, can_manage = _organization(request)
        except Http404:
            pass  # someone in no organization sees the plain pricing page
        else:
            current = selectors.billing_overview(organization=organization, can_manage=can_manage)
    reason = request.GET.get("reason", "")
    return render(
        request,
        "billing/pricing.html",
        {
            "plans": selectors.plans_on_sale(),
            "packs": selectors.packs_on_sale(),
            "current": current,
            "reason": REASONS.get(reason, ""),
            "stripe_configured": stripe_flows.stripe_configured(),
        },
    )


@require_safe
@login_required
def billing_page(request: HttpRequest) -> HttpResponse:
    organization, can_manage = _organization(request)
    overview = selectors.billing_overview(organization=organization, can_manage=can_manage)
    return render(
        request,
        "billing/billing.html",
        {
            "organization": organization,
            "overview": overview,
            "credits_left": overview.credits.available_micro / MICRO,
            "monthly_left": overview.credits.monthly_left_micro / MICRO,
            "topup_left": overview.credits.topup_left_micro / MICRO,
            "plans": selectors.plans_on_sale(),
            "packs": selectors.packs_on_sale(),
            "stripe_configured": stripe_flows.stripe_configured(),
            "checkout_success": request.GET.get("checkout") == "success",
        },
    )


def _manage_only(request: HttpRequest) -> Organization:
    organization, can_manage = _organization(request, request.POST.get("org", ""))
    if not can_manage:
        raise Http404("Only organization owners and admins manage billing.")
    return organization


def _back(organization: Organization) -> HttpResponseRedirect:
    return redirect(f"/billing/?org={organization.pk}")


@require_POST
@login_required
def checkout(request: HttpRequest) -> HttpResponse:
    organization = _manage_only(request)
    try:
        if request.POST.get("plan"):
            plan = Plan.objects.filter(slug=request.POST["plan"], is_active=True).first()
            if plan is None:
                raise Http404("No such plan.")
            url = stripe_flows.checkout_subscription(organization=organization, plan=plan)
        else:
            pack = TopUpPack.objects.filter(
                slug=request.POST.get("pack", ""), is_active=True
            ).first()
            if pack is None:
                raise Http404("No such top-up pack.")
            url = stripe_flows.checkout_topup(organization=organization, pack=pack)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return _back(organization)
    return HttpResponseRedirect(url)


@require_POST
@login_required
def portal(request: HttpRequest) -> HttpResponse:
    organization = _manage_only(request)
    try:
        return HttpResponseRedirect(stripe_flows.portal_url(organization=organization))
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return _back(organization)


@require_POST
@login_required
def auto_topup(request: HttpRequest) -> HttpResponse:
    organization = _manage_only(request)
    pack = TopUpPack.objects.filter(slug=request.POST.get("pack", "")).first()
    raw_threshold = request.POST.get("threshold", "1000")
    if not raw_threshold.isdigit() or int(raw_threshold) > 10_000_000:
        messages.error(request, "The threshold must be a whole number of credits.")
        return _back(organization)
    services.auto_topup_configure(
        organization=organization,
        enabled=request.POST.get("enabled") == "on",
        pack=pack,
        threshold_credits=int(raw_threshold),
    )
    messages.success(request, "Auto top-up settings saved.")
    return _back(organization)
