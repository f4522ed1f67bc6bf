from __future__ import annotations

from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from core.requestid import new_request_id, set_request_id

REQUEST_ID_HEADER = "X-Request-Id"


class RequestIdMiddleware:
    """Give every request an id (or keep a sane incoming one) and echo it on the response."""

    sync_capable = True
    async_capable = True

    def __init__(
        self,
        get_response: Callable[[HttpRequest], HttpResponseBase]
        | Callable[[HttpRequest], Awaitable[HttpResponseBase]],
    ) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def _start(self, request: HttpRequest) -> str:
        request_id = new_request_id(request.headers.get(REQUEST_ID_HEADER))
        set_request_id(request_id)
        request.request_id = request_id  # type: ignore[attr-defined]
        return request_id

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.is_async:
            return self.__acall__(request)
        request_id = self._start(request)
        response = self.get_response(request)
        assert isinstance(response, HttpResponseBase)
        response[REQUEST_ID_HEADER] = request_id
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        request_id = self._start(request)
        response: HttpResponseBase = await self.get_response(request)  # type: ignore[misc]
        response[REQUEST_ID_HEADER] = request_id
        return response


class HealthCheckMiddleware:
    """Answer /healthz and /readyz before host validation and HTTPS redirects.

    Platform probes (Cloud Run, load balancers) call by IP or an internal host name that is
    not in ALLOWED_HOSTS and over plain HTTP; later middleware would answer them 400 or 301
    and the instance would never be considered ready.
    """

    sync_capable = False
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]]) -> None:
        from core import views  # the probes themselves live with the other views

        self.get_response = get_response
        self.probes = {"/healthz": views.healthz, "/readyz": views.readyz}
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        probe = self.probes.get(request.path_info)
        if probe is not None and request.method in {"GET", "HEAD"}:
            return await probe(request)
        return await self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """Send settings.CONTENT_SECURITY_POLICY on every browser response that has none.

    Django 5.2 has no CSP support of its own. A view may set its own header (a stricter
    one, such as the sandbox on downloaded files); the vendored API documentation pages
    get settings.CONTENT_SECURITY_POLICY_DOCS.
    """

    sync_capable = True
    async_capable = True

    def __init__(
        self,
        get_response: Callable[[HttpRequest], HttpResponseBase]
        | Callable[[HttpRequest], Awaitable[HttpResponseBase]],
    ) -> None:
        from django.conf import settings

        self.get_response = get_response
        self.policy = settings.CONTENT_SECURITY_POLICY
        self.docs_policy = settings.CONTENT_SECURITY_POLICY_DOCS
        self.docs_paths = tuple(settings.CONTENT_SECURITY_POLICY_DOCS_PATHS)
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def _apply(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if "Content-Security-Policy" not in response:
            docs = request.path_info.startswith(self.docs_paths)
            response["Content-Security-Policy"] = self.docs_policy if docs else self.policy
        return response

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.is_async:
            return self.__acall__(request)
        response = self.get_response(request)
        assert isinstance(response, HttpResponseBase)
        return self._apply(request, response)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response: HttpResponseBase = await self.get_response(request)  # type: ignore[misc]
        return self._apply(request, response)
