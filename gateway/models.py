"""The model catalogue: providers (deployments), models with prices, routes with fallbacks.

Edited in the console or declared in the GATEWAY_CONFIG file (rows it manages are marked
and read-only in the console). Gateway processes read a snapshot of these tables
(gateway/catalogue.py) that is refreshed whenever any of them changes.
"""

from __future__ import annotations

import os

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from pgvector.django import VectorField

from accounts.models import Team
from core.encryption import EncryptedTextField
from core.models import TimeStampedModel


class ProviderKind(models.TextChoices):
    OPENAI = "openai", "OpenAI-compatible (OpenAI, vLLM, Ollama, llama.cpp, Gemini)"
    ANTHROPIC = "anthropic", "Anthropic"
    LOCAL = "local", "Local extractive (offline, no key)"


class ModelKind(models.TextChoices):
    CHAT = "chat", "Chat (chat completions, messages)"
    EMBEDDING = "embedding", "Embedding (/v1/embeddings)"


class Pipeline(models.TextChoices):
    AUTO = "auto", "Auto (classifier decides)"
    DIRECT = "direct", "Direct to the model"
    RAG = "rag", "Retrieval-augmented (knowledge collections)"
    AGENT = "agent", "Agent (multi-step, tools)"


class Provider(TimeStampedModel):
    """One upstream deployment: an API endpoint with its credentials. Circuit breakers
    are kept per provider, shared by every gateway process through Redis."""

    name = models.SlugField(max_length=60, unique=True)
    kind = models.CharField(max_length=16, choices=ProviderKind.choices)
    base_url = models.URLField(
        blank=True,
        help_text="OpenAI-compatible servers: e.g. http://vllm:8000/v1. Empty: the SDK default.",
    )
    api_key = EncryptedTextField(
        blank=True, help_text="Stored encrypted. Leave empty for keyless servers."
    )
    api_key_env = models.CharField(
        max_length=100,
        blank=True,
        help_text="An environment variable holding the key (used instead of the stored key).",
    )
    timeout_seconds = models.FloatField(default=60.0, help_text="Per attempt.")
    enabled = models.BooleanField(default=True)
    managed_by_file = models.BooleanField(default=False, editable=False)

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.kind != ProviderKind.LOCAL and self.timeout_seconds <= 0:
            raise ValidationError({"timeout_seconds": "Must be positive."})

    def resolved_api_key(self) -> str | None:
        if self.api_key_env:
            return os.environ.get(self.api_key_env) or None
        return self.api_key or None


class CatalogModel(TimeStampedModel):
    """A model clients can ask for by ``name``, served by one provider."""

    name = models.CharField(
        max_length=100, unique=True, help_text="The id clients send as 'model'."
    )
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="models")
    upstream_name = models.CharField(
        max_length=200, help_text="The model name the provider expects."
    )
    kind = models.CharField(
        max_length=10,
        choices=ModelKind.choices,
        default=ModelKind.CHAT,
        help_text="Chat models answer /v1/chat/completions and /v1/messages; embedding "
        "models answer /v1/embeddings (priced on input tokens only).",
    )
    input_price_per_mtok = models.DecimalField(
        max_digits=12, decimal_places=6, default=0, help_text="USD per million input tokens."
    )
    output_price_per_mtok = models.DecimalField(
        max_digits=12, decimal_places=6, default=0, help_text="USD per million output tokens."
    )
    context_window = models.PositiveIntegerField(default=8192)
    max_output_tokens = models.PositiveIntegerField(default=4096)
    enabled = models.BooleanField(default=True)
    all_teams = models.BooleanField(default=True, help_text="Every team may use it.")
    teams = models.ManyToManyField(
        Team, blank=True, related_name="gateway_models", help_text="When not all teams: which may."
    )
    managed_by_file = models.BooleanField(default=False, editable=False)

    class Meta:
        verbose_name = "model"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.name and Route.objects.filter(name=self.name).exists():
            raise ValidationError({"name": "A route already uses this name."})
        if self.max_output_tokens > self.context_window:
            raise ValidationError({"max_output_tokens": "Cannot exceed the context window."})
        if (
            self.kind == ModelKind.EMBEDDING
            and self.provider_id
            and self.provider.kind == ProviderKind.ANTHROPIC
        ):
            raise ValidationError({"kind": "Anthropic providers serve no embedding models."})


class Route(TimeStampedModel):
    """A named alias (e.g. ``chat-default``) with an ordered fallback chain of models."""

    name = models.SlugField(
        max_length=100, unique=True, help_text="The id clients send as 'model'."
    )
    description = models.CharField(max_length=200, blank=True)
    enabled = models.BooleanField(default=True)
    managed_by_file = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.name and CatalogModel.objects.filter(name=self.name).exists():
            raise ValidationError({"name": "A model already uses this name."})


class RouteStep(models.Model):
    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="steps")
    model = models.ForeignKey(CatalogModel, on_delete=models.PROTECT, related_name="route_steps")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["route", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["route", "position"], name="route_step_position_unique"
            ),
            models.UniqueConstraint(fields=["route", "model"], name="route_step_model_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.route.name}[{self.position}] = {self.model.name}"


class TeamGatewaySettings(TimeStampedModel):
    """Per-team gateway behaviour. Teams without a row get the defaults."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="gateway_settings")
    rpm_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Requests per minute for the team. Empty: the platform default.",
    )
    tpm_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Tokens per minute for the team. Empty: the platform default.",
    )
    cache_ttl_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Seconds identical requests are answered from the cache. Empty: default; 0: off.",
    )
    default_pipeline = models.CharField(
        max_length=8,
        choices=Pipeline.choices,
        default=Pipeline.AUTO,
        help_text="What 'auto' means for this team: the classifier, or always this pipeline.",
    )
    semantic_cache_enabled = models.BooleanField(
        null=True,
        blank=True,
        help_text="Answer questions that mean the same as a recent one from the cache "
        "(needs a cache TTL above 0). Empty: the platform default.",
    )
    semantic_cache_threshold = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.5), MaxValueValidator(1.0)],
        help_text="Cosine similarity a question needs to reuse a cached answer (0.5 to 1). "
        "Empty: the platform default (0.95).",
    )

    class Meta:
        verbose_name = "team gateway settings"
        verbose_name_plural = "team gateway settings"

    def __str__(self) -> str:
        return f"gateway settings of {self.team}"


class SemanticCacheEntry(models.Model):
    """A cached answer found by the meaning of its question (gateway/semantic_cache.py).

    Everything except the last user message must match exactly (``scope``: a hash of the
    model asked for, pipeline, collections, settings and the earlier turns); the last
    message matches by cosine similarity of its embedding, within one team only.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=64)
    pipeline = models.CharField(max_length=8)
    embedding_model = models.CharField(max_length=200)
    # No fixed dimension: it follows the knowledge app's embedder. Lookups are exact
    # scans of one team's rows for one scope (see decision 0016), so no ANN index.
    embedding = VectorField()
    # The team's knowledge generation when the answer was made: RAG answers made before
    # a document changed never match afterwards, even if a delete raced with the store.
    knowledge_generation = models.BigIntegerField(default=0)
    answer = models.JSONField()
    served_model = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["team", "scope", "expires_at"], name="semcache_team_scope"),
            models.Index(fields=["expires_at"], name="semcache_expires"),
        ]

    def __str__(self) -> str:
        return f"semantic cache entry {self.pk} of team {self.team_id}"
