"""Files to text: PDF (with page numbers), DOCX, HTML, Markdown, plain text and CSV.

Each parser returns sections: runs of text under one heading on one page, which the
chunker never merges across, so every chunk can cite its heading and page. Anything that
cannot be read raises ``ParseError`` with a sentence a user can act on.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field

SUPPORTED_TYPES_TEXT = "PDF, DOCX, HTML, Markdown, plain text and CSV"

_EXTENSIONS = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".rst": "text",
    ".log": "text",
    ".csv": "csv",
}


class ParseError(Exception):
    """The file cannot be indexed; ``str(error)`` is shown to the user as is."""


@dataclass
class Section:
    text: str
    heading: str = ""
    page: int | None = None


@dataclass
class ParsedDocument:
    file_type: str
    sections: list[Section]
    page_count: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def char_count(self) -> int:
        return sum(len(s.text) for s in self.sections)


def detect_file_type(*, name: str, head: bytes) -> str | None:
    """The parser to use, from the content's signature first and the extension second."""
    lowered = name.lower()
    extension = lowered[lowered.rfind(".") :] if "." in lowered else ""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        # A zip: DOCX is the only zip we read; anything else is an unsupported archive.
        return "docx" if extension == ".docx" else None
    by_extension = _EXTENSIONS.get(extension)
    if by_extension in {"pdf", "docx"}:
        return by_extension  # claims to be, but lacks the signature: the parser will say so
    if by_extension:
        return by_extension
    sniff = head[:512].lstrip().lower()
    if sniff.startswith((b"<!doctype html", b"<html")):
        return "html"
    return None


