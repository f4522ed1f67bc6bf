"""Chunks fit the model's window, overlap, and keep their heading and page."""

from __future__ import annotations

import itertools

from knowledge.chunking import chunk_sections, default_token_counter
from knowledge.parsing import Section


def test_chunks_fit_the_budget_including_the_heading_and_overlap():
    count = default_token_counter()
    sentences = [f"Sentence number {i} talks about topic {i * 7}." for i in range(200)]
    section = Section(text=" ".join(sentences), heading="A fairly long heading here", page=4)
    drafts = chunk_sections([section], max_tokens=60, overlap_tokens=15)
    assert len(drafts) > 10
    for draft in drafts:
        assert count(draft.embedding_input()) <= 60 + 2  # joins may add a token or two
        assert draft.heading == "A fairly long heading here"
        assert draft.page == 4
    # Consecutive chunks share text (the overlap), and nothing is lost.
    for previous, current in itertools.pairwise(drafts):
        last_sentence = previous.text.rsplit(". ", 1)[-1]
        assert last_sentence in current.text
    joined = " ".join(d.text for d in drafts)
    for sentence in sentences:
        assert sentence in joined


def test_chunks_never_cross_sections():
    sections = [
        Section(text="Alpha text on page one.", heading="Intro", page=1),
        Section(text="Beta text on page two.", heading="Intro", page=2),
        Section(text="Gamma under a new heading.", heading="Details", page=2),
    ]
    drafts = chunk_sections(sections, max_tokens=200, overlap_tokens=40)
    assert [(d.page, d.heading, d.text) for d in drafts] == [
        (1, "Intro", "Alpha text on page one."),
        (2, "Intro", "Beta text on page two."),
        (2, "Details", "Gamma under a new heading."),
    ]


def test_paragraphs_are_kept_together_when_they_fit():
    text = "First paragraph here.\n\nSecond paragraph here.\n\nThird one."
    drafts = chunk_sections([Section(text=text)], max_tokens=200, overlap_tokens=40)
    assert [d.text for d in drafts] == [text]


def test_a_run_on_sentence_and_a_giant_word_are_cut():
    count = default_token_counter()
    run_on = " ".join(["word"] * 500) + " " + "x" * 3000
    drafts = chunk_sections([Section(text=run_on)], max_tokens=50, overlap_tokens=10)
    assert all(count(d.text) <= 52 for d in drafts)
    assert sum(d.text.count("word") for d in drafts) >= 500
    assert "".join(d.text for d in drafts).count("x") >= 3000


def test_lines_split_before_sentences():
    rows = "\n".join(f"name: person {i}; city: town {i}" for i in range(100))
    drafts = chunk_sections(
        [Section(text=rows, heading="name, city")], max_tokens=80, overlap_tokens=0
    )
    assert len(drafts) > 3
    for draft in drafts:
        for line in draft.text.split("\n"):
            assert line.startswith("name: person ")  # rows are never cut in the middle
