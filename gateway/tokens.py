"""Token estimates for admission decisions (context windows; later rate limits and budget
reservations). Providers report the real counts, which settle the ledger; an estimate only
has to be cheap and err on the high side. No tokenizer files are fetched at run time."""

from __future__ import annotations

from collections.abc import Iterator

from gateway.types import ChatRequest

# ~4 characters per token for English text with BPE tokenizers; round up, per message
# overhead for role and separators as OpenAI documents it.
_CHARS_PER_TOKEN = 4
_PER_MESSAGE_OVERHEAD = 4


def estimate_text_tokens(text: str) -> int:
    return tokens_for_chars(len(text))


def tokens_for_chars(characters: int) -> int:
    return -(-characters // _CHARS_PER_TOKEN)


def _prompt_pieces(request: ChatRequest) -> Iterator[str]:
    """Every piece of text a provider will tokenize for this prompt."""
    for message in request.messages:
        yield message.content
        for call in message.tool_calls:
            yield call.name
            yield call.arguments
    for tool in request.tools:
        yield tool.name + tool.description + str(tool.parameters)
    for passage in request.context:
        yield passage.text


def estimate_prompt_tokens(request: ChatRequest) -> int:
    pieces = sum(estimate_text_tokens(piece) for piece in _prompt_pieces(request))
    return 3 + _PER_MESSAGE_OVERHEAD * len(request.messages) + pieces


def prompt_tokens_upper_bound(request: ChatRequest) -> int:
    """A count no tokenizer can exceed, for budget reservations that must never be too small:
    byte-level BPE tokenizers emit at most one token per UTF-8 byte, plus a few special
    tokens per message and per tool."""
    pieces = sum(len(piece.encode()) for piece in _prompt_pieces(request))
    return 16 + 8 * len(request.messages) + 16 * len(request.tools) + pieces
