"""Browser pages for accounts: sign-up/in, the dashboard, teams and their API keys.

Views parse input, call one service or selector with ``Actor(user=...)``, and render.
Tenancy and permissions are decided by ``accounts.access`` inside those calls; the
``can_manage`` flags here only decide which forms to show.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, Concatenate, ParamSpec

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts import selectors, services
from accounts.access import Actor, access_api_key, access_organization, access_team, can_manage_team
from accounts.firebase import firebase_enabled
from accounts.forms import (
    APIKeyCreateForm,
    EmailAuthenticationForm,
    OrganizationCreateForm,
    SignupForm,
    TeamCreateForm,
)
from accounts.models import ORG_ADMIN_ROLES, APIKey, Role, Team, User
from core.errors import ApplicationError, Forbidden, NotFound, error_body
from core.http import client_ip

P = ParamSpec("P")

# Pinned because several backends are configured (axes, model, Firebase) and a new user
# has just set a password, so the session should record the password backend.
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _errors_to_http(view: Callable[P, HttpResponse]) -> Callable[P, HttpResponse]:
    """Map domain errors to Django's: another tenant's object is a 404, not a 403, so its
    existence does not leak; a visible but unmanageable one is a 403."""

    @functools.wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        try:
            return view(*args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from exc
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from exc

    return wrapped


def _member_view(
    view: Callable[Concatenate[HttpRequest, Actor, P], HttpResponse],
) -> Callable[Concatenate[HttpRequest, P], HttpResponse]:
    """Login required, domain errors mapped, and the signed-in user passed as an Actor."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        if not isinstance(request.user, User):  # login_required has already redirected
            raise PermissionDenied
        return view(request, Actor(user=request.user), *args, **kwargs)

    return login_required(_errors_to_http(wrapped))


def _no_store(response: HttpResponse) -> HttpResponse:
    add_never_cache_headers(response)  # includes no-store: keep secrets out of every cache
    return response


# --- Public pages -------------------------------------------------------------------------


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("accounts:dashboard")
    return render(request, "home.html")


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("accounts:dashboard")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_signup(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
                full_name=form.cleaned_data["full_name"],
                ip_address=client_ip(request),
            )
        except ApplicationError as exc:
            form.add_error("email" if exc.code == "email_taken" else None, exc.message)
        else:
            login(request, user, backend=MODEL_BACKEND)
            messages.success(request, "Welcome! Your personal workspace is ready.")
            return redirect("accounts:dashboard")
    return render(request, "accounts/signup.html", {"form": form})


class SignInView(auth_views.LoginView):
    authentication_form = EmailAuthenticationForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        # Read per request: Firebase is switched on by configuration, not by code.
        context["firebase"] = (
            {
                "api_key": settings.FIREBASE_WEB_API_KEY,
                "auth_domain": settings.FIREBASE_AUTH_DOMAIN,
                "project_id": settings.FIREBASE_PROJECT_ID,
            }
            if firebase_enabled()
            else None
        )
        return context


class SignOutView(auth_views.LogoutView):
    http_method_names = ["post", "options"]


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


def _json_error(message: str, *, status: int, code: str) -> JsonResponse:
    body = {"ok": False} | error_body(message, error_type="authentication_error", code=code)
    return JsonResponse(body, status=status)


def _firebase_payload(request: HttpRequest) -> dict[str, str]:
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: v for k, v in data.items() if isinstance(v, str)}
    return {k: str(v) for k, v in request.POST.items()}


@require_POST
def firebase_session(request: HttpRequest) -> JsonResponse:
    """Exchange a Firebase ID token for a Django session (CSRF-checked by the middleware)."""
    if not firebase_enabled():
        return _json_error("Firebase sign-in is not enabled.", status=404, code="not_enabled")
    payload = _firebase_payload(request)
    token = payload.get("id_token", "").strip()
    if not token:
        return _json_error("An id_token is required.", status=400, code="id_token_required")
    try:
        user = authenticate(request, firebase_id_token=token)
    except ApplicationError as exc:  # e.g. the token could not be checked at all
        return _json_error(exc.message, status=exc.status_code, code=exc.code)
    if user is None:
        return _json_error(
            "Google sign-in failed. Please try again.", status=401, code="invalid_firebase_token"
        )
    login(request, user)  # authenticate() recorded which backend vouched for the user
    target = payload.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("accounts:dashboard")
    return JsonResponse({"ok": True, "redirect": target})


# --- Dashboard ----------------------------------------------------------------------------


def _render_dashboard(
    request: HttpRequest,
    actor: Actor,
    *,
    org_form: OrganizationCreateForm | None = None,
    team_form: TeamCreateForm | None = None,
) -> HttpResponse:
    organizations = list(selectors.organization_list(actor=actor))
    roles = selectors.organization_role_map(actor=actor)
    teams_by_org: dict[int, list[Team]] = {}
    for team in selectors.team_list(actor=actor):
        teams_by_org.setdefault(team.organization_id, []).append(team)
    admin_orgs = [(o.pk, o.name) for o in organizations if roles.get(o.pk) in ORG_ADMIN_ROLES]
    rows = [
        {
            "organization": org,
            "role": Role(roles[org.pk]).label if org.pk in roles else "",
            "teams": teams_by_org.get(org.pk, []),
        }
        for org in organizations
    ]
    context = {
        "rows": rows,
        "org_form": org_form or OrganizationCreateForm(),
        "team_form": team_form
        if team_form is not None
        else (TeamCreateForm(organizations=admin_orgs) if admin_orgs else None),
    }
    return render(request, "accounts/dashboard.html", context)


