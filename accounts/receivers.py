"""Audit receivers for Django's login signals. They only hand the event to the audit service."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from accounts.lockout import axes_username
from core.audit import audit_record
from core.http import client_ip


@receiver(user_logged_in)
def audit_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    audit_record(
        action="auth.login",
        actor_id=user.pk,
        actor_label=user.email,
        target_type="user",
        target_id=user.pk,
        target_label=user.email,
        ip_address=client_ip(request) if request is not None else None,
        metadata={"backend": getattr(user, "backend", "")},
    )


@receiver(user_login_failed)
def audit_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # Never store the password; the attempted account is what investigators need, spelled
    # as stored so that one account's failures line up however they were typed.
    attempted = (axes_username(request, credentials) or "")[:254]
    audit_record(
        action="auth.login_failed",
        actor_label=attempted,
        target_type="user",
        target_label=attempted,
        ip_address=client_ip(request) if request is not None else None,
    )
