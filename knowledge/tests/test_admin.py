"""The console lists collections and documents with progress, and takes uploads."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.tests.factories import UserFactory
from knowledge.models import Document, DocumentStatus


def test_console_pages_and_upload(
    client, world, collection_a, ingest, django_capture_on_commit_callbacks
):
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    ready = ingest(collection_a, "manual.md", b"# Title\n\nSome text.")
    assert ready.status == DocumentStatus.READY
    assert client.get("/admin/knowledge/collection/").status_code == 200
    listing = client.get("/admin/knowledge/document/")
    assert listing.status_code == 200
    assert b"<progress" in listing.content
    assert client.get(f"/admin/knowledge/document/{ready.pk}/change/").status_code == 200
    assert client.get("/admin/knowledge/document/add/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/knowledge/document/add/",
            {
                "collection": collection_a.pk,
                "upload": SimpleUploadedFile("notes.txt", b"Admin upload text."),
            },
        )
    assert response.status_code == 302, response.content[:2000]
    uploaded = Document.objects.get(name="notes.txt")
    assert uploaded.status == DocumentStatus.READY
    assert uploaded.collection_id == collection_a.pk