def _admin_org_choices(actor: Actor) -> list[tuple[int, str]]:
    roles = selectors.organization_role_map(actor=actor)
    return [
        (o.pk, o.name)
        for o in selectors.organization_list(actor=actor)
        if roles.get(o.pk) in ORG_ADMIN_ROLES
    ]


@require_safe
@_member_view
def dashboard(request: HttpRequest, actor: Actor) -> HttpResponse:
    return _render_dashboard(request, actor)


@require_POST
@_member_view
def organization_create(request: HttpRequest, actor: Actor) -> HttpResponse:
    assert actor.user is not None  # _member_view only builds user actors
    form = OrganizationCreateForm(request.POST)
    if form.is_valid():
        try:
            org = services.organization_create(owner=actor.user, name=form.cleaned_data["name"])
        except ApplicationError as exc:
            form.add_error("name", exc.message)
        else:
            messages.success(request, f"Created the organization “{org.name}”.")
            return redirect("accounts:dashboard")
    return _render_dashboard(request, actor, org_form=form)


@require_POST
@_member_view
def team_create(request: HttpRequest, actor: Actor) -> HttpResponse:
    form = TeamCreateForm(request.POST, organizations=_admin_org_choices(actor))
    if form.is_valid():
        try:
            organization = access_organization(actor, form.cleaned_data["organization"])
            team = services.team_create(
                actor=actor, organization=organization, name=form.cleaned_data["name"]
            )
        except ApplicationError as exc:
            form.add_error("name", exc.message)
        else:
            messages.success(request, f"Created the team “{team.name}”.")
            return redirect("accounts:team_detail", team_id=team.pk)
    return _render_dashboard(request, actor, team_form=form)


# --- Teams and API keys -------------------------------------------------------------------


def _key_status(key: APIKey, now: datetime) -> str:
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    return "active"


def _render_team(
    request: HttpRequest, actor: Actor, team: Team, *, key_form: APIKeyCreateForm | None = None
) -> HttpResponse:
    keys = list(selectors.api_key_list(actor=actor, team_id=team.pk))
    # Successors are always in the same team, so the list itself says which keys were rotated.
    rotated_ids = {k.rotated_from_id for k in keys if k.rotated_from_id is not None}
    now = timezone.now()
    can_manage = can_manage_team(actor, team)
    key_rows = [
        {
            "key": key,
            "status": _key_status(key, now),
            "rotated": key.pk in rotated_ids,
        }
        for key in keys
    ]
    context = {
        "team": team,
        "key_rows": key_rows,
        "can_manage": can_manage,
        "key_form": (key_form or APIKeyCreateForm()) if can_manage else None,
    }
    return render(request, "accounts/team_detail.html", context)


@require_safe
@_member_view
def team_detail(request: HttpRequest, actor: Actor, team_id: int) -> HttpResponse:
    return _render_team(request, actor, access_team(actor, team_id))


def _render_secret(
    request: HttpRequest, *, key: APIKey, secret: str, rotated: APIKey | None = None
) -> HttpResponse:
    # Rendered straight into the POST response: the secret is never stored server-side,
    # not even in the session, and a later GET has nothing to show.
    context = {"team": key.team, "key": key, "secret": secret, "rotated": rotated}
    return _no_store(render(request, "accounts/api_key_secret.html", context))


@require_POST
@_member_view
def api_key_create(request: HttpRequest, actor: Actor, team_id: int) -> HttpResponse:
    team = access_team(actor, team_id, manage=True)
    form = APIKeyCreateForm(request.POST)
    if form.is_valid():
        try:
            key, secret = services.api_key_create(
                actor=actor,
                team=team,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                expires_at=form.expires_at,
                user=actor.user if form.cleaned_data["for_me"] else None,
                ip_address=client_ip(request),
            )
        except (NotFound, Forbidden):
            raise
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            return _render_secret(request, key=key, secret=secret)
    return _render_team(request, actor, team, key_form=form)


@require_http_methods(["GET", "POST"])
@_member_view
def api_key_revoke(request: HttpRequest, actor: Actor, team_id: int, key_id: int) -> HttpResponse:
    key = access_api_key(actor, team_id, key_id, manage=True)
    if request.method == "GET":
        return render(request, "accounts/api_key_confirm.html", {"key": key, "action": "revoke"})
    services.api_key_revoke(actor=actor, api_key=key, ip_address=client_ip(request))
    messages.success(request, f"Revoked the key “{key.name}” ({key.prefix}…).")
    return redirect("accounts:team_detail", team_id=team_id)


@require_http_methods(["GET", "POST"])
@_member_view
def api_key_rotate(request: HttpRequest, actor: Actor, team_id: int, key_id: int) -> HttpResponse:
    key = access_api_key(actor, team_id, key_id, manage=True)
    if request.method == "GET":
        context = {
            "key": key,
            "action": "rotate",
            "grace_hours": settings.API_KEY_ROTATION_GRACE_HOURS,
        }
        return render(request, "accounts/api_key_confirm.html", context)
    try:
        new_key, secret = services.api_key_rotate(
            actor=actor, api_key=key, ip_address=client_ip(request)
        )
    except (NotFound, Forbidden):
        raise
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("accounts:team_detail", team_id=team_id)
    key.refresh_from_db(fields=["expires_at"])
    return _render_secret(request, key=new_key, secret=secret, rotated=key)
