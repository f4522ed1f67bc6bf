from __future__ import annotations

import textwrap
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from gateway.config_file import apply_gateway_file, load_gateway_file
from gateway.models import CatalogModel, Provider, Route

EXAMPLE = """
providers:
  - name: anthropic
    kind: anthropic
    api_key_env: ANTHROPIC_API_KEY
    timeout_seconds: 30
  - name: openai
    kind: openai
    base_url: https://api.openai.com/v1
    api_key_env: OPENAI_API_KEY
models:
  - name: claude-sonnet
    provider: anthropic
    upstream_name: claude-sonnet-4-5
    input_price_per_mtok: 3
    output_price_per_mtok: 15
    context_window: 200000
    max_output_tokens: 64000
  - name: gpt-4o
    provider: openai
    upstream_name: gpt-4o
    input_price_per_mtok: 2.5
    output_price_per_mtok: 10
    context_window: 128000
    max_output_tokens: 16384
    teams: ["{org}/{team}"]
routes:
  - name: chat-default
    description: Claude, then GPT-4o, then the offline model
    models: [claude-sonnet, gpt-4o, local-extractive]
"""


@pytest.fixture
def config_path(tmp_path, world, local_catalogue):
    path = tmp_path / "gateway.yaml"
    path.write_text(EXAMPLE.format(org=world.org_a.slug, team=world.team_a.slug))
    return path


def test_applying_creates_managed_rows(config_path, world, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-env")
    apply_gateway_file(load_gateway_file(config_path))
    anthropic = Provider.objects.get(name="anthropic")
    assert anthropic.managed_by_file
    assert anthropic.resolved_api_key() == "sk-ant-from-env"
    assert anthropic.api_key == ""  # the secret itself is never stored from the file
    gpt = CatalogModel.objects.get(name="gpt-4o")
    assert gpt.output_price_per_mtok == Decimal("10")
    assert not gpt.all_teams
    assert list(gpt.teams.all()) == [world.team_a]
    route = Route.objects.get(name="chat-default")
    assert route.managed_by_file
    assert [s.model.name for s in route.steps.order_by("position")] == [
        "claude-sonnet",
        "gpt-4o",
        "local-extractive",
    ]


def test_applying_twice_changes_nothing(config_path):
    apply_gateway_file(load_gateway_file(config_path))
    snapshot = list(CatalogModel.objects.order_by("name").values())
    steps = list(
        Route.objects.get(name="chat-default").steps.values_list("model__name", "position")
    )
    apply_gateway_file(load_gateway_file(config_path))
    assert list(CatalogModel.objects.order_by("name").values("id", "name")) == [
        {"id": row["id"], "name": row["name"]} for row in snapshot
    ]
    assert (
        list(Route.objects.get(name="chat-default").steps.values_list("model__name", "position"))
        == steps
    )


def test_rows_dropped_from_the_file_are_disabled_not_deleted(config_path, tmp_path):
    apply_gateway_file(load_gateway_file(config_path))
    smaller = tmp_path / "smaller.yaml"
    smaller.write_text(
        "providers: [{name: openai, kind: openai}]\n"
        "models: [{name: gpt-4o, provider: openai, upstream_name: gpt-4o}]\n"
    )
    report = apply_gateway_file(load_gateway_file(smaller))
    claude = CatalogModel.objects.get(name="claude-sonnet")
    assert not claude.enabled
    assert not claude.managed_by_file
    assert report.disabled >= 3  # anthropic provider, claude model, chat-default route


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("providers: [{name: x, kind: cohere}]", "kind"),
        ("models: [{name: m, provider: nowhere, upstream_name: m}]", "unknown provider"),
        ("routes: [{name: r, models: [ghost]}]", "unknown model"),
        ("providers: [{name: x, kind: openai, api_key: sk-123}]", "api_key"),  # no secrets in files
        ("providers: [{name: x, kind: openai, api_key_env: 'lower case'}]", "api_key_env"),
        ("{{{", "Cannot read"),
    ],
)
def test_bad_files_are_refused_with_a_clear_message(tmp_path, local_catalogue, content, message):
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent(content))
    with pytest.raises(CommandError, match=message):
        call_command("gateway_apply_config", str(path))
    assert not Provider.objects.filter(name="x").exists()


def test_the_command_reports_what_it_applied(config_path, capsys):
    call_command("gateway_apply_config", str(config_path))
    assert "2 providers, 2 models, 1 routes" in capsys.readouterr().out
