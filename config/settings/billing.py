"""Billing: plans, credits, Stripe (dj-stripe), rollups and alerts."""
