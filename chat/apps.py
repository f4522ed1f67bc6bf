from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Browser chat"

    def ready(self) -> None:
        from chat import receivers  # noqa: F401 - connects the knowledge progress receiver
