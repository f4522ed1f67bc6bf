"""ASGI entry point (uvicorn). WebSocket routing joins here with the chat issue.

Two Django handlers share the process. The browser app gets the full middleware stack
(sessions, CSRF, auth, messages, lockouts, static files). The inference API (/v1) is called
with API keys, not cookies, and is the hot path, so it gets a stack of its own with only
what it uses: every Django middleware written in the old style costs two thread hops per
request under ASGI, which dominated the gateway's own time.
"""

import os

from django.conf import settings
from django.core.asgi import get_asgi_application
from django.core.handlers.asgi import ASGIHandler
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.django.base")

browser_application = get_asgi_application()


class InferenceAPIHandler(ASGIHandler):
    """Django's ASGI handler with API_MIDDLEWARE instead of MIDDLEWARE, and without a
    thread of its own for every request (Django's per-request ThreadSensitiveContext): the
    API's views never run thread-sensitive sync code, so the one thread Django still uses
    to close each response can be shared."""

    async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        await self.handle(scope, receive, send)

    def load_middleware(self, is_async: bool = False) -> None:
        # BaseHandler reads settings.MIDDLEWARE; swap it only while this handler is built,
        # once, at start-up, before any request is served.
        full_stack = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.API_MIDDLEWARE
        try:
            super().load_middleware(is_async=is_async)
        finally:
            settings.MIDDLEWARE = full_stack


inference_application = InferenceAPIHandler()


async def application(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] == "http" and scope["path"].startswith("/v1/"):
        return await inference_application(scope, receive, send)
    return await browser_application(scope, receive, send)


# Import every view module (and the provider SDKs they use) now, at start-up, rather than
# in the first request, which would otherwise take seconds.
get_resolver().url_patterns  # noqa: B018
