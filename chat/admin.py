"""Console: people's feedback on answers (what product teams read), read-only.

Conversations themselves are not shown, nor the rated answer: they are private to the
person who had them, and the console is for governance, not for reading people's chats.
The comment is shown: people write it for the operators.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from chat.models import Feedback


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin[Feedback]):
    list_display = ("created_at", "rating", "short_comment", "model_used", "team", "user")
    list_filter = ("rating", "created_at")
    list_select_related = ("message__conversation__team", "user")
    readonly_fields = ("created_at", "user", "rating", "comment", "model_used", "request_id")
    fields = readonly_fields
    date_hierarchy = "created_at"

    @admin.display(description="Comment")
    def short_comment(self, feedback: Feedback) -> str:
        return feedback.comment[:80] + ("…" if len(feedback.comment) > 80 else "")

    @admin.display(description="Model")
    def model_used(self, feedback: Feedback) -> str:
        return feedback.message.model_used

    @admin.display(description="Team")
    def team(self, feedback: Feedback) -> str:
        return str(feedback.message.conversation.team)

    @admin.display(description="Ledger request id")
    def request_id(self, feedback: Feedback) -> str:
        return feedback.message.request_id

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Feedback | None = None) -> bool:
        return False
