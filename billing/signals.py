"""Notification hooks. Later work (emails, console alerts) connects receivers here."""

from django.dispatch import Signal

# Sent once per team, month and threshold, after the alert row is committed.
# kwargs: alert (BudgetAlert)
budget_threshold_crossed = Signal()
