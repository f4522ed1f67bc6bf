"""Each file type parses into sections with headings and pages; bad files say why."""

from __future__ import annotations

import io

import pytest

from knowledge.parsing import ParseError, clean_text, detect_file_type, parse
from knowledge.tests.pdfgen import make_pdf


def _parse(data: bytes, file_type: str, max_pages: int = 100):
    return parse(data=data, file_type=file_type, max_pages=max_pages)


def test_pdf_sections_carry_page_numbers():
    data = make_pdf([["First page text"], [], ["Third page: the answer"]], title="Report")
    parsed = _parse(data, "pdf")
    assert parsed.page_count == 3
    assert [(s.page, s.text) for s in parsed.sections] == [
        (1, "First page text"),
        (3, "Third page: the answer"),
    ]
    assert parsed.metadata["title"] == "Report"


def test_pdf_over_the_page_limit_is_refused_with_the_numbers():
    data = make_pdf([["x"]] * 5)
    with pytest.raises(ParseError, match="has 5 pages; the limit is 4"):
        _parse(data, "pdf", max_pages=4)


def test_password_protected_pdf_is_refused():
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(make_pdf([["secret"]]))))
    writer.encrypt(user_password="hunter2", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(ParseError, match="password-protected"):
        _parse(out.getvalue(), "pdf")


def test_pdf_encrypted_with_an_empty_password_is_read():
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(make_pdf([["readable anyway"]]))))
    writer.encrypt(user_password="", owner_password="owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    assert _parse(out.getvalue(), "pdf").sections[0].text == "readable anyway"


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.4\n" + b"\x00garbage" * 100,
        make_pdf([["fine"]])[:60],  # truncated: no xref, no trailer
    ],
)
def test_corrupt_pdf_is_refused_as_damaged(data):
    with pytest.raises(ParseError, match=r"damaged|No text"):
        _parse(data, "pdf")


def test_pdf_without_text_says_ocr_is_not_supported():
    with pytest.raises(ParseError, match="OCR"):
        _parse(make_pdf([[], []]), "pdf")


def test_docx_headings_paragraphs_and_tables():
    import docx

    document = docx.Document()
    document.add_paragraph("Preamble before any heading.")
    document.add_heading("Installation", level=1)
    document.add_paragraph("Run the installer.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "port", "8000"
    table.cell(1, 0).text, table.cell(1, 1).text = "host", "localhost"
    document.add_heading("Usage", level=2)
    document.add_paragraph("Open the browser.")
    out = io.BytesIO()
    document.save(out)
    parsed = _parse(out.getvalue(), "docx")
    assert [(s.heading, s.text) for s in parsed.sections] == [
        ("", "Preamble before any heading."),
        ("Installation", "Run the installer.\n\nport | 8000\n\nhost | localhost"),
        ("Usage", "Open the browser."),
    ]


def test_a_zip_that_is_not_a_word_document_is_refused():
    buffer = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(ParseError, match="not a Word document"):
        _parse(buffer.getvalue(), "docx")


def test_html_headings_become_sections_and_scripts_are_dropped():
    html = b"""<!doctype html><html><head><title>Guide</title><style>p{}</style></head>
    <body><nav>Home | About</nav><p>Intro text.</p><script>alert('x')</script>
    <h2>Setup <small>v2</small></h2><p>Install it.</p><ul><li>one</li><li>two</li></ul></body></html>"""
    parsed = _parse(html, "html")
    assert [(s.heading, s.text) for s in parsed.sections] == [
        ("Guide", "Intro text."),
        ("Setup v2", "Install it.\n\none\n\ntwo"),
    ]


def test_markdown_headings_but_not_hashes_in_code():
    source = b"""Lead paragraph.

# Title

Some *text*.

```sh
# not a heading
echo hi
```

## Part two
More.
"""
    parsed = _parse(source, "markdown")
    assert [s.heading for s in parsed.sections] == ["", "Title", "Part two"]
    assert "# not a heading" in parsed.sections[1].text
    assert parsed.sections[2].text == "More."


def test_plain_text_with_form_feeds_has_pages_and_odd_encodings_decode():
    parsed = _parse("page one\fpage two café".encode("cp1252"), "text")
    assert [(s.page, s.text) for s in parsed.sections] == [(1, "page one"), (2, "page two café")]


def test_binary_data_is_not_text():
    with pytest.raises(ParseError, match="binary"):
        _parse(b"\x00\x01\x02" * 50, "text")


def test_csv_rows_keep_their_column_names():
    data = b"name;city;role\nAda;London;engineer\nGrace;;admiral\n"
    parsed = _parse(data, "csv")
    assert parsed.sections[0].heading == "name, city, role"
    assert parsed.sections[0].text == (
        "name: Ada; city: London; role: engineer\nname: Grace; role: admiral"
    )


def test_empty_files_have_no_text():
    with pytest.raises(ParseError, match="no text"):
        _parse(b"   \n\n ", "text")


@pytest.mark.parametrize(
    ("name", "head", "expected"),
    [
        ("report.pdf", b"%PDF-1.7 ...", "pdf"),
        ("renamed.txt", b"%PDF-1.7 ...", "pdf"),  # content wins over the name
        ("report.docx", b"PK\x03\x04...", "docx"),
        ("archive.zip", b"PK\x03\x04...", None),
        ("page.HTM", b"<p>", "html"),
        ("noext", b"  <!DOCTYPE html><html>", "html"),
        ("README.md", b"# hi", "markdown"),
        ("data.csv", b"a,b", "csv"),
        ("notes.txt", b"hello", "text"),
        ("image.png", b"\x89PNG\r\n", None),
        ("program.exe", b"MZ\x90\x00", None),
    ],
)
def test_detect_file_type(name, head, expected):
    assert detect_file_type(name=name, head=head) == expected


def test_clean_text_joins_hyphenated_words_and_squeezes_space():
    assert clean_text("infor-\nmation\t\t here\r\n\n\n\nnext\x07") == "information here\n\nnext"
