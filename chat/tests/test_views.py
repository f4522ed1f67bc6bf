"""Chat and knowledge pages and their JSON endpoints: tenancy by URL, the CSP, the SSE
fallback."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.models import Membership, Role
from chat.models import Conversation, Feedback, MessageRole
from knowledge.models import Document
from knowledge.services import collection_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_pages_need_a_sign_in(client):
    for url in ("/chat/", "/knowledge/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    assert client.get("/chat/api/conversations/").status_code == 401


def test_chat_page_lists_models_and_conversations_with_a_strict_csp(
    world, chat_catalogue, owner_conversation
):
    response = _client(world.owner_a).get("/chat/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'value="chat-default" selected' in page
    assert 'value="local-extractive"' in page
    assert "Quarterly plan" in page
    policy = response["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert "<script>" not in page  # data goes in as JSON blocks, code as files


def test_a_conversation_page_is_only_for_its_owner(world, chat_catalogue, owner_conversation):
    url = f"/chat/c/{owner_conversation.pk}/"
    response = _client(world.owner_a).get(url)
    assert response.status_code == 200
    assert "The plan is" in response.content.decode()  # inside the messages' JSON block
    for intruder in (world.member_a, world.outsider_b):
        assert _client(intruder).get(url).status_code == 404


@pytest.mark.parametrize("intruder", ["member_a", "outsider_b"])
def test_json_endpoints_refuse_other_peoples_conversations(world, owner_conversation, intruder):
    client = _client(getattr(world, intruder))
    pk = owner_conversation.pk
    answer = owner_conversation.messages.get(role=MessageRole.ASSISTANT)
    assert client.get(f"/chat/api/conversations/{pk}/").status_code == 404
    responses = [
        client.post(
            f"/chat/api/conversations/{pk}/rename/", {"title": "Mine"},
            content_type="application/json",
        ),
        client.post(f"/chat/api/conversations/{pk}/delete/", content_type="application/json"),
        client.post(
            f"/chat/api/messages/{answer.pk}/feedback/", {"rating": -1},
            content_type="application/json",
        ),
    ]  # fmt: skip
    for response in responses:
        assert response.status_code == 404
        assert response.json()["error"]["code"] in {"conversation_not_found", "message_not_found"}
    listed = client.get(f"/chat/api/conversations/?team={world.team_a.pk}").json()
    assert listed["conversations"] == []
    owner_conversation.refresh_from_db()
    assert owner_conversation.title == "Quarterly plan"
    assert not Feedback.objects.exists()


def test_owner_renames_searches_rates_and_deletes(world, owner_conversation):
    client = _client(world.owner_a)
    pk = owner_conversation.pk
    renamed = client.post(
        f"/chat/api/conversations/{pk}/rename/", {"title": "Roadmap"},
        content_type="application/json",
    )  # fmt: skip
    assert renamed.json()["conversation"]["title"] == "Roadmap"
    found = client.get(f"/chat/api/conversations/?team={world.team_a.pk}&q=road").json()
    assert [c["id"] for c in found["conversations"]] == [pk]
    assert (
        client.get(f"/chat/api/conversations/?team={world.team_a.pk}&q=zzz").json()["conversations"]
        == []
    )
    answer = owner_conversation.messages.get(role=MessageRole.ASSISTANT)
    rated = client.post(
        f"/chat/api/messages/{answer.pk}/feedback/", {"rating": -1, "comment": "Outdated"},
        content_type="application/json",
    )  # fmt: skip
    assert rated.json() == {"message_id": answer.pk, "rating": -1, "comment": "Outdated"}
    detail = client.get(f"/chat/api/conversations/{pk}/").json()
    assert [m["rating"] for m in detail["messages"]] == [None, -1]
    assert "<strong>bold</strong>" in detail["messages"][1]["html"]
    assert client.post(f"/chat/api/conversations/{pk}/delete/").json() == {"deleted": pk}
    assert not Conversation.objects.filter(pk=pk).exists()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("not json", 400),
        (json.dumps({"title": ""}), 400),
        (json.dumps({"title": 5}), 400),
        (json.dumps(["a"]), 400),
    ],
)
def test_rename_errors_use_the_error_shape(world, owner_conversation, body, status):
    response = _client(world.owner_a).post(
        f"/chat/api/conversations/{owner_conversation.pk}/rename/",
        body, content_type="application/json",
    )  # fmt: skip
    assert response.status_code == status
    assert response.json()["error"]["message"]


def _read_stream(response) -> str:
    """The whole body of an async streaming response, read from this (the test's) thread
    so the ORM calls the stream makes see the test's transaction."""

    async def read() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    return async_to_sync(read)().decode()


def test_sse_fallback_streams_the_same_frames(world, chat_catalogue):
    client = _client(world.owner_a)
    response = client.post(
        "/chat/api/stream/", {"type": "ask", "text": "Over HTTP", "team_id": world.team_a.pk},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    body = _read_stream(response)
    frames = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]
    assert [f["type"] for f in frames][:2] == ["conversation", "start"]
    assert frames[-1]["type"] == "done"
    assert frames[-1]["status"] == "complete"
    conversation = Conversation.objects.get(user=world.owner_a)
    assert conversation.title == "Over HTTP"


def test_sse_fallback_checks_input_and_tenancy(world, owner_conversation):
    client = _client(world.outsider_b)
    bad = client.post("/chat/api/stream/", "{", content_type="application/json")
    assert bad.status_code == 400
    theirs = client.post(
        "/chat/api/stream/",
        {"type": "ask", "text": "hi", "conversation_id": owner_conversation.pk},
        content_type="application/json",
    )
    body = _read_stream(theirs)
    error = json.loads(body.split("data: ", 1)[1])
    assert (error["type"], error["status"]) == ("error", 404)
    assert (
        Client().post("/chat/api/stream/", {}, content_type="application/json").status_code == 401
    )


def test_knowledge_page_upload_and_delete(world):
    client = _client(world.member_a)
    created = client.post(
        f"/knowledge/teams/{world.team_a.pk}/collections/new/", {"name": "Handbook"}
    )
    assert created.status_code == 302
    collection = world.team_a.collections.get(name="Handbook")
    upload = client.post(
        f"/knowledge/teams/{world.team_a.pk}/collections/{collection.pk}/upload/",
        {"files": [SimpleUploadedFile("<img src=x onerror=alert(1)>.md", b"# Leave\n\n25 days.")]},
        HTTP_ACCEPT="application/json",
    )
    assert upload.status_code == 200
    [document] = upload.json()["documents"]
    assert document["status"] == "queued"
    page = client.get(f"/knowledge/?team={world.team_a.pk}&collection={collection.pk}")
    html = page.content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;.md" in html  # the name is text, escaped
    assert "<img src=x" not in html
    detail = client.get(f"/knowledge/teams/{world.team_a.pk}/documents/{document['id']}/")
    assert detail.status_code == 200
    downloaded = client.get(f"/knowledge/teams/{world.team_a.pk}/documents/{document['id']}/file/")
    assert downloaded["Content-Disposition"].startswith("attachment")
    assert downloaded["Content-Security-Policy"].startswith("sandbox")
    deleted = client.post(
        f"/knowledge/teams/{world.team_a.pk}/documents/{document['id']}/delete/",
        HTTP_ACCEPT="application/json",
    )
    assert deleted.json() == {"deleted": document["id"]}
    assert not Document.objects.exists()


def test_knowledge_urls_of_another_team_are_not_found(world):
    collection = collection_create(team=world.team_a, name="Secrets")
    client = _client(world.outsider_b)
    team = world.team_a.pk
    assert (
        client.post(f"/knowledge/teams/{team}/collections/new/", {"name": "x"}).status_code == 404
    )
    upload = client.post(
        f"/knowledge/teams/{team}/collections/{collection.pk}/upload/",
        {"files": [SimpleUploadedFile("a.txt", b"hello")]},
    )
    assert upload.status_code == 404
    assert client.get(f"/knowledge/teams/{team}/documents/1/").status_code == 404
    page = client.get(f"/knowledge/?team={team}").content.decode()
    assert "Secrets" not in page  # falls back to the outsider's own team


def test_viewers_may_look_but_not_upload(world):
    Membership.objects.filter(user=world.member_a).update(role=Role.VIEWER)
    collection = collection_create(team=world.team_a, name="Handbook")
    client = _client(world.member_a)
    assert client.get(f"/knowledge/?team={world.team_a.pk}").status_code == 200
    upload = client.post(
        f"/knowledge/teams/{world.team_a.pk}/collections/{collection.pk}/upload/",
        {"files": [SimpleUploadedFile("a.txt", b"hello")]},
    )
    assert upload.status_code == 403
    assert not Document.objects.exists()


def test_feedback_is_visible_in_admin(world, owner_conversation, admin_client):
    from chat import services

    answer = owner_conversation.messages.get(role=MessageRole.ASSISTANT)
    services.feedback_submit(user=world.owner_a, message=answer, rating=-1, comment="Wrong data")
    page = admin_client.get("/admin/chat/feedback/").content.decode()
    assert "Wrong data" in page
    assert "Thumbs down" in page
    assert "The plan is" not in page  # the conversation itself stays private
