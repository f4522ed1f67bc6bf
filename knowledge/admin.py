"""Console: collections and documents with their ingestion progress (read-mostly: uploads
go through the service so files, hashes and the task queue stay consistent)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from knowledge import services
from knowledge.models import Collection, Document, DocumentStatus


class UploadForm(forms.ModelForm[Document]):
    upload = forms.FileField(help_text="The file is stored and indexed in the background.")

    class Meta:
        model = Document
        fields = ["collection"]


@admin.register(Collection)
class CollectionAdmin(admin.ModelAdmin[Collection]):
    list_display = ["name", "team", "embedding_model", "is_default", "documents", "created_at"]
    list_filter = ["embedding_model", "is_default"]
    search_fields = ["name", "team__name", "team__organization__name"]
    readonly_fields = ["embedding_dimension", "created_by", "created_at", "updated_at"]
    raw_id_fields = ["team"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Collection]:
        return (
            super()
            .get_queryset(request)
            .select_related("team__organization")
            .annotate(document_total=Count("documents"))
        )

    @admin.display(description="documents", ordering="document_total")
    def documents(self, obj: Collection) -> int:
        return int(getattr(obj, "document_total", 0))

    def save_model(self, request: HttpRequest, obj: Collection, form: Any, change: bool) -> None:
        if change:
            services.collection_update(
                collection=obj,
                name=obj.name,
                description=obj.description,
                embedding_model=obj.embedding_model,
                is_default=obj.is_default,
            )
            return
        created = services.collection_create(
            team=obj.team,
            name=obj.name,
            description=obj.description,
            embedding_model=obj.embedding_model or None,
            is_default=obj.is_default,
            created_by=request.user if request.user.is_authenticated else None,
        )
        obj.pk = created.pk

    def delete_model(self, request: HttpRequest, obj: Collection) -> None:
        services.collection_delete(collection=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Collection]) -> None:
        for collection in queryset:
            services.collection_delete(collection=collection)


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin[Document]):
    list_display = [
        "name",
        "collection",
        "team",
        "status",
        "progress_bar",
        "page_count",
        "updated_at",
    ]
    list_filter = ["status", "file_type"]
    search_fields = ["name", "content_hash", "collection__name", "team__name"]
    actions = ["reindex"]
    readonly_fields = [
        "team",
        "collection",
        "name",
        "file",
        "file_type",
        "size_bytes",
        "content_hash",
        "status",
        "progress_bar",
        "chunks_done",
        "chunks_total",
        "page_count",
        "error",
        "attempts",
        "indexed_hash",
        "indexed_model",
        "lease_expires_at",
        "uploaded_by",
        "created_at",
        "updated_at",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Document]:
        return super().get_queryset(request).select_related("collection", "team__organization")

    def get_form(
        self, request: HttpRequest, obj: Document | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = UploadForm
            kwargs["fields"] = ["collection"]
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Document | None = None) -> Any:
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request: HttpRequest, obj: Document | None = None) -> Any:
        return ["collection", "upload"] if obj is None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Document, form: Any, change: bool) -> None:
        if change:
            return
        document = services.document_upload(
            collection=form.cleaned_data["collection"],
            uploaded_file=form.cleaned_data["upload"],
            uploaded_by=request.user if request.user.is_authenticated else None,
        )
        obj.pk = document.pk

    def delete_model(self, request: HttpRequest, obj: Document) -> None:
        services.document_delete(document=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        for document in queryset:
            services.document_delete(document=document)

    @admin.display(description="progress")
    def progress_bar(self, obj: Document) -> str:
        if obj.status == DocumentStatus.FAILED:
            return format_html('<span title="{}">failed: {}</span>', obj.error, obj.error[:80])
        return format_html(
            '<progress value="{}" max="100"></progress> {} / {} chunks',
            round(obj.progress * 100),
            obj.chunks_done,
            obj.chunks_total,
        )

    @admin.action(description="Index the selected documents again")
    def reindex(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        done = 0
        for document in queryset:
            if document.file:
                services.document_reindex(document=document)
                done += 1
        self.message_user(request, f"{done} document(s) queued for indexing.", messages.SUCCESS)
