"""Resource API: collections, uploads, progress, search; owner, member, outsider and keys."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from accounts.access import Actor
from accounts.models import Role
from accounts.services import api_key_create
from accounts.tests.factories import MembershipFactory, TeamMembershipFactory, UserFactory
from knowledge.models import Chunk, Document, DocumentStatus
from knowledge.tests.pdfgen import make_pdf

NOTE = b"# Parking\n\nVisitors park on level -2, bay 14 to 30, after registering at reception.\n"


def _upload(client, team_id, collection_id, name, data, **extra):
    return client.post(
        f"/api/teams/{team_id}/collections/{collection_id}/documents",
        {"file": SimpleUploadedFile(name, data), **extra},
        format="multipart",
    )


@pytest.fixture
def uploaded(world, client_as, collection_a, django_capture_on_commit_callbacks):
    client = client_as(world.member_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client, world.team_a.pk, collection_a.pk, "parking.md", NOTE)
    assert response.status_code == 201, response.content
    return response.json()


def test_collection_crud(world, client_as):
    client = client_as(world.owner_a)
    base = f"/api/teams/{world.team_a.pk}/collections"
    created = client.post(base, {"name": "Policies", "description": "HR"}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert body["embedding_model"] == "all-MiniLM-L6-v2"
    assert body["embedding_dimension"] == 384
    assert body["is_default"] is True  # the team's first
    assert client.post(base, {"name": "Policies"}, format="json").json()["error"]["code"] == (
        "duplicate_name"
    )
    bad = client.post(base, {"name": "X", "embedding_model": "nope"}, format="json")
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "embedding_model"
    second = client.post(base, {"name": "Legal", "is_default": True}, format="json").json()
    assert [c["is_default"] for c in client.get(base).json()] == [True, False]  # Legal, Policies
    detail = f"{base}/{second['id']}"
    renamed = client.patch(detail, {"name": "Legal & Compliance"}, format="json")
    assert renamed.json()["name"] == "Legal & Compliance"
    assert client.delete(detail).status_code == 204
    assert client.get(detail).status_code == 404


def test_upload_progress_and_search(world, client_as, uploaded, collection_a):
    client = client_as(world.owner_a)
    assert uploaded["status"] == "queued"
    detail = client.get(f"/api/teams/{world.team_a.pk}/documents/{uploaded['id']}").json()
    assert detail["status"] == "ready"
    assert detail["progress"] == 1.0
    assert detail["chunks_done"] == detail["chunks_total"] == 1
    listed = client.get(
        f"/api/teams/{world.team_a.pk}/collections/{collection_a.pk}/documents"
    ).json()
    assert [d["id"] for d in listed] == [uploaded["id"]]
    hits = client.post(
        f"/api/teams/{world.team_a.pk}/search", {"query": "where can visitors park"}, format="json"
    )
    assert hits.status_code == 200
    assert hits.json()[0]["document_id"] == uploaded["id"]
    assert hits.json()[0]["heading"] == "Parking"


def test_same_file_again_answers_200_with_the_same_document(
    world, client_as, uploaded, collection_a
):
    again = _upload(client_as(world.owner_a), world.team_a.pk, collection_a.pk, "copy.md", NOTE)
    assert again.status_code == 200
    assert again.json()["id"] == uploaded["id"]
    assert again.json()["deduplicated"] is True


def test_corrupt_pdf_fails_with_a_reason_over_the_api(
    world, client_as, collection_a, django_capture_on_commit_callbacks
):
    client = client_as(world.owner_a)
    broken = make_pdf([["fine"]] * 3)[:200]
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client, world.team_a.pk, collection_a.pk, "broken.pdf", broken)
    document = client.get(f"/api/teams/{world.team_a.pk}/documents/{response.json()['id']}").json()
    assert document["status"] == "failed"
    assert "damaged" in document["error"]


def test_replace_and_delete(world, client_as, uploaded, django_capture_on_commit_callbacks):
    client = client_as(world.owner_a)
    url = f"/api/teams/{world.team_a.pk}/documents/{uploaded['id']}"
    with django_capture_on_commit_callbacks(execute=True):
        replaced = client.put(
            url,
            {"file": SimpleUploadedFile("parking.md", b"Parking moved to level -3.")},
            format="multipart",
        )
    assert replaced.status_code == 200
    assert client.get(url).json()["status"] == "ready"
    assert "level -3" in Chunk.objects.get(document_id=uploaded["id"]).text
    assert client.delete(url).status_code == 204
    assert not Document.objects.filter(pk=uploaded["id"]).exists()
    assert client.get(url).status_code == 404


def test_outsider_sees_nothing_and_changes_nothing(world, client_as, uploaded, collection_a):
    client = client_as(world.outsider_b)
    team = world.team_a.pk
    document = uploaded["id"]
    for response in [
        client.get(f"/api/teams/{team}/collections"),
        client.get(f"/api/teams/{team}/collections/{collection_a.pk}"),
        client.get(f"/api/teams/{team}/collections/{collection_a.pk}/documents"),
        client.get(f"/api/teams/{team}/documents/{document}"),
        client.delete(f"/api/teams/{team}/documents/{document}"),
        client.post(f"/api/teams/{team}/documents/{document}/reindex"),
        client.post(f"/api/teams/{team}/search", {"query": "park"}, format="json"),
        _upload(client, team, collection_a.pk, "x.md", b"hi"),
    ]:
        assert response.status_code == 404, response.request
        assert (
            response.json()["error"]["type"] == "not_found_error"
            or response.json()["error"]["code"] == "not_found"
        )
    # Their own team id with our collection or document id: still not found.
    own = world.team_b.pk
    assert client.get(f"/api/teams/{own}/collections/{collection_a.pk}").status_code == 404
    assert client.get(f"/api/teams/{own}/documents/{document}").status_code == 404
    assert (
        client.post(
            f"/api/teams/{own}/search",
            {"query": "park", "collection_ids": [collection_a.pk]},
            format="json",
        ).status_code
        == 404
    )
    assert Document.objects.filter(pk=document).exists()


def test_viewers_read_but_do_not_change(world, client_as, uploaded, collection_a):
    viewer = UserFactory()
    MembershipFactory(organization=world.org_a, user=viewer, role=Role.VIEWER)
    TeamMembershipFactory(team=world.team_a, user=viewer)
    client = client_as(viewer)
    assert client.get(f"/api/teams/{world.team_a.pk}/documents/{uploaded['id']}").status_code == 200
    assert (
        client.post(
            f"/api/teams/{world.team_a.pk}/search", {"query": "park"}, format="json"
        ).status_code
        == 200
    )
    refused = _upload(client, world.team_a.pk, collection_a.pk, "x.md", b"hi")
    assert refused.status_code == 403
    assert (
        client.delete(f"/api/teams/{world.team_a.pk}/documents/{uploaded['id']}").status_code == 403
    )


def test_api_keys_need_read_to_search_and_manage_to_upload(world, uploaded, collection_a):
    actor = Actor(user=world.owner_a)
    _, reader = api_key_create(actor=actor, team=world.team_a, name="reader", scopes=["read"])
    _, manager = api_key_create(
        actor=actor, team=world.team_a, name="mgr", scopes=["read", "manage"]
    )
    _, inference = api_key_create(actor=actor, team=world.team_a, name="inf", scopes=["inference"])
    client = APIClient()
    search_url = f"/api/teams/{world.team_a.pk}/search"
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {reader}")
    assert client.post(search_url, {"query": "park"}, format="json").status_code == 200
    assert _upload(client, world.team_a.pk, collection_a.pk, "x.md", b"hi").status_code == 403
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {manager}")
    assert _upload(client, world.team_a.pk, collection_a.pk, "x.md", b"hi").status_code == 201
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {inference}")
    assert client.post(search_url, {"query": "park"}, format="json").status_code == 403
    # A key of team A never reaches team B, even naming it.
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {manager}")
    assert client.get(f"/api/teams/{world.team_b.pk}/collections").status_code == 404


def test_bad_requests_get_the_error_shape(world, client_as, collection_a):
    client = client_as(world.owner_a)
    no_file = client.post(
        f"/api/teams/{world.team_a.pk}/collections/{collection_a.pk}/documents",
        {},
        format="multipart",
    )
    assert no_file.status_code == 400
    assert no_file.json()["error"]["param"] == "file"
    empty = _upload(client, world.team_a.pk, collection_a.pk, "empty.txt", b"")
    assert empty.status_code == 400
    search_url = f"/api/teams/{world.team_a.pk}/search"
    assert client.post(search_url, {"query": "x", "top_k": 0}, format="json").status_code == 400
    assert client.post(search_url, {"query": "x", "top_k": 500}, format="json").status_code == 400
    assert (
        client.post(search_url, {"query": "x", "mode": "fuzzy"}, format="json").json()["error"][
            "param"
        ]
        == "mode"
    )
    assert client.post(search_url, {"query": "   "}, format="json").status_code == 400


def test_over_the_size_limit_is_a_failed_document_not_a_stored_file(
    world, client_as, collection_a, settings
):
    settings.KNOWLEDGE_MAX_FILE_BYTES = 10
    client = client_as(world.owner_a)
    response = _upload(client, world.team_a.pk, collection_a.pk, "big.txt", b"x" * 2_000_000)
    assert response.status_code == 201
    assert response.json()["status"] == "failed"
    assert response.json()["error"] == "The file is 1.9 MB; the limit is 10 bytes."
    assert not Document.objects.get(pk=response.json()["id"]).file
    assert Document.objects.get(pk=response.json()["id"]).status == DocumentStatus.FAILED
