"""Which account a failed login counts against (django-axes' AXES_USERNAME_CALLABLE)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.models import normalize_email_address


def axes_username(request: HttpRequest | None, credentials: dict[str, Any] | None) -> str | None:
    """Our login page posts ``email``; Django's admin login posts ``username``. Both name
    the same account, spelled the way it is stored, so every form shares one counter."""
    credentials = credentials or {}
    attempted = credentials.get("email") or credentials.get("username")
    if not attempted and request is not None:
        attempted = request.POST.get("email") or request.POST.get("username")
    return normalize_email_address(str(attempted)) if attempted else None