def parse(*, data: bytes, file_type: str, max_pages: int) -> ParsedDocument:
    parsers = {
        "pdf": _parse_pdf,
        "docx": _parse_docx,
        "html": _parse_html,
        "markdown": _parse_markdown,
        "text": _parse_text,
        "csv": _parse_csv,
    }
    parsed = parsers[file_type](data, max_pages)
    sections = [
        Section(clean_text(s.text), s.heading.strip()[:500], s.page) for s in parsed.sections
    ]
    parsed.sections = [s for s in sections if s.text]
    if not parsed.sections:
        if file_type == "pdf":
            raise ParseError(
                "No text found in this PDF. It may be scanned images; text recognition (OCR) "
                "is not supported."
            )
        raise ParseError("The file contains no text to index.")
    return parsed


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HYPHEN_BREAK = re.compile(r"(\w)-\n(\w)")
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    """Unicode-normalise, join words hyphenated across lines, squeeze whitespace."""
    text = unicodedata.normalize("NFKC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = _HYPHEN_BREAK.sub(r"\1\2", text)
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def decode_text(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise ParseError("This looks like a binary file, not text.")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _parse_pdf(data: bytes, max_pages: int) -> ParsedDocument:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    if not data.startswith(b"%PDF-"):
        raise ParseError("This file is not a PDF (it lacks the PDF signature).")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            # Some PDFs are "encrypted" with an empty password only to restrict printing.
            try:
                opened = bool(reader.decrypt(""))
            except Exception:  # unknown algorithms and broken keys alike
                opened = False
            if not opened:
                raise ParseError(
                    "This PDF is password-protected. Remove the password and upload it again."
                )
        page_count = len(reader.pages)
    except ParseError:
        raise
    except FileNotDecryptedError as e:
        raise ParseError(
            "This PDF is password-protected. Remove the password and upload it again."
        ) from e
    except Exception as e:  # pypdf raises many types for damaged files
        raise ParseError(f"This PDF is damaged and cannot be read ({_short(e)}).") from e
    if page_count > max_pages:
        raise ParseError(f"This PDF has {page_count} pages; the limit is {max_pages}.")
    sections: list[Section] = []
    for number, page in enumerate(reader.pages, start=1):
        try:
            text = page.extract_text() or ""
        except (PdfReadError, Exception) as e:  # a damaged page stream
            raise ParseError(
                f"Page {number} of this PDF is damaged and cannot be read ({_short(e)})."
            ) from e
        sections.append(Section(text=text, page=number))
    title = ""
    with contextlib.suppress(Exception):  # metadata is optional and often malformed
        title = str(reader.metadata.get("/Title") or "") if reader.metadata else ""
    return ParsedDocument("pdf", sections, page_count=page_count, metadata={"title": title})


def _short(error: Exception) -> str:
    text = str(error) or type(error).__name__
    return text[:200]


def _parse_docx(data: bytes, max_pages: int) -> ParsedDocument:
    import docx
    from docx.table import Table

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if "word/document.xml" not in archive.namelist():
                raise ParseError("This file is not a Word document (DOCX).")
            if "EncryptedPackage" in archive.namelist():
                raise ParseError("This document is password-protected.")
        document = docx.Document(io.BytesIO(data))
    except ParseError:
        raise
    except Exception as e:  # zip and XML errors of a damaged file
        raise ParseError(f"This Word document is damaged and cannot be read ({_short(e)}).") from e
    sections: list[Section] = []
    heading = ""
    lines: list[str] = []

    def flush() -> None:
        if lines:
            sections.append(Section(text="\n\n".join(lines), heading=heading))
            lines.clear()

    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                cells = [cell.text.strip() for cell in row.cells]
                if any(cells):
                    lines.append(" | ".join(cells))
            continue
        text = block.text.strip()
        style = (block.style.name if block.style is not None else "") or ""
        if text and (style.startswith("Heading") or style == "Title"):
            flush()
            heading = text
        elif text:
            lines.append(text)
    flush()
    return ParsedDocument("docx", sections)


_HEADING_TAGS = ["h1", "h2", "h3", "h4", "h5", "h6"]
_BLOCK_TAGS = [
    "p", "div", "li", "tr", "pre", "blockquote", "section", "article", "header", "footer",
    "main", "aside", "table", "ul", "ol", "dl", "dt", "dd", "figure", "figcaption", "address",
]  # fmt: skip
_HEADING_MARK = "\x1e"  # a control character: survives get_text, stripped by clean_text


def _parse_html(data: bytes, max_pages: int) -> ParsedDocument:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(decode_text(data), "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "svg", "nav", "iframe"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    if soup.title:
        soup.title.decompose()
    for tag in soup.find_all(_HEADING_TAGS):
        tag.replace_with(f"\n{_HEADING_MARK}{tag.get_text(' ', strip=True)}\n")
    # Block elements end paragraphs; inline ones (<b>, <a>) stay inside their sentence.
    for tag in soup.find_all("br"):
        tag.replace_with("\n")
    for tag in soup.find_all(["td", "th"]):
        tag.append(" | ")
    for tag in soup.find_all(_BLOCK_TAGS):
        tag.append("\n\n")
    text = soup.get_text("")
    return ParsedDocument(
        "html", _split_on_marks(text, first_heading=title), metadata={"title": title}
    )


def _split_on_marks(text: str, *, first_heading: str) -> list[Section]:
    sections: list[Section] = []
    heading = first_heading
    lines: list[str] = []
    for line in text.split("\n"):
        if line.startswith(_HEADING_MARK):
            if any(part.strip() for part in lines):
                sections.append(Section(text="\n".join(lines), heading=heading))
            lines = []
            heading = line[len(_HEADING_MARK) :].strip()
        else:
            lines.append(line)
    if any(part.strip() for part in lines):
        sections.append(Section(text="\n".join(lines), heading=heading))
    return sections


def _parse_markdown(data: bytes, max_pages: int) -> ParsedDocument:
    from markdown_it import MarkdownIt

    source = decode_text(data)
    lines = source.split("\n")
    tokens = MarkdownIt("commonmark").parse(source)
    # Heading positions from the parser, so a "#" inside a code block is not a heading.
    headings: list[tuple[int, int, str]] = []
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.map is not None:
            headings.append((token.map[0], token.map[1], tokens[index + 1].content))
    sections: list[Section] = []
    heading = ""
    cursor = 0
    for start, end, text in headings:
        body = "\n".join(lines[cursor:start])
        if body.strip():
            sections.append(Section(text=body, heading=heading))
        heading, cursor = text, end
    body = "\n".join(lines[cursor:])
    if body.strip():
        sections.append(Section(text=body, heading=heading))
    return ParsedDocument("markdown", sections)


def _parse_text(data: bytes, max_pages: int) -> ParsedDocument:
    text = decode_text(data)
    # Form feeds separate pages in text exported from PDFs and printers.
    pages = text.split("\f")
    if len(pages) > 1:
        return ParsedDocument(
            "text",
            [Section(text=p, page=i) for i, p in enumerate(pages, start=1)],
            page_count=len(pages),
        )
    return ParsedDocument("text", [Section(text=text)])


def _parse_csv(data: bytes, max_pages: int) -> ParsedDocument:
    text = decode_text(data)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], ",;\t|")
    except csv.Error:
        dialect = csv.excel
    try:
        rows = list(csv.reader(io.StringIO(text), dialect))
    except csv.Error as e:
        raise ParseError(f"This CSV file cannot be read ({_short(e)}).") from e
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise ParseError("The file contains no text to index.")
    header, body = rows[0], rows[1:]
    if not body:  # one row: nothing to call a header
        header, body = [], rows
    # Each row is written with its column names, so a chunk of rows is searchable alone.
    lines = []
    for row in body:
        if header:
            pairs = [
                f"{h.strip() or f'column {i + 1}'}: {v.strip()}"
                for i, (h, v) in enumerate(zip(header, row, strict=False))
                if v.strip()
            ]
            lines.append("; ".join(pairs))
        else:
            lines.append("; ".join(v.strip() for v in row))
    heading = ", ".join(h.strip() for h in header if h.strip())[:500]
    return ParsedDocument("csv", [Section(text="\n".join(lines), heading=heading)])
