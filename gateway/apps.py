from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "gateway"
    verbose_name = "Gateway (inference API, providers, routes): arrives with the gateway issue"
