"""/v1 endpoints over HTTP: models, generate, limits and the error contract."""

from __future__ import annotations

import httpx
import openai
import pytest

from accounts import services as account_services
from accounts.access import Actor
from gateway.models import CatalogModel, Provider, TeamGatewaySettings


def _post(gateway, path: str, body: object, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{gateway.url}/v1/{path}",
        headers={"Authorization": f"Bearer {gateway.secret}", **headers},
        json=body,
        timeout=30,
    )


def test_models_lists_only_what_the_team_may_use(gateway, world):
    private = CatalogModel.objects.create(
        name="globex-only", provider=gateway.providers["local"], upstream_name="x", all_teams=False
    )
    private.teams.add(world.team_b)
    ids = {m.id for m in gateway.openai().models.list().data}
    assert {"gpt-primary", "claude-primary", "local-extractive", "chat-default", "resilient"} <= ids
    assert "globex-only" not in ids
    assert gateway.openai().models.retrieve("resilient").owned_by == "route"
    with pytest.raises(openai.NotFoundError):
        gateway.openai().models.retrieve("globex-only")
    with pytest.raises(openai.NotFoundError):  # and they cannot call it either
        gateway.openai().chat.completions.create(
            model="globex-only", messages=[{"role": "user", "content": "x"}]
        )


