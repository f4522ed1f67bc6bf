"""Messages render as safe HTML: markdown and highlighted code, never active content."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from chat.rendering import citations_for_display, render_markdown


@pytest.mark.parametrize(
    "attack",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        "[click](javascript:alert(1))",
        '<svg onload="alert(1)"></svg>',
        "<iframe src=//example.com></iframe>",
    ],
)
def test_active_content_is_shown_as_text_or_dropped(attack):
    tags = _elements(render_markdown(f"look: {attack}"))
    assert {tag for tag, _ in tags} <= {"p", "a"}
    for _tag, attributes in tags:
        assert not [name for name in attributes if name.startswith("on")]
        assert not str(attributes.get("href", "")).startswith("javascript:")


def _elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    """The elements a browser would build from the HTML, with their attributes."""
    found: list[tuple[str, dict[str, str | None]]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, dict(attrs)))

    Collector().feed(html)
    return found


def test_script_tag_is_visible_as_text():
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in render_markdown("<script>alert(1)</script>")


def test_markdown_and_highlighted_code():
    html = render_markdown("**bold** and `x`\n\n```python\ndef f():\n    return 1\n```\n")
    assert "<strong>bold</strong>" in html
    assert '<code class="language-python">' in html
    assert '<span class="k">def</span>' in html  # Pygments token classes, no inline styles
    assert "style=" not in html


def test_links_are_safe_and_tables_render():
    html = render_markdown("[docs](https://example.com)\n\n| a | b |\n|:-|-:|\n| 1 | 2 |\n")
    assert 'href="https://example.com"' in html
    assert 'rel="noopener noreferrer nofollow"' in html
    assert "<table>" in html
    assert "style=" not in html  # alignment styles would break the CSP


def test_unknown_language_is_plain_escaped_code():
    html = render_markdown("```nosuchlang\n<b>x</b>\n```")
    assert "&lt;b&gt;x&lt;/b&gt;" in html


def test_citations_link_to_the_document_page():
    shown = citations_for_display(
        team_id=7,
        citations=[
            {"number": 1, "document_id": 3, "document_name": "<b>Hand</b>book.pdf", "page": 4},
            {"number": 2, "document_id": 5, "document_name": "notes.md", "page": None},
        ],
    )
    assert shown[0]["url"] == "/knowledge/teams/7/documents/3/?page=4#page-4"
    assert shown[0]["label"] == "<b>Hand</b>book.pdf, page 4"  # text: the browser never parses it
    assert shown[1]["url"] == "/knowledge/teams/7/documents/5/"
    assert shown[1]["label"] == "notes.md"
