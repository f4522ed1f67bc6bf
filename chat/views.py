"""Chat pages, the sidebar's JSON endpoints and the SSE fallback for streaming.

Pages render server-side (markdown already sanitised, see ``chat.rendering``); the
sidebar's actions (rename, delete, search, feedback) are small JSON endpoints called by
``static/js/chat.js`` with the CSRF token. Every conversation id goes through
``chat.selectors``: someone else's conversation is a 404, exactly like a missing one.
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from typing import Any, Concatenate, ParamSpec

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from accounts.access import Actor, teams_visible_to
from accounts.models import Team, User
from billing.paywall import paywalled
from chat import selectors, services
from chat.models import Conversation, Message
from chat.rendering import citations_for_display, render_markdown
from chat.replies import Reply, conversation_frame, parse_ask
from core.errors import ApplicationError, NotFound, ValidationFailed, error_body
from gateway.catalogue import current_catalogue
from knowledge.selectors import collection_list

P = ParamSpec("P")
SESSION_TEAM_KEY = "chat_team_id"
MAX_JSON_BODY_BYTES = 64 * 1024


def _user(request: HttpRequest) -> User:
    if not isinstance(request.user, User):  # login_required has already redirected
        raise Http404
    return request.user


def current_team(request: HttpRequest, *, requested: str | int | None = None) -> Team | None:
    """The team the person chats (and uploads) as: the one asked for if they may see it,
    else the one they used last, else their first. None: they are in no team."""
    teams = list(
        teams_visible_to(Actor(user=_user(request)))
        .select_related("organization")
        .order_by("organization__name", "name")
    )
    if not teams:
        return None
    by_id = {t.pk: t for t in teams}
    for candidate in (requested, request.session.get(SESSION_TEAM_KEY)):
        try:
            team = by_id.get(int(candidate)) if candidate not in (None, "") else None  # type: ignore[arg-type]
        except (TypeError, ValueError):
            team = None
        if team is not None:
            request.session[SESSION_TEAM_KEY] = team.pk
            return team
    request.session[SESSION_TEAM_KEY] = teams[0].pk
    return teams[0]


def team_choices(request: HttpRequest) -> list[Team]:
    return list(
        teams_visible_to(Actor(user=_user(request)))
        .select_related("organization")
        .order_by("organization__name", "name")
    )


def models_for_team(team_id: int) -> list[str]:
    """Model and route names the team may use, as the gateway's catalogue says."""
    catalogue = async_to_sync(current_catalogue)()
    return [name for name, _created, _owner in catalogue.visible_ids(team_id)]


def message_view(message: Message, *, team_id: int, rating: int | None = None) -> dict[str, Any]:
    return {
        "id": message.pk,
        "role": message.role,
        "status": message.status,
        "html": render_markdown(message.content),
        "text": message.content,  # for "copy": the person's own words, as written
        "citations": citations_for_display(
            team_id=team_id, citations=selectors.citations_of(message)
        ),
        "error": message.error,
        "model_used": message.model_used,
        "rating": rating,
    }


def _messages_for(user: User, conversation: Conversation) -> list[dict[str, Any]]:
    messages = selectors.message_list(conversation=conversation)
    ratings = selectors.feedback_of(user=user, message_ids=[m.pk for m in messages])
    return [
        message_view(m, team_id=conversation.team_id, rating=ratings.get(m.pk)) for m in messages
    ]


# --- Pages --------------------------------------------------------------------------------


def _render_chat(
    request: HttpRequest, *, team: Team | None, conversation: Conversation | None
) -> HttpResponse:
    user = _user(request)
    if team is None:
        return render(request, "chat/no_team.html", status=200)
    models = models_for_team(team.pk)
    model = conversation.model if conversation else settings.CHAT_DEFAULT_MODEL
    if model not in models and models:
        models = [model, *models]  # keep showing what the conversation used
    config = {
        "teamId": team.pk,
        "conversationId": conversation.pk if conversation else None,
        "defaultModel": settings.CHAT_DEFAULT_MODEL,
        "maxChars": settings.CHAT_MAX_MESSAGE_CHARS,
        "urls": {
            "socket": "/ws/chat/",
            "stream": reverse("chat:stream"),
            "conversations": reverse("chat:conversation_list"),
            "chat": reverse("chat:home"),
        },
    }
    context = {
        "team": team,
        "teams": team_choices(request),
        "conversation": conversation,
        "conversations": selectors.conversation_list(team_id=team.pk, user=user),
        "messages_view": _messages_for(user, conversation) if conversation else [],
        "models": models,
        "model": model,
        "collections": list(collection_list(team_id=team.pk)),
        "selected_collections": set(conversation.collection_ids) if conversation else set(),
        "chat_config": config,
    }
    return render(request, "chat/chat.html", context)


@require_safe
@login_required
def chat_home(request: HttpRequest) -> HttpResponse:
    return _render_chat(
        request, team=current_team(request, requested=request.GET.get("team")), conversation=None
    )


