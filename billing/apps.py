from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = (
        "Billing (plans, credits, budgets, usage ledger): arrives with the billing issues"
    )
