"""An immutable snapshot of the catalogue, shared by all requests of a process.

Reading six tables on every request would cost more than the rest of the hot path, so
each process keeps a snapshot and checks one Redis key per request: any change to the
catalogue (console, config file, shell) sets that key to a new random version, and every
process reloads on its next request. A missing key (Redis restarted or flushed) also
forces a reload, so a lost key can never pin a stale snapshot. The database stays the
source of truth.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.conf import settings

from billing.models import TeamBudget
from billing.selectors import team_plan_rpm
from core.asyncdb import run_detached
from core.redis import get_async_redis
from gateway.models import CatalogModel, Pipeline, Provider, Route, TeamGatewaySettings
from gateway.providers.base import ProviderConfig

VERSION_KEY = "gateway:catalogue:version"


@dataclass(frozen=True, slots=True)
class ModelEntry:
    id: int
    name: str
    upstream_name: str
    provider: ProviderConfig
    input_price_per_mtok: Decimal
    output_price_per_mtok: Decimal
    context_window: int
    max_output_tokens: int
    all_teams: bool
    team_ids: frozenset[int]
    created: int
    kind: str = "chat"  # ModelKind: "chat" or "embedding"

    def usable_by(self, team_id: int) -> bool:
        return self.all_teams or team_id in self.team_ids

    def cost(self, input_tokens: int, output_tokens: int) -> Decimal:
        return (
            self.input_price_per_mtok * input_tokens + self.output_price_per_mtok * output_tokens
        ) / Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class RouteEntry:
    name: str
    description: str
    model_names: tuple[str, ...]
    created: int


@dataclass(frozen=True, slots=True)
class TeamPolicy:
    """A team's limits and settings, with platform defaults filled in."""

    rpm: int  # 0 = unlimited
    tpm: int
    cache_ttl_seconds: int  # 0 = no cache
    default_pipeline: str
    budget_limit_usd: Decimal | None  # None = no budget limit
    alert_threshold_percent: int
    semantic_cache_enabled: bool = False  # also needs cache_ttl_seconds > 0
    semantic_cache_threshold: float = 0.95


def default_policy() -> TeamPolicy:
    return TeamPolicy(
        rpm=settings.GATEWAY_DEFAULT_TEAM_RPM,
        tpm=settings.GATEWAY_DEFAULT_TEAM_TPM,
        cache_ttl_seconds=settings.GATEWAY_DEFAULT_CACHE_TTL_SECONDS,
        default_pipeline=Pipeline.AUTO.value,
        budget_limit_usd=None,
        alert_threshold_percent=80,
        semantic_cache_enabled=settings.GATEWAY_SEMANTIC_CACHE_DEFAULT_ENABLED,
        semantic_cache_threshold=settings.GATEWAY_SEMANTIC_CACHE_DEFAULT_THRESHOLD,
    )


@dataclass(frozen=True, slots=True)
class Catalogue:
    version: str
    models: dict[str, ModelEntry] = field(default_factory=dict)
    routes: dict[str, RouteEntry] = field(default_factory=dict)
    policies: dict[int, TeamPolicy] = field(default_factory=dict)

    def policy(self, team_id: int) -> TeamPolicy:
        return self.policies.get(team_id) or default_policy()

    def chain_for(
        self, team_id: int, requested: str
    ) -> tuple[list[ModelEntry], RouteEntry | None] | None:
        """The models to try, in order, for a requested route alias or model name.
        None if the team may use none of them (or the name is unknown). Chat models only:
        an embedding model cannot answer a chat."""
        route = self.routes.get(requested)
        if route is not None:
            chain = [self.models[n] for n in route.model_names if n in self.models]
            chain = [m for m in chain if m.usable_by(team_id) and m.kind == "chat"]
            return (chain, route) if chain else None
        model = self.models.get(requested)
        if model is not None and model.usable_by(team_id) and model.kind == "chat":
            return [model], None
        return None

    def embedding_model(self, team_id: int, requested: str) -> ModelEntry | None:
        model = self.models.get(requested)
        if model is not None and model.usable_by(team_id) and model.kind == "embedding":
            return model
        return None

    def visible_ids(self, team_id: int) -> list[tuple[str, int, str]]:
        """(id, created, owned_by) of every model and route this team may ask for."""
        items = [
            (m.name, m.created, m.provider.name)
            for m in self.models.values()
            if m.usable_by(team_id)
        ]
        items += [
            (r.name, r.created, "route")
            for r in self.routes.values()
            if self.chain_for(team_id, r.name) is not None
        ]
        return sorted(items)

    def default_pipeline(self, team_id: int) -> str:
        return self.policy(team_id).default_pipeline


