"""The knowledge page: collections, drag-and-drop uploads, live ingestion progress.

Every URL names the team first and goes through ``accounts.access``: another team's
collection or document is a 404. Changing things (new collection, upload, delete) needs
the right to manage the team; viewers look. Progress arrives over the chat WebSocket
(``knowledge.progress`` frames, sent by ``chat.receivers``), so the page needs no polling.
"""

from __future__ import annotations

import mimetypes
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from accounts.access import Actor, access_team, can_manage_team
from accounts.models import Team, User
from chat.views import current_team, team_choices
from core.errors import ApplicationError, Forbidden, NotFound, ValidationFailed, error_body
from knowledge import selectors as knowledge
from knowledge import services as knowledge_services
from knowledge.models import Document

# Files one upload request may carry (each is checked against KNOWLEDGE_MAX_FILE_BYTES).
MAX_FILES_PER_UPLOAD = 20


def _actor(request: HttpRequest) -> Actor:
    if not isinstance(request.user, User):
        raise Http404
    return Actor(user=request.user)


def _team(request: HttpRequest, team_id: int, *, manage: bool = False) -> Team:
    try:
        return access_team(_actor(request), team_id, manage=manage)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except Forbidden as exc:  # a viewer: may look, not change
        raise PermissionDenied(exc.message) from exc


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def document_view(team_id: int, document: Document) -> dict[str, Any]:
    return {
        "id": document.pk,
        "collection_id": document.collection_id,
        "name": document.name,
        "status": document.status,
        "status_label": document.get_status_display(),
        "chunks_done": document.chunks_done,
        "chunks_total": document.chunks_total,
        "error": document.error,
        "size_bytes": document.size_bytes,
        "url": reverse(
            "chat:document_detail", kwargs={"team_id": team_id, "document_id": document.pk}
        ),
        "delete_url": reverse(
            "chat:document_delete", kwargs={"team_id": team_id, "document_id": document.pk}
        ),
    }


@require_safe
@login_required
def knowledge_home(request: HttpRequest) -> HttpResponse:
    team = current_team(request, requested=request.GET.get("team"))
    if team is None:
        return render(request, "chat/no_team.html")
    collections = list(knowledge.collection_list(team_id=team.pk))
    selected = None
    wanted = request.GET.get("collection", "")
    if wanted.isdigit():
        selected = next((c for c in collections if c.pk == int(wanted)), None)
    if selected is None and collections:
        selected = collections[0]
    documents = (
        [
            document_view(team.pk, d)
            for d in knowledge.document_list(team_id=team.pk, collection_id=selected.pk)
        ]
        if selected
        else []
    )
    context = {
        "team": team,
        "teams": team_choices(request),
        "collections": collections,
        "selected": selected,
        "documents": documents,
        "can_manage": can_manage_team(_actor(request), team),
        "knowledge_config": {"teamId": team.pk, "socket": "/ws/chat/"},
    }
    return render(request, "knowledge/knowledge.html", context)


@require_POST
@login_required
def collection_create(request: HttpRequest, team_id: int) -> HttpResponse:
    try:
        team = _team(request, team_id, manage=True)
        collection = knowledge_services.collection_create(
            team=team,
            name=request.POST.get("name", "")[:120],
            description=request.POST.get("description", "")[:2000],
            created_by=request.user if isinstance(request.user, User) else None,
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(f"{reverse('chat:knowledge')}?team={team_id}")
    messages.success(request, f"Created the collection “{collection.name}”.")
    return redirect(f"{reverse('chat:knowledge')}?team={team.pk}&collection={collection.pk}")


@require_POST
@login_required
def document_upload(request: HttpRequest, team_id: int, collection_id: int) -> HttpResponse:
    """Multipart ``files`` (one or more). JSON in, JSON out for the page's script; a plain
    form post redirects back with a message."""
    try:
        team = _team(request, team_id, manage=True)
        collection = knowledge.collection_get(team_id=team.pk, collection_id=collection_id)
        files = request.FILES.getlist("files")
        if not files:
            raise ValidationFailed("Choose at least one file to upload.", param="files")
        if len(files) > MAX_FILES_PER_UPLOAD:
            raise ValidationFailed(
                f"Upload at most {MAX_FILES_PER_UPLOAD} files at a time.", param="files"
            )
        documents = [
            knowledge_services.document_upload(
                collection=collection,
                uploaded_file=f,
                uploaded_by=request.user if isinstance(request.user, User) else None,
            )
            for f in files
        ]
    except ApplicationError as exc:
        if _wants_json(request):
            body = error_body(exc.message, error_type=exc.error_type, code=exc.code)
            return JsonResponse(body, status=exc.status_code)
        if isinstance(exc, NotFound):
            raise Http404(exc.message) from exc
        messages.error(request, exc.message)
        return redirect(f"{reverse('chat:knowledge')}?team={team_id}&collection={collection_id}")
    if _wants_json(request):
        return JsonResponse({"documents": [document_view(team.pk, d) for d in documents]})
    messages.success(request, f"Uploaded {len(documents)} file(s); indexing has started.")
    return redirect(f"{reverse('chat:knowledge')}?team={team.pk}&collection={collection.pk}")


def _document(request: HttpRequest, team_id: int, document_id: int, **kw: bool) -> Document:
    team = _team(request, team_id, **kw)
    try:
        return knowledge.document_get(team_id=team.pk, document_id=document_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@require_safe
@login_required
def document_detail(request: HttpRequest, team_id: int, document_id: int) -> HttpResponse:
    """The document's passages, page by page: where a citation points."""
    document = _document(request, team_id, document_id)
    pages: dict[int | None, list[str]] = {}
    for chunk in knowledge.document_chunks(team_id=team_id, document_id=document.pk):
        pages.setdefault(chunk.page, []).append(chunk.text)
    cited = request.GET.get("page", "")
    context = {
        "team_id": team_id,
        "document": document,
        "pages": sorted(pages.items(), key=lambda item: (item[0] is None, item[0] or 0)),
        "cited_page": int(cited) if cited.isdigit() else None,
    }
    return render(request, "knowledge/document.html", context)


@require_safe
@login_required
def document_file(request: HttpRequest, team_id: int, document_id: int) -> FileResponse:
    """The original file. Always a download except PDFs (shown by the browser's viewer),
    and sandboxed: an uploaded HTML file must never run as a page of this site."""
    document = _document(request, team_id, document_id)
    if not document.file:
        raise Http404("This document has no stored file.")
    content_type = mimetypes.guess_type(document.name)[0] or "application/octet-stream"
    is_pdf = content_type == "application/pdf"
    response = FileResponse(
        document.file.open("rb"),
        as_attachment=not is_pdf,
        filename=document.name,
        content_type=content_type if is_pdf else "application/octet-stream",
    )
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_POST
@login_required
def document_delete(request: HttpRequest, team_id: int, document_id: int) -> HttpResponse:
    try:
        document = _document(request, team_id, document_id, manage=True)
    except Http404:
        if _wants_json(request):
            body = error_body(
                "No such document.", error_type="invalid_request_error", code="not_found"
            )
            return JsonResponse(body, status=404)
        raise
    collection_id = document.collection_id
    knowledge_services.document_delete(document=document)
    if _wants_json(request):
        return JsonResponse({"deleted": document_id})
    messages.success(request, f"Deleted “{document.name}”.")
    return redirect(f"{reverse('chat:knowledge')}?team={team_id}&collection={collection_id}")
