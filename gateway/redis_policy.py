"""REDIS_FAILURE_POLICY in one place: what a Redis-backed step does when Redis is gone.

``reject`` (the default, and production): answer 503; nothing bypasses limits, budgets or
breakers. ``allow`` (development only): carry on without the step and log it loudly.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TypeVar

import redis
from django.conf import settings

from core.errors import ServiceUnavailable

logger = logging.getLogger(__name__)
T = TypeVar("T")


async def redis_guarded(step: Awaitable[T], *, what: str, fallback: T) -> T:
    """Run a Redis-backed step under the failure policy."""
    try:
        return await step
    except (redis.RedisError, OSError) as exc:
        if settings.REDIS_FAILURE_POLICY == "allow":
            logger.error(
                "REDIS UNAVAILABLE during %s (%s): passing the request through UNMETERED because "
                "REDIS_FAILURE_POLICY=allow. Never run production like this.",
                what,
                exc,
            )
            return fallback
        logger.error(
            "Redis unavailable during %s: %s; refusing (REDIS_FAILURE_POLICY=reject)", what, exc
        )
        raise ServiceUnavailable(
            "The gateway cannot enforce limits and budgets right now (its Redis is unavailable). "
            "Try again shortly.",
            code="limits_unavailable",
        ) from exc
