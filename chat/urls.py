"""Chat and knowledge pages, their JSON endpoints and the SSE fallback."""

from django.urls import path

from chat import knowledge_views, views

app_name = "chat"

urlpatterns = [
    path("chat/", views.chat_home, name="home"),
    path("chat/c/<int:conversation_id>/", views.chat_conversation, name="conversation"),
    path("chat/api/conversations/", views.conversation_list, name="conversation_list"),
    path(
        "chat/api/conversations/<int:conversation_id>/",
        views.conversation_detail,
        name="conversation_detail",
    ),
    path(
        "chat/api/conversations/<int:conversation_id>/rename/",
        views.conversation_rename,
        name="conversation_rename",
    ),
    path(
        "chat/api/conversations/<int:conversation_id>/delete/",
        views.conversation_delete,
        name="conversation_delete",
    ),
    path(
        "chat/api/messages/<int:message_id>/feedback/",
        views.message_feedback,
        name="message_feedback",
    ),
    path("chat/api/stream/", views.stream, name="stream"),
    path("knowledge/", knowledge_views.knowledge_home, name="knowledge"),
    path(
        "knowledge/teams/<int:team_id>/collections/new/",
        knowledge_views.collection_create,
        name="collection_create",
    ),
    path(
        "knowledge/teams/<int:team_id>/collections/<int:collection_id>/upload/",
        knowledge_views.document_upload,
        name="document_upload",
    ),
    path(
        "knowledge/teams/<int:team_id>/documents/<int:document_id>/",
        knowledge_views.document_detail,
        name="document_detail",
    ),
    path(
        "knowledge/teams/<int:team_id>/documents/<int:document_id>/file/",
        knowledge_views.document_file,
        name="document_file",
    ),
    path(
        "knowledge/teams/<int:team_id>/documents/<int:document_id>/delete/",
        knowledge_views.document_delete,
        name="document_delete",
    ),
]
