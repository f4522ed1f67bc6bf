"""DRF authentication: team API keys, Firebase ID tokens (sessions come from DRF itself)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from accounts import apikeys, firebase
from accounts.access import KeyContext
from accounts.models import User
from core.http import client_ip


class ServicePrincipal(AnonymousUser):
    """request.user for a key that acts for no person: authenticated, but not a User."""

    def __init__(self, key: KeyContext) -> None:
        self.key = key

    @property
    def is_authenticated(self) -> bool:  # type: ignore[override]
        return True

    @property
    def is_anonymous(self) -> bool:  # type: ignore[override]
        return False

    def __str__(self) -> str:
        return f"api-key:{self.key.prefix}"


def presented_api_key(request: Request | HttpRequest) -> str | None:
    """The secret from ``Authorization: Bearer sk-...`` or ``x-api-key`` (Anthropic style)."""
    header = str(request.headers.get("Authorization", ""))
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and apikeys.looks_like_api_key(token.strip()):
        return token.strip()
    x_api_key = str(request.headers.get("x-api-key", "")).strip()
    return x_api_key or None


class APIKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, KeyContext] | None:
        secret = presented_api_key(request)
        if secret is None:
            return None
        context = apikeys.authenticate_secret(secret, ip=client_ip(request._request))
        user: Any = ServicePrincipal(context)
        if context.user_id is not None:
            found = User.objects.filter(pk=context.user_id, is_active=True).first()
            if found is not None:
                user = found
        return user, context

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class FirebaseAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[User, None] | None:
        if not firebase.firebase_enabled():
            return None
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or apikeys.looks_like_api_key(token):
            return None
        identity = firebase.verify_id_token(token)
        return firebase.user_from_firebase_identity(identity), None

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
