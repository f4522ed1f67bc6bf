"""Resource API for knowledge bases under /api/teams/{team_id}/...: collections, documents
(multipart upload, progress, replace, delete, re-index) and search.

Reading and searching need access to the team (API keys: the ``read`` scope); changing
anything needs the right to manage it (keys: ``manage``). Another tenant's team,
collection or document is not found (404).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import access_team
from accounts.apis import actor_of
from core.errors import ValidationFailed
from knowledge import selectors, services
from knowledge.embeddings import available_models
from knowledge.models import Collection, Document
from knowledge.search import SEARCH_MODES, search


class CollectionOutputSerializer(serializers.ModelSerializer[Collection]):
    document_count = serializers.SerializerMethodField()

    class Meta:
        model = Collection
        fields = [
            "id",
            "team_id",
            "name",
            "description",
            "embedding_model",
            "embedding_dimension",
            "is_default",
            "document_count",
            "created_at",
            "updated_at",
        ]

    def get_document_count(self, collection: Collection) -> int:
        return int(getattr(collection, "document_count", collection.documents.count()))


class DocumentOutputSerializer(serializers.ModelSerializer[Document]):
    progress = serializers.FloatField()
    deduplicated = serializers.BooleanField()

    class Meta:
        model = Document
        fields = [
            "id",
            "collection_id",
            "name",
            "file_type",
            "size_bytes",
            "content_hash",
            "status",
            "progress",
            "chunks_done",
            "chunks_total",
            "page_count",
            "error",
            "deduplicated",
            "created_at",
            "updated_at",
        ]


class CollectionListApi(APIView):
    class InputSerializer(serializers.Serializer[Any]):
        class Meta:
            ref_name = "CollectionCreateInput"

        name = serializers.CharField(max_length=120)
        description = serializers.CharField(required=False, allow_blank=True, default="")
        embedding_model = serializers.CharField(required=False, allow_blank=True, default="")
        is_default = serializers.BooleanField(required=False, default=False)

    @extend_schema(responses=CollectionOutputSerializer(many=True), summary="A team's collections")
    def get(self, request: Request, team_id: int) -> Response:
        team = access_team(actor_of(request), team_id)
        collections = selectors.collection_list(team_id=team.pk)
        return Response(CollectionOutputSerializer(collections, many=True).data)

    @extend_schema(
        request=InputSerializer,
        responses={201: CollectionOutputSerializer},
        summary=f"Create a collection (embedding models: {', '.join(available_models())})",
    )
    def post(self, request: Request, team_id: int) -> Response:
        actor = actor_of(request)
        team = access_team(actor, team_id, manage=True)
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        collection = services.collection_create(
            team=team,
            name=data["name"],
            description=data["description"],
            embedding_model=data["embedding_model"] or None,
            is_default=data["is_default"],
            created_by=actor.user,
        )
        return Response(CollectionOutputSerializer(collection).data, status=status.HTTP_201_CREATED)


class CollectionDetailApi(APIView):
    class InputSerializer(serializers.Serializer[Any]):
        class Meta:
            ref_name = "CollectionUpdateInput"

        name = serializers.CharField(max_length=120, required=False)
        description = serializers.CharField(required=False, allow_blank=True)
        embedding_model = serializers.CharField(required=False)
        is_default = serializers.BooleanField(required=False)

    @extend_schema(responses=CollectionOutputSerializer, summary="A collection")
    def get(self, request: Request, team_id: int, collection_id: int) -> Response:
        team = access_team(actor_of(request), team_id)
        collection = selectors.collection_get(team_id=team.pk, collection_id=collection_id)
        return Response(CollectionOutputSerializer(collection).data)

    @extend_schema(
        request=InputSerializer,
        responses=CollectionOutputSerializer,
        summary="Change a collection (a new embedding model re-embeds its documents)",
    )
    def patch(self, request: Request, team_id: int, collection_id: int) -> Response:
        team = access_team(actor_of(request), team_id, manage=True)
        collection = selectors.collection_get(team_id=team.pk, collection_id=collection_id)
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        collection = services.collection_update(collection=collection, **payload.validated_data)
        return Response(CollectionOutputSerializer(collection).data)

    @extend_schema(responses={204: None}, summary="Delete a collection, its documents and files")
    def delete(self, request: Request, team_id: int, collection_id: int) -> Response:
        team = access_team(actor_of(request), team_id, manage=True)
        collection = selectors.collection_get(team_id=team.pk, collection_id=collection_id)
        services.collection_delete(collection=collection)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UploadSerializer(serializers.Serializer[Any]):
    class Meta:
        ref_name = "DocumentUploadInput"

    file = serializers.FileField(allow_empty_file=False)
    name = serializers.CharField(max_length=255, required=False, allow_blank=True)


class DocumentListApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        responses=DocumentOutputSerializer(many=True), summary="Documents, with progress"
    )
    def get(self, request: Request, team_id: int, collection_id: int) -> Response:
        team = access_team(actor_of(request), team_id)
        documents = selectors.document_list(team_id=team.pk, collection_id=collection_id)
        return Response(DocumentOutputSerializer(documents, many=True).data)

    @extend_schema(
        request={"multipart/form-data": UploadSerializer},
        responses={201: DocumentOutputSerializer, 200: DocumentOutputSerializer},
        summary="Upload a document (multipart); 200 if the same content is already there",
    )
    def post(self, request: Request, team_id: int, collection_id: int) -> Response:
        actor = actor_of(request)
        team = access_team(actor, team_id, manage=True)
        collection = selectors.collection_get(team_id=team.pk, collection_id=collection_id)
        payload = UploadSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        document = services.document_upload(
            collection=collection,
            uploaded_file=payload.validated_data["file"],
            name=payload.validated_data.get("name") or None,
            uploaded_by=actor.user,
        )
        code = status.HTTP_200_OK if document.deduplicated else status.HTTP_201_CREATED
        return Response(DocumentOutputSerializer(document).data, status=code)


class DocumentDetailApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(responses=DocumentOutputSerializer, summary="A document and its progress")
    def get(self, request: Request, team_id: int, document_id: int) -> Response:
        team = access_team(actor_of(request), team_id)
        document = selectors.document_get(team_id=team.pk, document_id=document_id)
        return Response(DocumentOutputSerializer(document).data)

    @extend_schema(
        request={"multipart/form-data": UploadSerializer},
        responses=DocumentOutputSerializer,
        summary="Replace a document's file (re-indexes it)",
    )
    def put(self, request: Request, team_id: int, document_id: int) -> Response:
        actor = actor_of(request)
        team = access_team(actor, team_id, manage=True)
        document = selectors.document_get(team_id=team.pk, document_id=document_id)
        payload = UploadSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        document = services.document_replace(
            document=document,
            uploaded_file=payload.validated_data["file"],
            name=payload.validated_data.get("name") or None,
            uploaded_by=actor.user,
        )
        return Response(DocumentOutputSerializer(document).data)

    @extend_schema(responses={204: None}, summary="Delete a document, its chunks and its file")
    def delete(self, request: Request, team_id: int, document_id: int) -> Response:
        team = access_team(actor_of(request), team_id, manage=True)
        document = selectors.document_get(team_id=team.pk, document_id=document_id)
        services.document_delete(document=document)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DocumentReindexApi(APIView):
    @extend_schema(request=None, responses=DocumentOutputSerializer, summary="Index again")
    def post(self, request: Request, team_id: int, document_id: int) -> Response:
        team = access_team(actor_of(request), team_id, manage=True)
        document = selectors.document_get(team_id=team.pk, document_id=document_id)
        document = services.document_reindex(document=document)
        return Response(DocumentOutputSerializer(document).data, status=status.HTTP_202_ACCEPTED)


class SearchApi(APIView):
    parser_classes = [JSONParser]

    class InputSerializer(serializers.Serializer[Any]):
        class Meta:
            ref_name = "KnowledgeSearchInput"

        query = serializers.CharField(max_length=2000)
        collection_ids = serializers.ListField(
            child=serializers.IntegerField(), required=False, allow_null=True, max_length=100
        )
        top_k = serializers.IntegerField(required=False, default=5, min_value=1)
        mode = serializers.ChoiceField(choices=list(SEARCH_MODES), required=False, default="hybrid")

    class OutputSerializer(serializers.Serializer[Any]):
        class Meta:
            ref_name = "KnowledgeSearchHit"

        document_id = serializers.IntegerField()
        document_name = serializers.CharField()
        collection_id = serializers.IntegerField()
        page = serializers.IntegerField(allow_null=True)
        chunk_index = serializers.IntegerField()
        heading = serializers.CharField(allow_blank=True)
        text = serializers.CharField()
        score = serializers.FloatField()

    @extend_schema(
        request=InputSerializer,
        responses=OutputSerializer(many=True),
        summary="Search the team's collections (hybrid, vector or words)",
    )
    def post(self, request: Request, team_id: int) -> Response:
        team = access_team(actor_of(request), team_id)
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        if not data["query"].strip():
            raise ValidationFailed("query must not be blank.", param="query")
        hits = search(
            team_id=team.pk,
            query=data["query"],
            collection_ids=data.get("collection_ids"),
            top_k=data["top_k"],
            mode=data["mode"],
        )
        return Response(self.OutputSerializer(hits, many=True).data)
