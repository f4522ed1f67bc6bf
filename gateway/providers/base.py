"""The one small interface every provider implements, and the errors it may raise.

Providers are async and stateless apart from their SDK client. They make exactly one
upstream attempt per call (SDK retries are off): retries, timeouts per attempt, circuit
breakers and fallbacks are the pool's job (gateway/pool.py), so they behave the same for
every provider.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import ClassVar

from gateway.types import ChatRequest, Completion, StreamEvent


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    id: int
    kind: str
    name: str
    base_url: str | None
    api_key: str | None
    timeout_seconds: float


class ProviderError(Exception):
    """An upstream failure, classified for the pool.

    ``retryable``: worth another attempt or the next model (timeouts, connection errors,
    429, 5xx). Not retryable: the request itself is wrong (400, 401, 403, 404, 422), and
    trying elsewhere would hide the mistake or leak it to more providers.
    """

    def __init__(self, message: str, *, status: int | None = None, retryable: bool) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retryable = retryable


class ProviderTimeout(ProviderError):
    def __init__(self, message: str = "The provider did not answer in time.") -> None:
        super().__init__(message, status=504, retryable=True)


class Provider(abc.ABC):
    kind: ClassVar[str]

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config

    @abc.abstractmethod
    async def complete(self, request: ChatRequest, *, model: str) -> Completion:
        """One non-streaming completion from upstream model ``model``."""

    @abc.abstractmethod
    def stream(self, request: ChatRequest, *, model: str) -> AsyncIterator[StreamEvent]:
        """Stream text/tool-call deltas, ending with exactly one StreamEnd (with usage)."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most providers need nothing
        """Release connections (called when a provider's configuration changes)."""


def is_retryable_status(status: int | None) -> bool:
    return status is None or status == 408 or status == 429 or status >= 500
