"""The current request id, readable anywhere in the request's context (logs, audit rows)."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

_current_request_id: ContextVar[str] = ContextVar("request_id", default="-")
# A caller-supplied id is kept only if it is short and plain, so it is safe in logs.
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def new_request_id(incoming: str | None = None) -> str:
    if incoming and _ACCEPTABLE_ID.match(incoming):
        return incoming
    return f"req_{uuid.uuid4().hex}"


def set_request_id(value: str) -> None:
    _current_request_id.set(value)


def get_request_id() -> str:
    return _current_request_id.get()
