"""Knowledge in a real browser: upload a document, watch it being indexed live (pushed
over the WebSocket from the Celery worker), ask about it and follow the citation; and
script injection through a message and a document name, which must never run."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from chat.tests.browser.conftest import screenshot, sign_up
from knowledge.models import Document, DocumentStatus
from knowledge.tests.pdfgen import make_pdf

HANDBOOK = make_pdf(
    [
        ["Acme employee handbook.", "Welcome to Acme. This handbook explains how we work."],
        ["Paid leave.", "Every employee gets 27 days of paid leave per calendar year."],
    ]
)
EVIL_NAME = "<img src=x onerror=alert(1)>notes.txt"  # browsers escape quotes in file names
EVIL_FILE = b"The office dog is called Biscuit and sleeps under the reception desk."
EVIL_MESSAGE = '<script>alert(2)</script> <img src=y onerror="alert(3)"> **still markdown**'


def _create_collection(page, name: str) -> None:
    page.goto("/knowledge/")
    page.get_by_label("New collection").fill(name)
    page.get_by_role("button", name="Create collection").click()
    page.get_by_role("heading", name=name).wait_for()
    page.wait_for_selector("body[data-socket=open]")


def _upload(page, name: str, data: bytes, mime: str) -> None:
    page.get_by_label("Files to upload").set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": data}]
    )
    page.get_by_text("Uploaded. Indexing runs in the background").wait_for()


def _ask_with_knowledge(page, collection: str, question: str):
    page.goto("/chat/")
    page.wait_for_selector("body[data-socket=open]")
    page.get_by_text("Knowledge: off").click()
    page.get_by_label(collection).check()
    box = page.get_by_label("Message", exact=True)
    box.fill(question)
    box.press("Enter")
    answer = page.locator(".msg--assistant").last
    # Generous: the first question loads the embedding model in the server process.
    answer.and_(page.locator("[data-status=complete]")).wait_for(timeout=90_000)
    return answer


@pytest.mark.usefixtures("celery_worker")
def test_upload_watch_progress_and_ask_with_a_citation(browser_page):
    page, watch = browser_page
    sign_up(page, "reader@example.test")
    _create_collection(page, "Handbook")
    _upload(page, "handbook.pdf", HANDBOOK, "application/pdf")
    row = page.locator("tr", has_text="handbook.pdf")
    # Progress is pushed live: no reload between "Queued" and "Ready".
    expect(row.locator("[data-document-status]")).to_have_text("Ready", timeout=120_000)
    assert Document.objects.get(name="handbook.pdf").status == DocumentStatus.READY
    screenshot(page, "knowledge")

    answer = _ask_with_knowledge(page, "Handbook", "How many days of paid leave per year?")
    assert "27 days of paid leave" in answer.inner_text()
    citation = answer.get_by_role("link", name="handbook.pdf, page 2")
    citation.wait_for()
    screenshot(page, "chat-citations")
    citation.click()
    page.wait_for_url("**/documents/*/?page=2#page-2")
    cited = page.locator("#page-2")
    expect(cited).to_contain_text("27 days of paid leave")
    expect(cited.get_by_text("cited")).to_be_visible()
    screenshot(page, "document")
    assert not watch.errors
    assert not watch.dialogs
    assert not watch.csp_violations


@pytest.mark.usefixtures("celery_worker")
def test_script_injection_in_a_message_and_a_document_name_never_runs(browser_page):
    page, watch = browser_page
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    sign_up(page, "mallory@example.test")
    _create_collection(page, "Pets")
    _upload(page, EVIL_NAME, EVIL_FILE, "text/plain")
    row = page.locator("tr", has_text="notes.txt")
    expect(row.get_by_role("link")).to_have_text(EVIL_NAME)  # shown as text
    expect(row.locator("[data-document-status]")).to_have_text("Ready", timeout=120_000)
    page.reload()  # the server-rendered list as well as the script-built row
    expect(page.locator("tr", has_text="notes.txt").get_by_role("link")).to_have_text(EVIL_NAME)

    answer = _ask_with_knowledge(page, "Pets", "What is the office dog called?")
    expect(answer.get_by_role("link", name=f"{EVIL_NAME}")).to_be_visible()
    assert "Biscuit" in answer.inner_text()

    box = page.get_by_label("Message", exact=True)
    box.fill(EVIL_MESSAGE)
    box.press("Enter")
    question = page.locator(".msg--user").last
    expect(question).to_contain_text("<script>alert(2)</script>")
    expect(question.locator("strong")).to_have_text("still markdown")
    page.locator(".msg--assistant").last.and_(page.locator("[data-status=complete]")).wait_for()
    page.reload()  # and once more as rendered from storage
    expect(page.locator(".msg--user").last).to_contain_text('<img src=y onerror="alert(3)">')

    assert watch.dialogs == []  # no alert() ran
    assert not [url for url in requests if url.endswith(("/x", "/y"))]  # no <img> was built
    assert page.locator(".msg img, tr img").count() == 0
    assert page.locator(".msg script").count() == 0
