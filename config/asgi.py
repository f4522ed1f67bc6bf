"""ASGI entry point (uvicorn). WebSocket routing joins here with the chat issue."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.django.base")

application = get_asgi_application()