@require_safe
@login_required
def chat_conversation(request: HttpRequest, conversation_id: int) -> HttpResponse:
    try:
        conversation = selectors.conversation_get(
            user=_user(request), conversation_id=conversation_id
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    request.session[SESSION_TEAM_KEY] = conversation.team_id
    return _render_chat(request, team=conversation.team, conversation=conversation)


# --- JSON endpoints -----------------------------------------------------------------------


def _json_error(exc: ApplicationError) -> JsonResponse:
    body = error_body(exc.message, error_type=exc.error_type, code=exc.code, param=exc.param)
    return JsonResponse(body, status=exc.status_code)


def _json_body(request: HttpRequest) -> dict[str, Any]:
    if len(request.body) > MAX_JSON_BODY_BYTES:
        raise ValidationFailed(f"The request body is over {MAX_JSON_BODY_BYTES} bytes.")
    try:
        data = json.loads(request.body or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationFailed("The request body is not valid JSON.", code="invalid_json") from exc
    if not isinstance(data, dict):
        raise ValidationFailed("The request body must be a JSON object.", code="invalid_json")
    return data


def json_endpoint(
    view: Callable[Concatenate[HttpRequest, User, P], dict[str, Any]],
) -> Callable[Concatenate[HttpRequest, P], HttpResponse]:
    """Signed in (401 in JSON otherwise, never a redirect), errors in the platform's shape."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        if not isinstance(request.user, User):
            body = error_body(
                "Sign in first.", error_type="authentication_error", code="not_signed_in"
            )
            return JsonResponse(body, status=401)
        try:
            return JsonResponse(view(request, request.user, *args, **kwargs))
        except ApplicationError as exc:
            return _json_error(exc)

    return wrapped


@require_safe
@json_endpoint
def conversation_list(request: HttpRequest, user: User) -> dict[str, Any]:
    team = current_team(request, requested=request.GET.get("team"))
    if team is None:
        return {"conversations": []}
    query = request.GET.get("q", "")[:200]
    conversations = selectors.conversation_list(team_id=team.pk, user=user, query=query)
    return {"team_id": team.pk, "conversations": [conversation_frame(c) for c in conversations]}


@require_safe
@json_endpoint
def conversation_detail(request: HttpRequest, user: User, conversation_id: int) -> dict[str, Any]:
    conversation = selectors.conversation_get(user=user, conversation_id=conversation_id)
    return {
        "conversation": conversation_frame(conversation),
        "messages": _messages_for(user, conversation),
    }


@require_POST
@json_endpoint
def conversation_rename(request: HttpRequest, user: User, conversation_id: int) -> dict[str, Any]:
    conversation = selectors.conversation_get(user=user, conversation_id=conversation_id)
    title = _json_body(request).get("title")
    if not isinstance(title, str):
        raise ValidationFailed("Give the new title as 'title'.", param="title")
    services.conversation_rename(conversation=conversation, title=title)
    return {"conversation": conversation_frame(conversation)}


@require_POST
@json_endpoint
def conversation_delete(request: HttpRequest, user: User, conversation_id: int) -> dict[str, Any]:
    conversation = selectors.conversation_get(user=user, conversation_id=conversation_id)
    services.conversation_delete(conversation=conversation)
    return {"deleted": conversation_id}


@require_POST
@json_endpoint
def message_feedback(request: HttpRequest, user: User, message_id: int) -> dict[str, Any]:
    message = selectors.message_get(user=user, message_id=message_id)
    data = _json_body(request)
    rating, comment = data.get("rating"), data.get("comment", "")
    if isinstance(rating, bool) or not isinstance(rating, int) or not isinstance(comment, str):
        raise ValidationFailed("Send 'rating' (1 or -1) and an optional 'comment' text.")
    feedback = services.feedback_submit(user=user, message=message, rating=rating, comment=comment)
    return {"message_id": message.pk, "rating": feedback.rating, "comment": feedback.comment}


# --- SSE fallback -------------------------------------------------------------------------


def _sse(frame: dict[str, Any]) -> bytes:
    return f"event: {frame['type']}\ndata: {json.dumps(frame)}\n\n".encode()


async def _sse_frames(reply: Reply) -> AsyncIterator[bytes]:
    # A closed connection cancels this generator (Django's ASGI handler watches for the
    # disconnect), which stops the answer just as "stop" does on the WebSocket.
    async with aclosing(reply.frames()) as frames:
        async for frame in frames:
            yield _sse(frame)


async def stream(request: HttpRequest) -> HttpResponseBase:
    """POST {type: ask|regenerate, ...the WebSocket's fields}: the answer's frames as
    Server-Sent Events, for networks that block WebSockets. Session and CSRF as any
    other POST from the page; stopping is closing the request."""
    if request.method != "POST":
        return _json_error(ValidationFailed("Use POST.", code="method_not_allowed"))
    user = await request.auser()
    if not isinstance(user, User):
        body = error_body("Sign in first.", error_type="authentication_error", code="not_signed_in")
        return JsonResponse(body, status=401)
    try:
        data = _json_body(request)
        ask = parse_ask(data, regenerate=data.get("type") == "regenerate")
    except ApplicationError as exc:
        return _json_error(exc)
    response = StreamingHttpResponse(_sse_frames(Reply(user=user, ask=ask)))
    response["Content-Type"] = "text/event-stream"
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # proxies must not hold events back
    return response


# --- Paywall (billing) --------------------------------------------------------------------
# A person whose organization cannot pay for the chat (payment failed, credits used up, a
# plan without the chat) is sent to the pricing page, which says why.


def _chat_organization(request: HttpRequest, kwargs: dict[str, Any]) -> int | None:
    if "conversation_id" in kwargs:
        try:
            conversation = selectors.conversation_get(
                user=_user(request), conversation_id=kwargs["conversation_id"]
            )
        except NotFound:
            return None  # the view answers 404
        return conversation.team.organization_id
    team = current_team(request, requested=request.GET.get("team"))
    return team.organization_id if team is not None else None


chat_home = paywalled(chat_home, organization_of=_chat_organization)
chat_conversation = paywalled(chat_conversation, organization_of=_chat_organization)