def test_generate_returns_the_platform_shape(gateway):
    response = _post(
        gateway,
        "generate",
        {"prompt": "hello generate", "model": "resilient", "pipeline": "direct"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["content"] == "Echo: hello generate"
    assert body["model_used"] == "gpt-primary"
    assert body["pipeline_used"] == "direct"
    assert body["route"] == "resilient"
    assert body["tokens_in"] > 0
    assert body["tokens_out"] == 3
    assert body["cached"] is False
    assert body["fallbacks"] == 0
    # 2.5 USD per million in, 10 per million out
    expected = (2.5 * body["tokens_in"] + 10 * body["tokens_out"]) / 1_000_000
    assert abs(float(body["cost_usd"]) - expected) < 1e-9
    assert body["request_id"] == response.headers["X-Request-Id"]
    assert body["latency_ms"] > 0


def test_generate_defaults_to_chat_default_and_auto(gateway):
    body = _post(gateway, "generate", {"prompt": "tell me a joke"}).json()
    assert body["model_used"] == "local-extractive"
    assert body["pipeline_used"] == "direct"


def test_rag_needs_a_collection_and_agent_answers_501_until_it_exists(gateway, world):
    for payload in (
        {"prompt": "What does our handbook say? Check in our docs.", "pipeline": "auto"},
        {"prompt": "hi", "pipeline": "rag"},
    ):
        response = _post(gateway, "generate", payload)
        assert response.status_code == 404, payload  # a team without knowledge collections
        assert response.json()["error"]["code"] == "collection_not_found"
    response = _post(gateway, "generate", {"prompt": "hi", "pipeline": "agent"})
    assert response.status_code == 501
    assert response.json()["error"]["code"] == "pipeline_not_available"
    # A team that pins auto to direct gets a direct answer to the same question.
    TeamGatewaySettings.objects.create(team=world.team_a, default_pipeline="direct")
    response = _post(
        gateway, "generate", {"prompt": "What does our handbook say? Check in our docs."}
    )
    assert response.status_code == 200
    assert response.json()["pipeline_used"] == "direct"


@pytest.mark.parametrize(
    ("path", "body", "status", "param"),
    [
        ("chat/completions", {"model": "chat-default", "messages": [{"role": "user", "content": "x"}], "max_tokens": 10**6}, 400, "max_tokens"),
        ("chat/completions", {"model": "chat-default", "messages": [{"role": "wizard", "content": "x"}]}, 400, "messages[0].role"),
        ("chat/completions", {"messages": [{"role": "user", "content": "x"}]}, 400, "model"),
        ("messages", {"model": "chat-default", "messages": [{"role": "user", "content": "x"}]}, 400, "max_tokens"),
        ("generate", {"prompt": ""}, 400, "prompt"),
        ("generate", {"prompt": "x", "pipeline": "magic"}, 400, "pipeline"),
    ],
)  # fmt: skip
def test_invalid_requests_name_the_field(gateway, path, body, status, param):
    response = _post(gateway, path, body)
    assert response.status_code == status
    error = response.json()["error"]
    if path == "messages":  # Anthropic's error shape has no param: the message names it
        assert param in error["message"]
    else:
        assert error["param"] == param


def test_the_anthropic_endpoint_answers_errors_in_anthropic_shape(gateway):
    response = _post(
        gateway,
        "messages",
        {"model": "nope", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
    )
    assert response.status_code == 404
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "not_found_error"


def test_oversized_bodies_get_413(gateway):
    big = "x" * 250_000  # the test servers run with GATEWAY_MAX_BODY_BYTES=200000
    response = _post(
        gateway,
        "chat/completions",
        {"model": "chat-default", "messages": [{"role": "user", "content": big}]},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_a_prompt_over_the_context_window_gets_422(gateway):
    CatalogModel.objects.create(
        name="tiny",
        provider=gateway.providers["local"],
        upstream_name="tiny",
        context_window=64,
        max_output_tokens=16,
    )
    response = _post(
        gateway,
        "chat/completions",
        {"model": "tiny", "messages": [{"role": "user", "content": "word " * 200}]},
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "context_length_exceeded"


def test_malformed_json_method_and_unknown_endpoint(gateway):
    raw = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {gateway.secret}", "Content-Type": "application/json"},
        content=b"{not json",
        timeout=30,
    )
    assert raw.status_code == 400
    assert raw.json()["error"]["code"] == "invalid_json"
    wrong_method = httpx.get(
        f"{gateway.url}/v1/chat/completions", headers={"Authorization": f"Bearer {gateway.secret}"}
    )
    assert wrong_method.status_code == 405
    unknown = httpx.post(f"{gateway.url}/v1/completions-legacy", json={})
    assert unknown.status_code == 404
    for response in (raw, wrong_method, unknown):
        assert response.headers["X-Request-Id"]


def test_missing_key_and_missing_scope(gateway, world):
    anonymous = httpx.post(f"{gateway.url}/v1/chat/completions", json={}, timeout=30)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "missing_api_key"
    _, read_only = account_services.api_key_create(
        actor=Actor(user=world.owner_a), team=world.team_a, name="ro", scopes=["read"]
    )
    response = httpx.get(
        f"{gateway.url}/v1/models", headers={"Authorization": f"Bearer {read_only}"}, timeout=30
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"


def test_upstream_credentials_rejected_is_a_502_without_leaking_them(gateway, primary):
    primary.set(api_key="the-right-upstream-key")  # the provider is configured with "sk-up"
    response = _post(
        gateway,
        "chat/completions",
        {"model": "gpt-primary", "messages": [{"role": "user", "content": "x"}]},
    )
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "provider_auth_failed"
    assert "sk-up" not in response.text


def test_a_fresh_install_answers_through_the_local_provider(
    live_server_url, transactional_db, world, local_catalogue
):
    """What the data migration gives a new deployment: chat-default -> local-extractive."""
    assert list(Provider.objects.values_list("kind", flat=True)) == ["local"]
    _, secret = account_services.api_key_create(
        actor=Actor(user=world.owner_a), team=world.team_a, name="fresh"
    )
    client = openai.OpenAI(base_url=f"{live_server_url}/v1", api_key=secret, max_retries=0)
    response = client.chat.completions.create(
        model="chat-default", messages=[{"role": "user", "content": "Hi!"}]
    )
    assert "local extractive model" in (response.choices[0].message.content or "")
    assert response.model == "local-extractive"
