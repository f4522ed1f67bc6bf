"""Token estimates for admission decisions (context windows; later rate limits and budget
reservations). Providers report the real counts, which settle the ledger; an estimate only
has to be cheap and err on the high side. No tokenizer files are fetched at run time."""

from __future__ import annotations

from gateway.types import ChatRequest

# ~4 characters per token for English text with BPE tokenizers; round up, per message
# overhead for role and separators as OpenAI documents it.
_CHARS_PER_TOKEN = 4
_PER_MESSAGE_OVERHEAD = 4


def estimate_text_tokens(text: str) -> int:
    return -(-len(text) // _CHARS_PER_TOKEN)


def estimate_prompt_tokens(request: ChatRequest) -> int:
    total = 3
    for message in request.messages:
        total += _PER_MESSAGE_OVERHEAD + estimate_text_tokens(message.content)
        for call in message.tool_calls:
            total += estimate_text_tokens(call.name) + estimate_text_tokens(call.arguments)
    for tool in request.tools:
        total += estimate_text_tokens(tool.name + tool.description + str(tool.parameters))
    for passage in request.context:
        total += estimate_text_tokens(passage.text)
    return total


def prompt_tokens_upper_bound(request: ChatRequest) -> int:
    """A count no tokenizer can exceed, for budget reservations that must never be too small:
    byte-level BPE tokenizers emit at most one token per UTF-8 byte, plus a few special
    tokens per message."""
    total = 16
    for message in request.messages:
        total += 8 + len(message.content.encode())
        for call in message.tool_calls:
            total += len(call.name.encode()) + len(call.arguments.encode())
    for tool in request.tools:
        total += 16 + len((tool.name + tool.description + str(tool.parameters)).encode())
    for passage in request.context:
        total += len(passage.text.encode())
    return total