def _load(version: str) -> Catalogue:
    providers = {
        p.pk: ProviderConfig(
            id=p.pk,
            kind=p.kind,
            name=p.name,
            base_url=p.base_url or None,
            api_key=p.resolved_api_key(),
            timeout_seconds=p.timeout_seconds,
        )
        for p in Provider.objects.filter(enabled=True)
    }
    team_access: dict[int, set[int]] = {}
    for model_id, team_id in CatalogModel.teams.through.objects.values_list(
        "catalogmodel_id", "team_id"
    ):
        team_access.setdefault(model_id, set()).add(team_id)
    models = {
        m.name: ModelEntry(
            id=m.pk,
            name=m.name,
            upstream_name=m.upstream_name,
            provider=providers[m.provider_id],
            input_price_per_mtok=m.input_price_per_mtok,
            output_price_per_mtok=m.output_price_per_mtok,
            context_window=m.context_window,
            max_output_tokens=m.max_output_tokens,
            all_teams=m.all_teams,
            team_ids=frozenset(team_access.get(m.pk, ())),
            created=int(m.created_at.timestamp()),
            kind=m.kind,
        )
        for m in CatalogModel.objects.filter(enabled=True)
        if m.provider_id in providers
    }
    routes = {
        r.name: RouteEntry(
            name=r.name,
            description=r.description,
            model_names=tuple(step.model.name for step in r.steps.all()),
            created=int(r.created_at.timestamp()),
        )
        for r in Route.objects.filter(enabled=True).prefetch_related("steps__model")
    }
    return Catalogue(version=version, models=models, routes=routes, policies=_load_policies())


def _load_policies() -> dict[int, TeamPolicy]:
    default = default_policy()
    # The organization's plan sets its teams' default rate limit; team settings and key
    # limits still override it.
    policies = {t: replace(default, rpm=rpm) for t, rpm in team_plan_rpm().items()}
    for s in TeamGatewaySettings.objects.all():
        base = policies.get(s.team_id, default)
        policies[s.team_id] = replace(
            base,
            rpm=base.rpm if s.rpm_limit is None else s.rpm_limit,
            tpm=base.tpm if s.tpm_limit is None else s.tpm_limit,
            cache_ttl_seconds=base.cache_ttl_seconds
            if s.cache_ttl_seconds is None
            else s.cache_ttl_seconds,
            default_pipeline=s.default_pipeline,
            semantic_cache_enabled=base.semantic_cache_enabled
            if s.semantic_cache_enabled is None
            else s.semantic_cache_enabled,
            semantic_cache_threshold=base.semantic_cache_threshold
            if s.semantic_cache_threshold is None
            else s.semantic_cache_threshold,
        )
    for budget in TeamBudget.objects.all():
        policies[budget.team_id] = replace(
            policies.get(budget.team_id, default),
            budget_limit_usd=budget.monthly_limit_usd,
            alert_threshold_percent=budget.alert_threshold_percent,
        )
    return policies


_snapshot: Catalogue | None = None
_reload_lock: asyncio.Lock | None = None


async def current_catalogue(*, skip_version_check: bool = False) -> Catalogue:
    """The snapshot matching the current version key (reloaded when it moved).
    ``skip_version_check``: Redis is down and the failure policy allows going on: use the
    snapshot we have, or read the database."""
    global _snapshot, _reload_lock
    if skip_version_check:
        if _snapshot is None:
            _snapshot = await run_detached(_load, "")
        return _snapshot
    redis = get_async_redis()
    raw = await redis.get(VERSION_KEY)
    if raw is None:
        await redis.set(VERSION_KEY, uuid.uuid4().hex, nx=True)
        raw = await redis.get(VERSION_KEY)
        _snapshot = None
    version = (raw.decode() if isinstance(raw, bytes) else str(raw)) if raw is not None else ""
    snapshot = _snapshot
    if snapshot is not None and snapshot.version == version:
        return snapshot
    if _reload_lock is None:
        _reload_lock = asyncio.Lock()
    async with _reload_lock:  # one reload per process, not one per waiting request
        if _snapshot is None or _snapshot.version != version:
            _snapshot = await run_detached(_load, version)
        return _snapshot


def bump_catalogue_version() -> None:
    """Tell every process to reload. Called after any catalogue change commits."""
    from core.redis import get_redis

    get_redis().set(VERSION_KEY, uuid.uuid4().hex)


def forget_snapshot() -> None:
    """Drop this process's snapshot (tests, and after applying the config file)."""
    global _snapshot
    _snapshot = None
