"""One error shape for the whole platform: ``{"error": {"message", "type", "code"}}``.

It is OpenAI's shape, so SDK users and resource-API users parse errors the same way.
Domain code raises ``ApplicationError`` subclasses; interfaces turn them into responses
(``core.drf`` for the resource API). This module imports no web framework on purpose.
"""

from __future__ import annotations

from typing import Any

from core.requestid import get_request_id


class ApplicationError(Exception):
    status_code = 400
    error_type = "invalid_request_error"
    code = "invalid_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.param = param  # the request field at fault, when there is one
        self.extra = extra or {}


class ValidationFailed(ApplicationError):
    status_code = 400


class NotFound(ApplicationError):
    status_code = 404
    code = "not_found"


class Forbidden(ApplicationError):
    status_code = 403
    error_type = "permission_error"
    code = "forbidden"


class Unauthenticated(ApplicationError):
    status_code = 401
    error_type = "authentication_error"
    code = "invalid_api_key"


class TooManyRequests(ApplicationError):
    status_code = 429
    error_type = "rate_limit_error"
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None):
        super().__init__(message, code=code)
        self.retry_after = retry_after


class ServiceUnavailable(ApplicationError):
    status_code = 503
    error_type = "service_unavailable"
    code = "service_unavailable"


def error_body(
    message: str, *, error_type: str, code: str | None, param: str | None = None
) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": error_type,
            "code": code,
            "param": param,
            "request_id": get_request_id(),
        }
    }


class PaymentRequired(ApplicationError):
    status_code = 402
    error_type = "insufficient_quota"
    code = "budget_exceeded"


class PayloadTooLarge(ApplicationError):
    status_code = 413
    code = "payload_too_large"


class Unprocessable(ApplicationError):
    """Well-formed and valid, but cannot be served as asked (e.g. over a context window)."""

    status_code = 422
    code = "unprocessable"


class NotImplementedYet(ApplicationError):
    status_code = 501
    error_type = "not_implemented"
    code = "not_implemented"


class BadGateway(ApplicationError):
    """Every provider in the chain failed, or one failed in a way we pass on."""

    status_code = 502
    error_type = "api_error"
    code = "upstream_error"


class GatewayTimeout(ApplicationError):
    status_code = 504
    error_type = "timeout_error"
    code = "upstream_timeout"
