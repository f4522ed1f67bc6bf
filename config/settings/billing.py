"""Billing: plans, credits, Stripe (dj-stripe), rollups and alerts.

With no STRIPE_SECRET_KEY the app still runs: plans, credits and budgets work, and the
billing pages say that payments are not configured. Tests point ``STRIPE_API_BASE`` at the
local Stripe server (billing/testing/stripe_server.py).
"""

from datetime import timedelta
from decimal import Decimal

from celery.schedules import crontab

from config.env import env

STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLIC_KEY = env.str("STRIPE_PUBLIC_KEY", default="")
STRIPE_LIVE_MODE = STRIPE_SECRET_KEY.startswith("sk_live_")
# The signing secret of the webhook endpoint (whsec_...), from the Stripe dashboard.
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
# Another Stripe API server (the local one in tests); dj-stripe sets stripe.api_base to it.
_api_base = env.str("STRIPE_API_BASE", default="")
if _api_base:
    STRIPE_API_HOST = _api_base
# Stripe price ids per plan and top-up pack are data (Plan / TopUpPack rows, admin-editable).

DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
DJSTRIPE_USE_NATIVE_JSONFIELD = True
DJSTRIPE_WEBHOOK_VALIDATION = "verify_signature"

# One credit is $0.001 of provider cost times this margin.
BILLING_CREDIT_MARGIN = Decimal(env.str("BILLING_CREDIT_MARGIN", default="1.5"))
# The plan of an organization that has no billing account yet (slug). Empty: such
# organizations are not metered by credits (enterprise tenants invoiced by contract).
BILLING_DEFAULT_PLAN = env.str("BILLING_DEFAULT_PLAN", default="free")
# Absolute address of the site, for Stripe return URLs and the "what to do" of a 402.
BILLING_PUBLIC_URL = env.str("BILLING_PUBLIC_URL", default="http://localhost:8000").rstrip("/")
BILLING_AUTO_TOPUP_MAX_PER_DAY = env.int("BILLING_AUTO_TOPUP_MAX_PER_DAY", default=3)
BILLING_AUTO_TOPUP_FAILURE_PAUSE_SECONDS = env.int(
    "BILLING_AUTO_TOPUP_FAILURE_PAUSE_SECONDS", default=4 * 3600
)
# Cost anomaly: a day above FACTOR x the trailing 7-day average (and above MIN_USD, so that
# cents do not page anyone).
BILLING_ANOMALY_FACTOR = Decimal(env.str("BILLING_ANOMALY_FACTOR", default="3"))
BILLING_ANOMALY_MIN_USD = Decimal(env.str("BILLING_ANOMALY_MIN_USD", default="1"))

# Merged into CELERY_BEAT_SCHEDULE by config/settings/celery.py.
BILLING_BEAT_SCHEDULE = {
    "billing-daily-rollups": {
        "task": "billing.tasks.daily_rollups",
        "schedule": crontab(hour=0, minute=15),
    },
    "billing-cost-anomalies": {
        "task": "billing.tasks.detect_cost_anomalies",
        "schedule": crontab(hour=0, minute=30),
    },
    "billing-weekly-reports": {
        "task": "billing.tasks.weekly_cost_reports",
        "schedule": crontab(hour=7, minute=0, day_of_week="mon"),
    },
    "billing-budget-alerts": {
        "task": "billing.tasks.check_budget_alerts",
        "schedule": timedelta(minutes=5),
    },
    "billing-reconcile-counters": {
        "task": "billing.tasks.reconcile_counters",
        "schedule": timedelta(minutes=env.int("BILLING_RECONCILE_MINUTES", default=15)),
    },
}
