from django.urls import path, re_path

from gateway import views

app_name = "gateway"

urlpatterns = [
    path("chat/completions", views.chat_completions, name="chat-completions"),
    path("messages", views.messages, name="messages"),
    path("embeddings", views.embeddings_create, name="embeddings"),
    path("models", views.models_list, name="models"),
    path("models/<path:model_id>", views.model_detail, name="model-detail"),
    path("generate", views.generate, name="generate"),
    path("usage", views.usage, name="usage"),
    re_path(r"^(?P<rest>.*)$", views.not_found),
]
