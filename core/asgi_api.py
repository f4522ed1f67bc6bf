"""The ASGI handler of the inference API (/v1): Django's, minus what costs a thread per
request. config/asgi.py mounts it next to the browser app's handler.

Django's ASGIHandler spends two hops to its thread pool on every request: one to send
``request_started`` and one to call ``response.close()`` (which sends
``request_finished``). Both signals exist to recycle the request thread's database
connections (``close_old_connections``). The API's views never use such a connection
(``core.asyncdb.run_detached`` runs ORM calls elsewhere and closes its own), so the
receivers find nothing to do; this handler still sends both signals, in the event loop
itself, instead of hopping threads. A receiver that blocked would block the loop: the
project connects none (Django's own only touch connections this thread never opened).

``handle`` follows Django 5.2's ``ASGIHandler.handle`` line for line apart from those two
calls; re-check it when upgrading Django.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.urls import set_script_prefix


class InferenceAPIHandler(ASGIHandler):
    """Django's ASGI handler with API_MIDDLEWARE instead of MIDDLEWARE, without a thread of
    its own for every request (Django's per-request ThreadSensitiveContext; the API's views
    never run thread-sensitive sync code) and without thread hops for the request signals."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
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

    async def handle(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)  # no thread hop
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            assert error_response is not None
            body_file.close()
            await self.send_response(error_response, send)
            error_response.close()
            return

        async def process_request(request: Any, send: Any) -> Any:
            response = await self.run_get_response(request)
            with contextlib.suppress(asyncio.CancelledError):  # the client left meanwhile
                await self.send_response(response, send)
            return response

        # Notice a disconnect while the response is being made (as Django does).
        tasks = [
            asyncio.create_task(self.listen_for_disconnect(receive)),
            asyncio.create_task(process_request(request, send)),
        ]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            if task.done():
                try:
                    task.result()
                except RequestAborted:
                    pass
                except AssertionError:
                    body_file.close()
                    raise
            else:
                task.cancel()  # views may handle the cancellation
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        try:
            response = tasks[1].result()
        except asyncio.CancelledError:
            signals.request_finished.send(sender=self.__class__)
        else:
            response.close()  # sends request_finished; no thread hop
        body_file.close()
