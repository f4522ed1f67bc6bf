"""``POST /v1/embeddings`` behind the same governance as chat: the catalogue decides which
embedding models a team may use and what they cost, admission applies the key's and the
team's rate limits and reserves the worst-case cost, settlement writes the ledger row
(pipeline ``embed``, input tokens only) and gives back the difference.

Models come from the catalogue (``CatalogModel.kind == "embedding"``):
- on a ``local`` provider, the knowledge app's in-process embedder (the same code and
  model that index the documents), token counts from its own tokenizer;
- on an ``openai`` provider, any OpenAI-compatible ``/embeddings`` endpoint through the
  official SDK, token counts as the upstream reports them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from decimal import Decimal

import openai

from accounts.access import KeyContext
from billing.models import UsageStatus
from core.asyncdb import run_detached
from core.errors import ApplicationError, BadGateway, GatewayTimeout, NotFound, ValidationFailed
from gateway import governance
from gateway.catalogue import ModelEntry, TeamPolicy, current_catalogue
from gateway.governance import Outcome
from gateway.models import ProviderKind
from gateway.providers.base import ProviderConfig
from gateway.redis_policy import redis_guarded
from gateway.types import ChatRequest, Completion, Message, Usage
from knowledge.embeddings import aembed_texts, default_tokenizer, embedding_dimension

logger = logging.getLogger(__name__)

PIPELINE = "embed"  # what the ledger's pipeline column says for these rows


@dataclass(frozen=True, slots=True)
class EmbeddingResult:
    vectors: list[list[float]]
    model: ModelEntry
    prompt_tokens: int
    cost: Decimal
    limit_headers: dict[str, str]

    def headers(self) -> dict[str, str]:
        return {
            "X-Gateway-Model": self.model.name,
            "X-Gateway-Provider": self.model.provider.name,
            "X-Gateway-Pipeline": PIPELINE,
            **self.limit_headers,
        }


async def _embedding_model(team_id: int, name: str) -> tuple[ModelEntry, TeamPolicy]:
    catalogue = await redis_guarded(
        current_catalogue(), what="catalogue check", fallback=None
    ) or await current_catalogue(skip_version_check=True)
    model = catalogue.embedding_model(team_id, name)
    if model is not None:
        return model, catalogue.policy(team_id)
    if catalogue.chain_for(team_id, name) is not None:
        raise ValidationFailed(
            f"'{name}' is a chat model; ask /v1/embeddings for an embedding model "
            "(GET /v1/models lists them).",
            code="model_not_embedding",
            param="model",
        )
    raise NotFound(
        f"The model '{name}' does not exist or your team may not use it.",
        code="model_not_found",
        param="model",
    )


def _local_token_counts(texts: list[str]) -> list[int]:
    # As the model reads them: word pieces plus its [CLS] and [SEP].
    return [len(e.ids) for e in default_tokenizer().encode_batch(texts)]


async def _check_local(model: ModelEntry, texts: list[str], dimensions: int | None) -> int:
    native = embedding_dimension(model.upstream_name)
    if dimensions is not None and dimensions != native:
        raise ValidationFailed(
            f"dimensions is not supported: '{model.name}' always returns {native} dimensions.",
            code="dimensions_not_supported",
            param="dimensions",
        )
    counts = await run_detached(_local_token_counts, texts)
    for index, count in enumerate(counts):
        if count > model.context_window:
            raise ValidationFailed(
                f"input {index} is {count} tokens; '{model.name}' reads at most "
                f"{model.context_window}. Split the text into smaller pieces.",
                code="context_length_exceeded",
                param="input",
            )
    return sum(counts)


_clients: dict[ProviderConfig, openai.AsyncOpenAI] = {}


def _client(config: ProviderConfig) -> openai.AsyncOpenAI:
    """One SDK client (and connection pool) per provider configuration, per process."""
    client = _clients.get(config)
    if client is None:
        client = _clients[config] = openai.AsyncOpenAI(
            api_key=config.api_key or "not-needed",
            base_url=config.base_url or None,
            max_retries=0,
            timeout=config.timeout_seconds,
        )
    return client


async def _upstream(model: ModelEntry, texts: list[str]) -> tuple[list[list[float]], int]:
    try:
        response = await _client(model.provider).embeddings.create(
            model=model.upstream_name, input=texts, encoding_format="float"
        )
    except openai.APITimeoutError as exc:
        raise GatewayTimeout("The embedding provider did not answer in time.") from exc
    except openai.APIStatusError as exc:
        raise BadGateway(
            f"The embedding provider answered {exc.status_code}.", code="upstream_error"
        ) from exc
    except openai.OpenAIError as exc:
        raise BadGateway("The embedding provider could not be reached.") from exc
    vectors = [item.embedding for item in sorted(response.data, key=lambda item: item.index)]
    if len(vectors) != len(texts):
        raise BadGateway("The embedding provider returned the wrong number of vectors.")
    tokens = response.usage.prompt_tokens if response.usage else 0
    return vectors, tokens


async def embed(
    *,
    key: KeyContext,
    model: str,
    texts: list[str],
    dimensions: int | None,
    request_id: str,
) -> EmbeddingResult:
    entry, policy = await _embedding_model(key.team_id, model)
    local = entry.provider.kind == ProviderKind.LOCAL
    if not local and dimensions is not None:
        raise ValidationFailed(
            "dimensions is not supported by this gateway; omit it.",
            code="dimensions_not_supported",
            param="dimensions",
        )
    counted = await _check_local(entry, texts, dimensions) if local else 0
    # Admission sees the inputs as a prompt with no output: the rate limits count their
    # tokens and the reservation is the input price of their worst-case token count.
    priced = ChatRequest(messages=[Message(role="user", content=t) for t in texts], max_tokens=0)
    gate = await governance.admit(
        key=key,
        policy=policy,
        chain=[entry],
        request=priced,
        cache_key=None,
    )
    outcome = Outcome(
        status=UsageStatus.OK, model_requested=model, pipeline=PIPELINE, stream=False, served=entry
    )
    try:
        if local:
            vectors, tokens = await aembed_texts(texts, model=entry.upstream_name), counted
        else:
            vectors, tokens = await _upstream(entry, texts)
    except asyncio.CancelledError:
        outcome.status = UsageStatus.CLIENT_CANCELLED
        governance.settle_detached(gate, outcome, request_id=request_id)
        raise
    except Exception as exc:
        outcome.status = UsageStatus.PROVIDER_ERROR
        await asyncio.shield(governance.settle_detached(gate, outcome, request_id=request_id))
        if isinstance(exc, ApplicationError):
            raise
        logger.exception("embedding with %s failed", entry.name)
        raise BadGateway(f"The embedding model '{entry.name}' failed.") from exc
    outcome.completion = Completion(
        text="", finish_reason="stop", usage=Usage(tokens, 0), model=entry.upstream_name
    )
    await asyncio.shield(governance.settle_detached(gate, outcome, request_id=request_id))
    return EmbeddingResult(vectors, entry, tokens, entry.cost(tokens, 0), gate.headers())
