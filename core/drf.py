"""DRF glue: render every error of the resource API in the platform's one error shape."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

from core.errors import ApplicationError, TooManyRequests, error_body

_DRF_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
}


def _first_validation_message(detail: Any, path: str = "") -> tuple[str, str | None]:
    """Flatten DRF's nested validation errors into one readable message and its field."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            field = f"{path}.{key}" if path else str(key)
            message, param = _first_validation_message(value, field)
            return message, param
    if isinstance(detail, list) and detail:
        return _first_validation_message(detail[0], path)
    text = str(detail)
    if path and path != "non_field_errors":
        return f"{path}: {text}", path
    return text, None


def drf_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    # Imported here: rest_framework.views imports the authentication classes, which
    # import core.errors, so a top-level import would be circular.
    from rest_framework.views import exception_handler as drf_default_handler

    if isinstance(exc, ApplicationError):
        headers = {}
        if isinstance(exc, TooManyRequests):
            headers["Retry-After"] = str(exc.retry_after)
        return Response(
            error_body(exc.message, error_type=exc.error_type, code=exc.code, param=exc.param),
            status=exc.status_code,
            headers=headers,
        )
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    response = drf_default_handler(exc, context)
    if response is None or not isinstance(exc, drf_exceptions.APIException):
        return response
    if isinstance(exc, drf_exceptions.ValidationError):
        message, param = _first_validation_message(exc.detail)
        code = "invalid_request"
    else:
        message, param = str(exc.detail), None
        code = exc.default_code if isinstance(exc.default_code, str) else None
    response.data = error_body(
        message,
        error_type=_DRF_TYPES.get(response.status_code, "api_error"),
        code=code,
        param=param,
    )
    return response
