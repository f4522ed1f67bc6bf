"""Firebase sign-in (being written): verify ID tokens with firebase-admin, provision users."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.backends import BaseBackend
from django.http import HttpRequest

from accounts.models import User
from core.errors import Unauthenticated


class FirebaseTokenInvalid(Unauthenticated):
    code = "invalid_firebase_token"


@dataclass(frozen=True)
class FirebaseIdentity:
    uid: str
    email: str | None
    email_verified: bool
    name: str


def firebase_enabled() -> bool:
    from django.conf import settings

    return bool(settings.FIREBASE_PROJECT_ID)


def verify_id_token(token: str) -> FirebaseIdentity:
    raise FirebaseTokenInvalid("Firebase sign-in is not configured.")


def user_from_firebase_identity(identity: FirebaseIdentity) -> User:
    raise FirebaseTokenInvalid("Firebase sign-in is not configured.")


class FirebaseBackend(BaseBackend):
    def authenticate(  # type: ignore[override]
        self, request: HttpRequest | None, firebase_id_token: str | None = None, **kwargs: Any
    ) -> User | None:
        return None

    def get_user(self, user_id: int) -> User | None:
        return User.objects.filter(pk=user_id, is_active=True).first()
