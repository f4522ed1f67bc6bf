"""Billing pages. Included at the site root, so paths here are absolute."""

from django.urls import path

from billing import views, webhooks

app_name = "billing"

urlpatterns = [
    path("pricing/", views.pricing, name="pricing"),
    path("billing/", views.billing_page, name="billing"),
    path("billing/checkout/", views.checkout, name="checkout"),
    path("billing/portal/", views.portal, name="portal"),
    path("billing/auto-topup/", views.auto_topup, name="auto_topup"),
    path("billing/stripe/webhook", webhooks.stripe_webhook, name="stripe_webhook"),
]
