"""The chat in a real browser: Debian's chromium, driven by Playwright, against a real
server process (uvicorn, Channels WebSockets over the Redis channel layer)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from billing.models import UsageRecord, UsageStatus
from chat.models import Conversation, Feedback, Message, MessageStatus
from chat.tests.browser.conftest import screenshot, sign_up, wait_until
from gateway.models import CatalogModel, Provider
from gateway.testing.peers import PeerServer

LONG_REPLY = " ".join(f"Sentence {n} of a long answer about the platform." for n in range(60))


def _send(page, text: str) -> None:
    box = page.get_by_label("Message", exact=True)
    box.fill(text)
    box.press("Enter")


def _last_answer(page):
    return page.locator(".msg--assistant").last


def test_sign_up_chat_regenerate_feedback_rename_and_find(browser_page):
    page, watch = browser_page
    page.goto("/")
    screenshot(page, "landing")
    sign_up(page, "newcomer@example.test")
    page.get_by_role("link", name="Chat", exact=True).click()
    page.wait_for_url("**/chat/")
    page.wait_for_selector("body[data-socket=open]")

    # Shift+Enter is a new line; Enter sends. The answer streams in token by token.
    box = page.get_by_label("Message", exact=True)
    box.fill("Hello there")
    box.press("Shift+Enter")
    box.type("how are you?")
    assert box.input_value() == "Hello there\nhow are you?"
    box.press("Enter")
    answer = _last_answer(page)
    answer.and_(page.locator("[data-status=streaming]")).wait_for()
    assert page.get_by_role("button", name="Stop").is_visible()
    answer.and_(page.locator("[data-status=complete]")).wait_for()
    assert "local extractive model" in answer.inner_text()
    page.wait_for_url(re.compile(r"/chat/c/\d+/$"))
    conversation = Conversation.objects.get(user__email="newcomer@example.test")
    assert conversation.team.name == "Default"
    first = Message.objects.get(conversation=conversation, role="assistant")
    ledger = UsageRecord.objects.get(request_id=first.request_id)
    assert (ledger.user_id, ledger.api_key_id) == (conversation.user_id, None)

    # Copy, then regenerate: the answer is replaced by a new one.
    answer.get_by_role("button", name="Copy", exact=True).click()
    answer.get_by_role("button", name="Copied").wait_for()
    old_id = answer.get_attribute("data-message-id")
    answer.get_by_role("button", name="Regenerate").click()
    page.locator(
        f".msg--assistant[data-status=complete]:not([data-message-id='{old_id}'])"
    ).wait_for()
    assert page.locator(".msg--assistant").count() == 1
    assert not Message.objects.filter(pk=old_id).exists()

    # Thumbs down with a comment.
    answer = _last_answer(page)
    answer.get_by_role("button", name="Bad answer").click()
    answer.get_by_label("What was wrong with this answer? (optional)").fill("Too generic")
    answer.get_by_role("button", name="Send feedback").click()
    page.get_by_text("Thanks for the feedback.").wait_for()
    assert answer.get_by_role("button", name="Bad answer").get_attribute("aria-pressed") == "true"
    feedback = Feedback.objects.get()
    assert (feedback.rating, feedback.comment) == (-1, "Too generic")
    screenshot(page, "chat")

    # A second conversation, then rename the first and find it by its new title.
    page.get_by_role("link", name="New chat").click()
    page.wait_for_url("**/chat/?team=*")
    page.wait_for_selector("body[data-socket=open]")
    _send(page, "Second topic")
    _last_answer(page).and_(page.locator("[data-status=complete]")).wait_for()
    item = page.locator(f".conversation[data-conversation-id='{conversation.pk}']")
    item.hover()
    item.get_by_role("button", name="Rename").click()
    title = item.get_by_label("New title")
    title.fill("Onboarding notes")
    title.press("Enter")
    item.get_by_role("link", name="Onboarding notes").wait_for()
    page.get_by_label("Search conversations by title").fill("onboard")
    expect(page.locator(".conversation")).to_have_count(1)
    page.get_by_role("link", name="Onboarding notes").click()
    page.wait_for_url(f"**/chat/c/{conversation.pk}/")
    assert page.locator(".msg").count() == 2
    assert not watch.errors
    assert not watch.dialogs
    assert not watch.csp_violations

    # The same page on a phone: the sidebar is a drawer.
    page.set_viewport_size({"width": 390, "height": 844})
    assert not page.locator("[data-sidebar]").is_visible()
    page.get_by_role("button", name="Conversations").click()
    assert page.locator("[data-sidebar]").is_visible()
    screenshot(page, "chat-phone")


@pytest.fixture
def slow_model():
    """A model behind a local OpenAI-compatible peer that writes slowly and at length."""
    with PeerServer() as peer:
        peer.set(tokens_per_second=25, reply=LONG_REPLY)
        provider = Provider.objects.create(
            name="slow-peer", kind="openai", base_url=f"{peer.base_url}/v1", api_key="sk-peer"
        )
        CatalogModel.objects.create(
            name="slow-writer", provider=provider, upstream_name="gpt-4o",
            context_window=16000, max_output_tokens=2048,
        )  # fmt: skip
        yield peer


def test_stop_a_long_answer(browser_page, slow_model):
    page, watch = browser_page
    sign_up(page, "stopper@example.test")
    page.goto("/chat/")
    page.wait_for_selector("body[data-socket=open]")
    page.get_by_label("Model").select_option("slow-writer")
    _send(page, "Tell me everything")
    answer = _last_answer(page)
    answer.and_(page.locator("[data-status=streaming]")).wait_for()
    # Wait for a few words (the page's CSP forbids Playwright's string-eval waits).
    tail = answer.locator(".msg__tail")
    wait_until(lambda: len(tail.inner_text()) > 40)
    page.get_by_role("button", name="Stop").click()
    answer.and_(page.locator("[data-status=stopped]")).wait_for()
    page.get_by_text("Stopped. This is what was written before you stopped it.").wait_for()
    stored = Message.objects.get(pk=answer.get_attribute("data-message-id"))
    assert stored.status == MessageStatus.STOPPED
    assert 0 < len(stored.content) < len(LONG_REPLY) / 2
    wait_until(lambda: UsageRecord.objects.filter(request_id=stored.request_id).exists())
    ledger = UsageRecord.objects.get(request_id=stored.request_id)
    assert ledger.status == UsageStatus.CLIENT_CANCELLED
    assert ledger.output_tokens > 0
    # The upstream stream was cut: the peer did not write the whole answer.
    assert page.get_by_role("button", name="Send").is_visible()
    assert not watch.errors
