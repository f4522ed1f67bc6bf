"""The Stripe webhook, through dj-stripe.

dj-stripe verifies the signature (``Stripe-Signature: t=..,v1=HMAC-SHA256``, with the
endpoint's secret and a 5-minute tolerance), records every delivery as a
WebhookEventTrigger and every event once as an Event (``Event.process`` returns the stored
one for a replayed id, without running any handler). For the event types we act on, our
receiver on dj-stripe's per-type signal (``WEBHOOK_SIGNALS``) replaces dj-stripe's own
handler, which would re-fetch each object from the Stripe API to mirror it; ours reads
the verified payload (billing.stripe_events). It runs inside dj-stripe's transaction:
the event row and its effects commit together or not at all (and Stripe delivers again).

The endpoint lives at one fixed path (``/billing/stripe/webhook``), its secret comes from
STRIPE_WEBHOOK_SECRET; dj-stripe's endpoint row is kept in step with the setting.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from djstripe.enums import (
    WebhookEndpointStatus,
    WebhookEndpointValidation,
)
from djstripe.models import (
    Event,
    WebhookEndpoint,
    WebhookEventTrigger,
)
from djstripe.signals import WEBHOOK_SIGNALS

from billing.stripe_events import HANDLERS, handle_stripe_event

logger = logging.getLogger(__name__)

ENDPOINT_ID = "we_genai_platform"  # our local row for dj-stripe, not an object at Stripe


def webhook_endpoint() -> WebhookEndpoint:
    """dj-stripe's endpoint row, carrying the secret from the settings."""
    endpoint = WebhookEndpoint.objects.filter(id=ENDPOINT_ID).first()
    secret = settings.STRIPE_WEBHOOK_SECRET
    if endpoint is None:
        endpoint = WebhookEndpoint(
            id=ENDPOINT_ID,
            livemode=settings.STRIPE_LIVE_MODE,
            enabled_events=["*"],
            status=WebhookEndpointStatus.enabled,
            url=f"{settings.BILLING_PUBLIC_URL}/billing/stripe/webhook",
            djstripe_validation_method=WebhookEndpointValidation.verify_signature,
            secret=secret,
        )
        endpoint.save()
    elif endpoint.secret != secret:
        endpoint.secret = secret
        endpoint.save(update_fields=["secret"])
    return endpoint


@csrf_exempt
@require_POST
@transaction.non_atomic_requests
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    if not settings.STRIPE_WEBHOOK_SECRET:
        return HttpResponse("Stripe webhooks are not configured.", status=503)
    if "stripe-signature" not in request.headers:
        return HttpResponseBadRequest("Missing Stripe-Signature.")
    # dj-stripe lets this header replace the secret when DEBUG is on (for the Stripe CLI);
    # here it would let anyone sign their own events, so it is refused outright.
    if "x-djstripe-webhook-secret" in request.headers:
        return HttpResponseBadRequest("Refused header.")
    trigger = WebhookEventTrigger.from_request(request, webhook_endpoint=webhook_endpoint())
    if not trigger.valid:
        return HttpResponseBadRequest("Invalid signature.")
    return HttpResponse(str(trigger.id))


def _on_event(sender: Any, event: Event, **kwargs: Any) -> None:
    handle_stripe_event(
        event.stripe_data or {"id": event.id, "type": event.type, "data": event.data}
    )


def connect_event_handlers() -> None:
    """For the events we act on, our handler replaces dj-stripe's (which re-fetches the
    object from the Stripe API to mirror it). Other events keep dj-stripe's handlers."""
    from djstripe import event_handlers

    theirs = [
        event_handlers.handle_other_event,
        event_handlers.handle_customer_subscription_event,
        event_handlers.handle_charge_event,
    ]
    for event_type in HANDLERS:
        signal = WEBHOOK_SIGNALS[event_type]
        for handler in theirs:
            signal.disconnect(receiver=handler, sender=Event)
        signal.connect(_on_event, sender=Event, dispatch_uid=f"billing-{event_type}")
