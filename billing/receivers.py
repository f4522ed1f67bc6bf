"""Receivers: budget alerts are mailed to the team and its organization's admins as soon
as the alert row commits (they are also listed in the console under Budget alerts)."""

from __future__ import annotations

import logging
from typing import Any

from billing.models import BudgetAlert
from billing.notifications import budget_alert_email
from billing.signals import budget_threshold_crossed

logger = logging.getLogger(__name__)


def _mail_budget_alert(sender: Any, alert: BudgetAlert, **kwargs: Any) -> None:
    try:
        budget_alert_email(alert)
    except Exception:  # a mail outage must not fail the request that crossed the line
        logger.exception("could not mail budget alert %s", alert.pk)


def connect() -> None:
    budget_threshold_crossed.connect(_mail_budget_alert, dispatch_uid="billing-alert-mail")
