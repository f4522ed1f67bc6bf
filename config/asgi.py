"""ASGI entry point (uvicorn): HTTP for the browser app and the API, WebSockets for chat.

Two Django handlers share the process. The browser app gets the full middleware stack
(sessions, CSRF, auth, messages, lockouts, static files). The inference API (/v1) is called
with API keys, not cookies, and is the hot path, so it gets a stack of its own with only
what it uses: every Django middleware written in the old style costs two thread hops per
request under ASGI, which dominated the gateway's own time.
"""

import os

from django.core.asgi import get_asgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.django.base")

browser_application = get_asgi_application()


# /v1's handler: its own middleware stack, no thread hops per request (core/asgi_api.py).
from core.asgi_api import InferenceAPIHandler  # noqa: E402

inference_application = InferenceAPIHandler()

# WebSockets (the browser chat): the session cookie signs people in, and only pages served
# from ALLOWED_HOSTS may open a socket (another site cannot ride a visitor's cookie).
# Imported here, after Django is set up: the consumers import models.
from channels.auth import AuthMiddlewareStack  # type: ignore[import-untyped]  # noqa: E402
from channels.routing import URLRouter  # type: ignore[import-untyped]  # noqa: E402
from channels.security.websocket import (  # type: ignore[import-untyped]  # noqa: E402
    AllowedHostsOriginValidator,
)

from chat.routing import websocket_urlpatterns  # noqa: E402

websocket_application = AllowedHostsOriginValidator(
    AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
)


async def _lifespan(receive, send):  # type: ignore[no-untyped-def]
    """On shutdown, let the settlements of requests already answered finish: the API
    answers first and settles after (decision 0023)."""
    from gateway.governance import settlements_finished

    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await settlements_finished()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def application(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send)  # type: ignore[no-untyped-call]
    if scope["type"] == "websocket":
        return await websocket_application(scope, receive, send)
    if scope["type"] == "http" and scope["path"].startswith("/v1/"):
        return await inference_application(scope, receive, send)
    return await browser_application(scope, receive, send)


# Import every view module (and the provider SDKs they use) now, at start-up, rather than
# in the first request, which would otherwise take seconds.
get_resolver().url_patterns  # noqa: B018
