"""Providers, models and routes declared in a YAML file (GATEWAY_CONFIG), so a deployment
is reproducible from its repository. Applying is idempotent: the file's rows are created or
updated and marked as managed by the file (read-only in the console); rows the file used
to manage but no longer lists are disabled, not deleted, because the ledger refers to them.
Secrets are never in the file: a provider names the environment variable that holds its key.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Literal

import yaml
from django.db import transaction
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from accounts.models import Team
from core.errors import ValidationFailed
from gateway.models import CatalogModel, Provider, ProviderKind, Route, RouteStep


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProviderSpec(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    kind: Literal["openai", "anthropic", "local"]
    base_url: str = ""
    api_key_env: str = Field(default="", pattern=r"^([A-Z_][A-Z0-9_]*)?$")
    timeout_seconds: float = Field(default=60.0, gt=0)
    enabled: bool = True


class ModelSpec(_Strict):
    name: str = Field(min_length=1, max_length=100)
    provider: str
    upstream_name: str
    kind: Literal["chat", "embedding"] = "chat"  # embedding models answer /v1/embeddings
    input_price_per_mtok: Decimal = Field(default=Decimal(0), ge=0)
    output_price_per_mtok: Decimal = Field(default=Decimal(0), ge=0)
    context_window: int = Field(default=8192, gt=0)
    max_output_tokens: int = Field(default=4096, gt=0)
    enabled: bool = True
    # "all", or a list of "org-slug/team-slug"
    teams: Literal["all"] | list[str] = "all"


class RouteSpec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    description: str = ""
    models: list[str] = Field(min_length=1)
    enabled: bool = True

    @field_validator("models")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a route lists each model once")
        return value


class GatewayFile(_Strict):
    providers: list[ProviderSpec] = Field(default_factory=list)
    models: list[ModelSpec] = Field(default_factory=list)
    routes: list[RouteSpec] = Field(default_factory=list)


@dataclass(frozen=True)
class ApplyReport:
    providers: int
    models: int
    routes: int
    disabled: int


def load_gateway_file(path: Path) -> GatewayFile:
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValidationFailed(f"Cannot read GATEWAY_CONFIG {path}: {exc}") from exc
    try:
        spec = GatewayFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValidationFailed(f"GATEWAY_CONFIG {path}: {where}: {first['msg']}") from exc
    _check_references(spec)
    return spec


def _check_references(spec: GatewayFile) -> None:
    providers = {p.name for p in spec.providers}
    models = {m.name for m in spec.models}
    for model in spec.models:
        if (
            model.provider not in providers
            and not Provider.objects.filter(name=model.provider).exists()
        ):
            raise ValidationFailed(
                f"GATEWAY_CONFIG: model {model.name!r} uses unknown provider {model.provider!r}"
            )
    for route in spec.routes:
        if route.name in models:
            raise ValidationFailed(f"GATEWAY_CONFIG: route {route.name!r} has the name of a model")
        for name in route.models:
            if name not in models and not CatalogModel.objects.filter(name=name).exists():
                raise ValidationFailed(
                    f"GATEWAY_CONFIG: route {route.name!r} uses unknown model {name!r}"
                )


def _teams(names: list[str]) -> list[Team]:
    teams = []
    for name in names:
        org_slug, _, team_slug = name.partition("/")
        team = Team.objects.filter(organization__slug=org_slug, slug=team_slug).first()
        if team is None:
            raise ValidationFailed(f"GATEWAY_CONFIG: no team {name!r} (use 'org-slug/team-slug')")
        teams.append(team)
    return teams


@transaction.atomic
def apply_gateway_file(spec: GatewayFile) -> ApplyReport:
    for p in spec.providers:
        Provider.objects.update_or_create(
            name=p.name,
            defaults={
                "kind": ProviderKind(p.kind),
                "base_url": p.base_url,
                "api_key_env": p.api_key_env,
                "api_key": "",
                "timeout_seconds": p.timeout_seconds,
                "enabled": p.enabled,
                "managed_by_file": True,
            },
        )
    for m in spec.models:
        model, _ = CatalogModel.objects.update_or_create(
            name=m.name,
            defaults={
                "provider": Provider.objects.get(name=m.provider),
                "upstream_name": m.upstream_name,
                "kind": m.kind,
                "input_price_per_mtok": m.input_price_per_mtok,
                "output_price_per_mtok": m.output_price_per_mtok,
                "context_window": m.context_window,
                "max_output_tokens": m.max_output_tokens,
                "enabled": m.enabled,
                "all_teams": m.teams == "all",
                "managed_by_file": True,
            },
        )
        model.teams.set([] if m.teams == "all" else _teams(m.teams))
    for r in spec.routes:
        route, _ = Route.objects.update_or_create(
            name=r.name,
            defaults={"description": r.description, "enabled": r.enabled, "managed_by_file": True},
        )
        route.steps.all().delete()
        RouteStep.objects.bulk_create(
            RouteStep(route=route, model=CatalogModel.objects.get(name=name), position=position)
            for position, name in enumerate(r.models)
        )
    disabled = _disable_dropped(spec)
    return ApplyReport(len(spec.providers), len(spec.models), len(spec.routes), disabled)


def _disable_dropped(spec: GatewayFile) -> int:
    """Rows the file managed before but no longer lists: disabled, handed back to the console."""
    disabled = 0
    for model_class, names in (
        (Provider, {p.name for p in spec.providers}),
        (CatalogModel, {m.name for m in spec.models}),
        (Route, {r.name for r in spec.routes}),
    ):
        dropped = model_class.objects.filter(managed_by_file=True).exclude(name__in=names)
        disabled += dropped.update(enabled=False, managed_by_file=False)
    return disabled
