"""ASGI entry point (uvicorn). WebSocket routing joins here with the chat issue."""

import os

from django.core.asgi import get_asgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.django.base")

application = get_asgi_application()

# Import every view module (and the provider SDKs they use) now, at start-up, rather than
# in the first request, which would otherwise take seconds.
get_resolver().url_patterns  # noqa: B018
