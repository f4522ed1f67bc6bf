"""Token-aware chunking with overlap that keeps each chunk's heading and page.

Sizes are counted in the embedding model's own word pieces: a chunk longer than the model
reads (256 for all-MiniLM-L6-v2) would be silently truncated at embedding time and its tail
never found by meaning. Text is split at the largest natural boundary that fits
(paragraph, then line, then sentence, then a window of tokens), packed into chunks of at
most ``max_tokens``, and each chunk repeats the last ``overlap_tokens`` worth of units of
the previous one so an answer that straddles a boundary is still found whole. Chunks never
cross a section (a heading or a page), so citations are exact.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from knowledge.parsing import Section

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+(?=\S)")


@dataclass(frozen=True)
class ChunkDraft:
    text: str
    heading: str
    page: int | None
    token_count: int

    def embedding_input(self) -> str:
        """What the embedder reads: the heading gives the passage its context."""
        return f"{self.heading}\n{self.text}" if self.heading else self.text


def default_token_counter() -> Callable[[str], int]:
    from knowledge.embeddings import default_tokenizer

    tokenizer = default_tokenizer()

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    return count


def chunk_sections(
    sections: Sequence[Section],
    *,
    max_tokens: int,
    overlap_tokens: int,
    count_tokens: Callable[[str], int] | None = None,
) -> list[ChunkDraft]:
    if max_tokens < 8:
        raise ValueError("max_tokens must be at least 8")
    overlap_tokens = max(0, min(overlap_tokens, max_tokens // 2))
    count = count_tokens or default_token_counter()
    drafts: list[ChunkDraft] = []
    for section in sections:
        # The heading is embedded with each chunk, so it takes part of the budget.
        budget = max(8, max_tokens - (count(section.heading) + 1 if section.heading else 0))
        units = _units(section.text, budget, count)
        for text, tokens in _pack(units, budget, overlap_tokens):
            drafts.append(ChunkDraft(text, section.heading, section.page, tokens))
    return drafts


def _units(text: str, budget: int, count: Callable[[str], int]) -> list[tuple[str, int, str]]:
    """(text, tokens, separator) pieces each within the budget, in order."""
    units: list[tuple[str, int, str]] = []
    for paragraph in (p.strip() for p in text.split("\n\n")):
        if paragraph:
            units.extend(_split(paragraph, budget, count, level=0))
    return units


_SPLITTERS: list[tuple[Callable[[str], list[str]], str]] = [
    (lambda t: [t], "\n\n"),
    (lambda t: t.split("\n"), "\n"),
    (lambda t: _SENTENCE_END.split(t), " "),
]


def _split(
    text: str, budget: int, count: Callable[[str], int], *, level: int
) -> list[tuple[str, int, str]]:
    tokens = count(text)
    if tokens <= budget:
        return [(text, tokens, _SPLITTERS[min(level, 2)][1])]
    if level + 1 < len(_SPLITTERS):
        pieces = [p.strip() for p in _SPLITTERS[level + 1][0](text) if p.strip()]
        if len(pieces) > 1:
            out: list[tuple[str, int, str]] = []
            for piece in pieces:
                out.extend(_split(piece, budget, count, level=level + 1))
            return out
        return _split(text, budget, count, level=level + 1)
    return _windows(text, budget, count)


def _windows(text: str, budget: int, count: Callable[[str], int]) -> list[tuple[str, int, str]]:
    """A run-on sentence longer than a chunk: cut between words at the token budget."""
    words = text.split(" ")
    out: list[tuple[str, int, str]] = []
    current: list[str] = []
    current_tokens = 0
    for word in words:
        word_tokens = count(word) or 1
        if current and current_tokens + word_tokens > budget:
            out.append((" ".join(current), current_tokens, " "))
            current, current_tokens = [], 0
        if word_tokens > budget:  # one absurd "word" (a base64 blob): cut it by characters
            step = max(1, len(word) * budget // word_tokens)
            for start in range(0, len(word), step):
                piece = word[start : start + step]
                out.append((piece, count(piece), " "))
            continue
        current.append(word)
        current_tokens += word_tokens
    if current:
        out.append((" ".join(current), current_tokens, " "))
    return out


def _pack(
    units: list[tuple[str, int, str]], budget: int, overlap_tokens: int
) -> list[tuple[str, int]]:
    chunks: list[tuple[str, int]] = []
    current: list[tuple[str, int, str]] = []
    current_tokens = 0
    fresh = 0  # units in `current` not already emitted in the previous chunk
    for unit in units:
        if current and current_tokens + unit[1] > budget:
            chunks.append(_join(current))
            # Carry the tail of this chunk into the next, up to the overlap budget, but
            # never so much that the next unit would not fit.
            tail: list[tuple[str, int, str]] = []
            tail_tokens = 0
            for previous in reversed(current):
                if tail_tokens + previous[1] > min(overlap_tokens, budget - unit[1]):
                    break
                tail.insert(0, previous)
                tail_tokens += previous[1]
            current, current_tokens, fresh = tail, tail_tokens, 0
        current.append(unit)
        current_tokens += unit[1]
        fresh += 1
    if current and fresh:
        chunks.append(_join(current))
    return chunks


def _join(units: list[tuple[str, int, str]]) -> tuple[str, int]:
    text = units[0][0]
    for piece, _tokens, separator in units[1:]:
        text += separator + piece
    # Token counts of pieces add up to within a token or two of the joined text's count.
    return text, sum(u[1] for u in units)
