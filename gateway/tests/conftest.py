"""Gateway fixtures: two local peer servers (a primary and a backup) speaking the OpenAI
and Anthropic wire protocols, a catalogue pointing at them, and a team API key."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import anthropic
import openai
import pytest

from accounts import services as account_services
from accounts.access import Actor
from conftest import wait_for_quiet_database
from gateway.models import CatalogModel, Provider, Route, RouteStep
from gateway.testing.peers import PeerServer


@pytest.fixture(scope="session")
def _primary_peer():
    with PeerServer() as peer:
        yield peer


@pytest.fixture(scope="session")
def _backup_peer():
    with PeerServer() as peer:
        yield peer


@pytest.fixture
def primary(_primary_peer):
    _primary_peer.reset()
    yield _primary_peer
    _primary_peer.reset()


@pytest.fixture
def backup(_backup_peer):
    _backup_peer.reset()
    yield _backup_peer
    _backup_peer.reset()


def served_by(response: Any) -> str:
    """The model that answered, from the x_gateway field of a chat completion."""
    extra = response.model_extra or {}
    return str(extra["x_gateway"]["model"])


def error_code(error: openai.APIStatusError) -> str:
    body = error.body
    assert isinstance(body, dict)
    return str(body["code"])


@dataclass
class Gateway:
    url: str
    secret: str
    providers: dict[str, Provider]
    models: dict[str, CatalogModel]

    def openai(self, **options) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=f"{self.url}/v1", api_key=self.secret, max_retries=0, timeout=30, **options
        )

    def anthropic(self, **options) -> anthropic.Anthropic:
        return anthropic.Anthropic(
            base_url=self.url, api_key=self.secret, max_retries=0, timeout=30, **options
        )


def make_catalogue(
    primary: PeerServer, backup: PeerServer
) -> tuple[dict[str, Provider], dict[str, CatalogModel]]:
    # Start from an empty catalogue whatever the data migration (or an earlier test) left.
    RouteStep.objects.all().delete()
    Route.objects.all().delete()
    CatalogModel.objects.all().delete()
    Provider.objects.all().delete()
    providers = {
        "openai-primary": Provider.objects.create(
            name="openai-primary",
            kind="openai",
            base_url=f"{primary.base_url}/v1",
            api_key="sk-up",
            timeout_seconds=1.5,
        ),
        "anthropic-primary": Provider.objects.create(
            name="anthropic-primary",
            kind="anthropic",
            base_url=primary.base_url,
            api_key="sk-up",
            timeout_seconds=1.5,
        ),
        "openai-backup": Provider.objects.create(
            name="openai-backup", kind="openai", base_url=f"{backup.base_url}/v1", timeout_seconds=5
        ),
        "local": Provider.objects.create(name="local", kind="local"),
    }

    def model(name: str, provider: str, upstream: str, **overrides) -> CatalogModel:
        fields = {
            "input_price_per_mtok": Decimal("2.5"),
            "output_price_per_mtok": Decimal("10"),
            "context_window": 128_000,
            "max_output_tokens": 4096,
        }
        return CatalogModel.objects.create(
            name=name,
            provider=providers[provider],
            upstream_name=upstream,
            **{**fields, **overrides},
        )

    models = {
        "gpt-primary": model("gpt-primary", "openai-primary", "gpt-4o"),
        "claude-primary": model("claude-primary", "anthropic-primary", "claude-sonnet-4-5"),
        "gpt-backup": model("gpt-backup", "openai-backup", "gpt-4o-mini"),
        "local-extractive": model(
            "local-extractive", "local", "local-extractive", input_price_per_mtok=0
        ),
    }
    for route_name, chain in {
        "chat-default": ["local-extractive"],
        "resilient": ["gpt-primary", "gpt-backup"],
        "cross": ["claude-primary", "gpt-backup"],
    }.items():
        route = Route.objects.create(name=route_name)
        for position, name in enumerate(chain):
            RouteStep.objects.create(route=route, model=models[name], position=position)
    return providers, models


@pytest.fixture
def gateway(live_server_url, transactional_db, world, primary, backup) -> Iterator[Gateway]:
    providers, models = make_catalogue(primary, backup)
    _, secret = account_services.api_key_create(
        actor=Actor(user=world.owner_a), team=world.team_a, name="sdk", user=world.owner_a
    )
    yield Gateway(url=live_server_url, secret=secret, providers=providers, models=models)
    wait_for_quiet_database()


@pytest.fixture
def local_catalogue(db) -> None:
    """The rows the data migration gives every install (transactional tests flush them)."""
    from importlib import import_module

    from django.apps import apps

    import_module("gateway.migrations.0002_local_catalogue").create_local_catalogue(apps, None)
