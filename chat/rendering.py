"""Markdown to safe HTML, on the server, for every message shown in the browser.

Three layers, each enough on its own against the usual attacks:
1. markdown-it with raw HTML off: ``<script>`` or ``<img onerror=...>`` in a message is
   escaped and shows as text;
2. nh3 (the Rust ``ammonia`` sanitizer) keeps only an allow-list of tags and attributes and
   only http(s)/mailto links, whatever the renderer produced;
3. the Content-Security-Policy (``script-src 'self'``) refuses inline script anyway.

Code blocks are highlighted by Pygments with CSS classes (``static/css/highlight.css``),
never inline styles, which the CSP would refuse (for the same reason table column
alignment, a style attribute, is dropped).
"""

from __future__ import annotations

import functools
from typing import Any

import nh3
from django.urls import reverse
from markdown_it import MarkdownIt
from pygments import highlight  # type: ignore[import-untyped]
from pygments.formatters import HtmlFormatter  # type: ignore[import-untyped]
from pygments.lexers import get_lexer_by_name  # type: ignore[import-untyped]
from pygments.util import ClassNotFound  # type: ignore[import-untyped]

_TAGS = {
    "p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "span", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "a",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "code": {"class"},
    "span": {"class"},
    "pre": {"class"},
    "ol": {"start"},
}
_URL_SCHEMES = {"http", "https", "mailto"}
# Longest code block that is highlighted; longer ones are shown plain (Pygments is linear
# but not free, and a pasted log file does not need colours).
_MAX_HIGHLIGHT_CHARS = 50_000


def _highlight(code: str, language: str, _attrs: str) -> str:
    if not language or len(code) > _MAX_HIGHLIGHT_CHARS:
        return ""  # markdown-it escapes and wraps it plainly
    try:
        lexer = get_lexer_by_name(language.strip().split()[0])
    except ClassNotFound:
        return ""
    return str(highlight(code, lexer, HtmlFormatter(nowrap=True)))


@functools.cache
def _markdown() -> MarkdownIt:
    return (
        MarkdownIt(
            "commonmark", {"html": False, "linkify": False, "breaks": True, "highlight": _highlight}
        )
        .enable("table")
        .enable("strikethrough")
    )


def sanitize(html: str) -> str:
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def render_markdown(text: str) -> str:
    """Safe HTML for a message (or a partial answer still being written)."""
    return sanitize(_markdown().render(text))


def citations_for_display(*, team_id: int, citations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Citations with a link to the cited document's page in the knowledge page. Names
    stay data: the browser puts them into the page as text, never as HTML."""
    shown = []
    for citation in citations:
        document_id, page = citation.get("document_id"), citation.get("page")
        if document_id is None:
            continue
        url = reverse(
            "chat:document_detail", kwargs={"team_id": team_id, "document_id": document_id}
        )
        if page is not None:
            url += f"?page={int(page)}#page-{int(page)}"
        label = str(citation.get("document_name") or "document")
        if page is not None:
            label += f", page {int(page)}"
        shown.append({**citation, "url": url, "label": label})
    return shown
