from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing: plans, credits, budgets, usage ledger"

    def ready(self) -> None:
        from billing import receivers, webhooks

        webhooks.connect_event_handlers()
        receivers.connect()
