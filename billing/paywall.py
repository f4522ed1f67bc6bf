"""The paywall: what requires payment. The inference API needs no decorator (a request
that does not fit the credits, or an organization whose payment failed, is refused with
402 by the reservation in billing/budgets.py). Browser pages wrap their view in
``paywalled``: a signed-in person whose organization cannot use the page is sent to the
pricing page, which says why.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from accounts.models import Membership
from billing.credits import account_for, credit_state

V = TypeVar("V", bound=Callable[..., HttpResponse])

REASONS = {
    "payment_failed": "Your last payment failed. Update your card to continue.",
    "no_credits": "Your organization has used all its credits. Upgrade or buy a top-up.",
    "plan": "Your plan does not include this page. Choose a plan that does.",
}


def paywall_reason(*, organization_id: int, feature: str = "chat") -> str | None:
    """Why this organization may not use ``feature`` now, or None if it may."""
    account = account_for(organization_id)
    if account is None:
        return None  # not metered (BILLING_DEFAULT_PLAN is empty)
    state = credit_state(organization_id)
    if state.blocked:
        return "payment_failed"
    if feature == "chat" and not account.plan.includes_chat:
        return "plan"
    if state.available_micro <= 0:
        return "no_credits"
    return None


def default_organization_id(request: HttpRequest) -> int | None:
    """The organization a page acts for: ``?org=`` if the person belongs to it, else their
    personal workspace, else their first organization."""
    if not request.user.is_authenticated:
        return None
    memberships = Membership.objects.filter(user_id=int(request.user.pk)).order_by(
        "-organization__is_personal", "organization_id"
    )
    wanted = request.GET.get("org", "")
    if wanted.isdigit():
        chosen = memberships.filter(organization_id=int(wanted)).first()
        if chosen is not None:
            return chosen.organization_id
    first = memberships.first()
    return first.organization_id if first else None


def paywalled(
    view: V | None = None,
    *,
    feature: str = "chat",
    organization_of: Callable[[HttpRequest, dict[str, Any]], int | None] | None = None,
) -> Any:
    """Decorate a browser view. ``organization_of(request, view_kwargs)`` picks the
    organization (default: ``default_organization_id``)."""

    def decorate(inner: V) -> V:
        @functools.wraps(inner)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.user.is_authenticated:
                pick = organization_of or (lambda r, _kw: default_organization_id(r))
                organization_id = pick(request, kwargs)
                reason = (
                    paywall_reason(organization_id=organization_id, feature=feature)
                    if organization_id is not None
                    else None
                )
                if reason is not None:
                    query = urlencode({"reason": reason, "org": organization_id})
                    return HttpResponseRedirect(f"{reverse('billing:pricing')}?{query}")
            return inner(request, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate(view) if view is not None else decorate
