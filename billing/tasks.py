"""Celery tasks (scheduled in BILLING_BEAT_SCHEDULE, config/settings/billing.py). Each is
safe to run twice: rollups replace a day whole, alerts and anomalies are unique rows,
weekly reports are marked sent in Redis, reconcile recomputes from the ledgers."""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from celery import shared_task
from django.db.models import Sum

from billing import rollups
from billing.autotopup import auto_topup_run, request_auto_topup
from billing.budgets import to_nano
from billing.credits import credits_refresh
from billing.models import BillingAccount
from billing.selectors import month_rows, month_start
from core.redis import get_redis

logger = logging.getLogger(__name__)


def _yesterday() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


@shared_task
def daily_rollups(day: str | None = None) -> int:
    """Yesterday's rollups (and today's so far, so dashboards are never a day behind)."""
    target = date.fromisoformat(day) if day else _yesterday()
    count = rollups.rollup_day(target)
    if day is None:
        count += rollups.rollup_day(target + timedelta(days=1))
    return count


@shared_task
def detect_cost_anomalies(day: str | None = None) -> int:
    target = date.fromisoformat(day) if day else _yesterday()
    rollups.rollup_day(target)
    return len(rollups.detect_anomalies(target))


@shared_task
def weekly_cost_reports() -> int:
    today = datetime.now(UTC).date()
    for offset in range(1, 8):  # the week's rollups may not all exist yet
        rollups.rollup_day(today - timedelta(days=offset))
    return rollups.weekly_reports(week_end=today)


@shared_task
def check_budget_alerts() -> int:
    return rollups.check_budgets()


@shared_task
def auto_topup(organization_id: int) -> str:
    outcome = auto_topup_run(organization_id)
    logger.info("auto top-up of organization %s: %s", organization_id, outcome)
    return outcome


_BUDGET_KEY = re.compile(r"^budget:\{t(\d+)\}:(\d{4})-(\d{2})$")
_CREDIT_KEY = re.compile(r"^credits:\{o(\d+)\}$")

# Raise ``spent`` to the ledger's figure, never lower it: a request settled in Redis
# while the ledger was being summed is then counted, at worst twice, never zero times.
_RAISE_SPENT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
if tonumber(ARGV[1]) > spent then redis.call('HSET', KEYS[1], 'spent', ARGV[1]) end
return spent
"""


@shared_task
def reconcile_counters() -> dict[str, int]:
    """Bring the Redis mirrors back to the ledgers: a settlement lost while Redis was
    unreachable is in the ledger but not in the counter. Also retries auto top-ups that
    a broker outage kept from being queued."""
    redis = get_redis()
    month = month_start()
    teams = organizations = 0
    for raw in redis.scan_iter(match="budget:{t*}:*", count=500):
        match = _BUDGET_KEY.match(raw.decode())
        if not match or date(int(match[2]), int(match[3]), 1) != month:
            continue
        team_id = int(match[1])
        total = month_rows(team_id=team_id, month=month).aggregate(total=Sum("cost_usd"))["total"]
        redis.eval(_RAISE_SPENT, 1, raw, to_nano(total or Decimal(0)))
        teams += 1
    for raw in redis.scan_iter(match="credits:{o*}", count=500):
        match = _CREDIT_KEY.match(raw.decode())
        if match:
            credits_refresh(int(match[1]))
            organizations += 1
    for account in BillingAccount.objects.filter(auto_topup_enabled=True):
        state = credits_refresh(account.organization_id)
        if state.available_micro < account.auto_topup_threshold_credits * 1_000_000:
            request_auto_topup(account.organization_id)
    return {"teams": teams, "organizations": organizations}
