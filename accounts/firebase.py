"""Firebase sign-in: verify ID tokens with firebase-admin, then find, link or provision the user.

Verification is the SDK's own (RS256 against Google's certificates by ``kid``, audience =
project id, issuer ``https://securetoken.google.com/<project>``, expiry, and, when
FIREBASE_CHECK_REVOKED is on, revocation and disabled accounts via the Identity Toolkit API).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

import firebase_admin
import google.auth.exceptions
from django.conf import settings
from django.contrib.auth.backends import BaseBackend
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from firebase_admin import auth as firebase_auth
from firebase_admin import credentials as firebase_credentials
from firebase_admin import exceptions as firebase_exceptions
from google.auth.credentials import AnonymousCredentials, Credentials

from accounts import services
from accounts.models import User, normalize_email_address
from core.audit import audit_record
from core.errors import ServiceUnavailable, Unauthenticated, ValidationFailed

logger = logging.getLogger(__name__)

# Our own named app, so we never clash with (or depend on) someone's default app.
APP_NAME = "genai"
# With this variable set, firebase-admin skips signature checks entirely (emulator mode).
_EMULATOR_ENV_VAR = "FIREBASE_AUTH_EMULATOR_HOST"


class FirebaseTokenInvalid(Unauthenticated):
    code = "invalid_firebase_token"


@dataclass(frozen=True)
class FirebaseIdentity:
    uid: str
    email: str | None
    email_verified: bool
    name: str


def firebase_enabled() -> bool:
    return bool(settings.FIREBASE_PROJECT_ID)


# --- the SDK client, one per process ------------------------------------------------------


class _AnonymousCredential(firebase_credentials.Base):  # type: ignore[misc]
    """Sends no Authorization header and never fetches an OAuth token; only for local fakes."""

    def get_credential(self) -> Credentials:
        return AnonymousCredentials()  # type: ignore[no-untyped-call]


_client_lock = threading.Lock()
# (project id, certs url, identity toolkit url) -> client; rebuilt when any of them changes.
_client_cache: tuple[tuple[str, str, str], Any] | None = None


def reset_firebase_client() -> None:
    """Forget the cached client and delete its app (tests, or after rotating credentials)."""
    global _client_cache
    with _client_lock:
        _client_cache = None
        _delete_app()


def _delete_app() -> None:
    with contextlib.suppress(ValueError):  # ValueError: no such app, nothing to delete
        firebase_admin.delete_app(firebase_admin.get_app(APP_NAME))


def _point_at_endpoints(client: Any, *, project_id: str, certs_url: str, toolkit_url: str) -> None:
    """Aim the client at local stand-ins for Google's endpoints (tests only).

    firebase-admin only offers FIREBASE_AUTH_EMULATOR_HOST for this, and that also turns off
    signature checking, which is the very thing we need to test. So we swap the two URLs on
    the SDK's internals (firebase-admin 7.x): the ID-token verifier's ``cert_url`` and the
    user manager used by the revocation check (``accounts:lookup``). ``toolkit_url`` plays
    the role of ``https://identitytoolkit.googleapis.com/v1``.
    """
    from firebase_admin import _user_mgt  # only needed for the override

    if certs_url:
        client._token_verifier.id_token_verifier.cert_url = certs_url
    if toolkit_url:
        client._user_manager = _user_mgt.UserManager(
            client._user_manager.http_client, project_id, url_override=toolkit_url.rstrip("/")
        )


def _build_client(*, project_id: str, certs_url: str, toolkit_url: str) -> Any:
    _delete_app()
    credential: Any
    if toolkit_url:
        credential = _AnonymousCredential()
    else:
        # Lazy: Application Default Credentials are only looked up when the client is built.
        credential = firebase_credentials.ApplicationDefault()
    app = firebase_admin.initialize_app(credential, {"projectId": project_id}, name=APP_NAME)
    try:
        client = firebase_auth.Client(app)
    except google.auth.exceptions.DefaultCredentialsError as exc:
        _delete_app()
        logger.error("Firebase sign-in has no Google credentials: %s", exc)
        raise ServiceUnavailable(
            "Firebase sign-in is not available right now.", code="firebase_unavailable"
        ) from exc
    _point_at_endpoints(client, project_id=project_id, certs_url=certs_url, toolkit_url=toolkit_url)
    return client


def _firebase_client() -> Any:
    global _client_cache
    if os.environ.get(_EMULATOR_ENV_VAR):
        # The SDK would accept unsigned tokens: refuse rather than let anyone sign in as anyone.
        raise ImproperlyConfigured(
            f"{_EMULATOR_ENV_VAR} is set; it disables ID-token signature checks. Unset it."
        )
    key = (
        settings.FIREBASE_PROJECT_ID,
        settings.FIREBASE_CERTS_URL,
        settings.FIREBASE_IDENTITY_TOOLKIT_URL,
    )
    with _client_lock:
        if _client_cache is None or _client_cache[0] != key:
            project_id, certs_url, toolkit_url = key
            client = _build_client(
                project_id=project_id, certs_url=certs_url, toolkit_url=toolkit_url
            )
            _client_cache = (key, client)
        return _client_cache[1]


# --- verification ----------------------------------------------------------------------


def _first_sentence(message: str) -> str:
    # The SDK's messages end with links to its docs; the first sentence names the problem.
    return message.split(". ")[0].rstrip(".")


def verify_id_token(token: str) -> FirebaseIdentity:
    if not firebase_enabled():
        raise FirebaseTokenInvalid("Firebase sign-in is not configured.")
    client = _firebase_client()
    try:
        claims = client.verify_id_token(
            token,
            check_revoked=settings.FIREBASE_CHECK_REVOKED,
            clock_skew_seconds=settings.FIREBASE_CLOCK_SKEW_SECONDS,
        )
    # Subclasses before their bases: Expired and Revoked are InvalidIdTokenErrors.
    except firebase_auth.ExpiredIdTokenError as exc:
        raise FirebaseTokenInvalid(
            "The Firebase ID token has expired.", code="firebase_token_expired"
        ) from exc
    except firebase_auth.RevokedIdTokenError as exc:
        raise FirebaseTokenInvalid(
            "The Firebase ID token has been revoked.", code="firebase_token_revoked"
        ) from exc
    except firebase_auth.InvalidIdTokenError as exc:
        raise FirebaseTokenInvalid(
            f"The Firebase ID token is invalid: {_first_sentence(str(exc))}."
        ) from exc
    except firebase_auth.UserDisabledError as exc:
        raise FirebaseTokenInvalid(
            "This Firebase account is disabled.", code="firebase_user_disabled"
        ) from exc
    except firebase_auth.UserNotFoundError as exc:  # from the revocation check
        raise FirebaseTokenInvalid(
            "This Firebase account no longer exists.", code="firebase_user_not_found"
        ) from exc
    except firebase_auth.CertificateFetchError as exc:
        logger.warning("Could not fetch Firebase signing certificates: %s", exc)
        raise ServiceUnavailable(
            "Could not fetch Firebase signing certificates; try again shortly.",
            code="firebase_unavailable",
        ) from exc
    except firebase_exceptions.FirebaseError as exc:
        # What is left comes from the Identity Toolkit call (network, quota, our credentials):
        # not the caller's fault, so not a 401.
        logger.warning("Firebase revocation check failed: %s", exc)
        raise ServiceUnavailable(
            "Could not check the Firebase account; try again shortly.",
            code="firebase_unavailable",
        ) from exc
    except ValueError as exc:  # empty or non-string token
        raise FirebaseTokenInvalid("The Firebase ID token is malformed.") from exc

    email = claims.get("email")
    name = claims.get("name")
    return FirebaseIdentity(
        uid=str(claims["uid"]),
        email=email if isinstance(email, str) and email else None,
        email_verified=claims.get("email_verified") is True,
        name=name if isinstance(name, str) else "",
    )


# --- mapping to our users ----------------------------------------------------------------


def _link_or_provision(identity: FirebaseIdentity) -> User:
    """First sign-in of this uid: link the account with its verified email, or create one."""
    if identity.email is None:
        raise FirebaseTokenInvalid(
            "The Firebase account has no email address, which sign-in requires.",
            code="firebase_email_required",
        )
    email = normalize_email_address(identity.email)
    # Locked, so two first sign-ins that both want to link this row take turns.
    existing = User.objects.select_for_update().filter(email__iexact=email).first()
    if existing is None:
        user = services.user_signup(
            email=email, password=None, full_name=identity.name.strip()[:150]
        )
        user.firebase_uid = identity.uid
        user.save(update_fields=["firebase_uid"])
        return user

    if existing.firebase_uid == identity.uid:  # a concurrent sign-in linked it meanwhile
        return existing
    if not identity.email_verified:
        # Anyone can create a Firebase account with someone else's address and leave it
        # unverified; linking on it would hand them that person's account.
        raise FirebaseTokenInvalid(
            "An account with this email already exists; verify the email address in "
            "Firebase to sign in with it.",
            code="firebase_email_unverified",
        )
    if existing.firebase_uid is not None:
        raise FirebaseTokenInvalid(
            "This account is already linked to a different Firebase account.",
            code="firebase_account_mismatch",
        )
    if not existing.is_active:
        raise FirebaseTokenInvalid("This account is disabled.", code="account_disabled")
    existing.firebase_uid = identity.uid
    existing.save(update_fields=["firebase_uid"])
    audit_record(
        action="user.firebase_link",
        actor_id=existing.pk,
        actor_label=existing.email,
        target_type="user",
        target_id=existing.pk,
        target_label=existing.email,
        metadata={"firebase_uid": identity.uid},
    )
    return existing


def user_from_firebase_identity(identity: FirebaseIdentity) -> User:
    """The user for a verified token: by uid; else link by verified email; else provision.

    A uid that is already linked signs in even if its token carries no email: the uid is the
    identity, the email only matters the first time.
    """
    user = User.objects.filter(firebase_uid=identity.uid).first()
    if user is None:
        try:
            with transaction.atomic():
                user = _link_or_provision(identity)
        except (IntegrityError, ValidationFailed) as exc:
            # Another first sign-in for this uid committed between our lookup and our write
            # (unique firebase_uid or email): theirs is the user.
            user = User.objects.filter(firebase_uid=identity.uid).first()
            if user is None:
                if isinstance(exc, ValidationFailed):
                    raise FirebaseTokenInvalid(exc.message, code=exc.code) from exc
                raise
    if not user.is_active:
        raise FirebaseTokenInvalid("This account is disabled.", code="account_disabled")
    return user


class FirebaseBackend(BaseBackend):
    """``django.contrib.auth.authenticate(request, firebase_id_token=...)`` for login views."""

    def authenticate(
        self, request: HttpRequest | None, firebase_id_token: str | None = None, **kwargs: Any
    ) -> User | None:
        if not firebase_id_token or not firebase_enabled():
            return None
        try:
            return user_from_firebase_identity(verify_id_token(firebase_id_token))
        except FirebaseTokenInvalid:
            return None

    def get_user(self, user_id: int) -> User | None:
        return User.objects.filter(pk=user_id, is_active=True).first()
