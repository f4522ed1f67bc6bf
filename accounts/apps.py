from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and tenancy"

    def ready(self) -> None:
        from accounts import (  # noqa: F401 - imported for their side effects
            receivers,  # connects the login audit receivers
            schema,  # registers the OpenAPI authentication extensions
        )
