from django.urls import path

from knowledge import apis

urlpatterns = [
    path(
        "teams/<int:team_id>/collections",
        apis.CollectionListApi.as_view(),
        name="collection-list",
    ),
    path(
        "teams/<int:team_id>/collections/<int:collection_id>",
        apis.CollectionDetailApi.as_view(),
        name="collection-detail",
    ),
    path(
        "teams/<int:team_id>/collections/<int:collection_id>/documents",
        apis.DocumentListApi.as_view(),
        name="document-list",
    ),
    path(
        "teams/<int:team_id>/documents/<int:document_id>",
        apis.DocumentDetailApi.as_view(),
        name="document-detail",
    ),
    path(
        "teams/<int:team_id>/documents/<int:document_id>/reindex",
        apis.DocumentReindexApi.as_view(),
        name="document-reindex",
    ),
    path("teams/<int:team_id>/search", apis.SearchApi.as_view(), name="knowledge-search"),
]
