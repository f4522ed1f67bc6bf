"""POST /v1/embeddings: the official SDK, both encodings, clear 400s, authentication, rate
limits, and a ledger row per request priced from the catalogue."""

from __future__ import annotations

import math
from decimal import Decimal

import httpx
import openai
import pytest

from accounts import services as account_services
from accounts.access import Actor
from accounts.models import APIKey
from billing.models import UsageRecord
from gateway.models import CatalogModel
from gateway.tests.conftest import error_code
from gateway.tests.knowledge_docs import warm_server
from knowledge.embeddings import DEFAULT_EMBEDDING_MODEL, default_tokenizer, embed_texts

MODEL = DEFAULT_EMBEDDING_MODEL


@pytest.fixture
def embedder(gateway):
    warm_server(gateway.url, gateway.secret)
    UsageRecord.objects.all().delete()  # the warm-up's own row
    return gateway


def _post(gateway, body: object, *, secret: str | None = None) -> httpx.Response:
    return httpx.post(
        f"{gateway.url}/v1/embeddings",
        json=body,
        headers={"Authorization": f"Bearer {secret or gateway.secret}"},
        timeout=60,
    )


def test_openai_sdk_gets_the_same_vectors_knowledge_indexes_with(embedder):
    client = embedder.openai()
    texts = ["The office opens at nine.", "Annual leave is 25 days."]
    response = client.embeddings.create(model=MODEL, input=texts)  # the SDK asks for base64
    assert [item.index for item in response.data] == [0, 1]
    expected = embed_texts(texts)
    for item, want in zip(response.data, expected, strict=True):
        assert len(item.embedding) == 384
        assert math.isclose(math.fsum(x * x for x in item.embedding), 1.0, rel_tol=1e-4)
        assert all(
            math.isclose(a, b, abs_tol=1e-5) for a, b in zip(item.embedding, want, strict=True)
        )
    floats = client.embeddings.create(model=MODEL, input=texts[0], encoding_format="float")
    assert all(
        math.isclose(a, b, abs_tol=1e-6)
        for a, b in zip(floats.data[0].embedding, response.data[0].embedding, strict=True)
    )
    assert response.model == MODEL
    tokens = sum(len(e.ids) for e in default_tokenizer().encode_batch(texts))
    assert response.usage.prompt_tokens == response.usage.total_tokens == tokens


def test_every_request_is_a_ledger_row_priced_from_the_catalogue(embedder, world):
    raw = embedder.openai().embeddings.with_raw_response.create(model=MODEL, input="hello world")
    assert raw.headers["X-Gateway-Pipeline"] == "embed"
    assert int(raw.headers["x-ratelimit-remaining-requests"]) >= 0  # admitted like chat
    local = UsageRecord.objects.get()
    assert (local.pipeline, local.model_used, local.status) == ("embed", MODEL, "ok")
    assert local.team_id == world.team_a.pk
    assert local.input_tokens == raw.parse().usage.prompt_tokens
    assert local.output_tokens == 0
    assert local.cost_usd == 0
    # A priced embedding model on an OpenAI-compatible provider: its usage, its price.
    CatalogModel.objects.create(
        name="embed-priced",
        provider=embedder.providers["openai-primary"],
        upstream_name="text-embedding-3-small",
        kind="embedding",
        input_price_per_mtok=Decimal("100"),
        context_window=8191,
        max_output_tokens=1,
    )
    priced = embedder.openai().embeddings.create(model="embed-priced", input=["one two three"])
    assert len(priced.data[0].embedding) == 8  # the peer's vectors
    row = UsageRecord.objects.get(model_used="embed-priced")
    assert row.input_tokens == priced.usage.prompt_tokens == 3
    assert row.cost_usd == Decimal("100") * 3 / 1_000_000


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"model": MODEL}, "input", "invalid_request"),
        ({"model": MODEL, "input": []}, "input", "invalid_request"),
        ({"model": MODEL, "input": [1, 2, 3]}, "input.0", "invalid_request"),
        ({"model": MODEL, "input": [[1, 2]]}, "input.0", "invalid_request"),
        ({"model": MODEL, "input": ["ok", "  "]}, "input.1", "invalid_request"),
        ({"model": MODEL, "input": 42}, "input", "invalid_request"),
        ({"model": MODEL, "input": "x", "encoding_format": "int8"}, "encoding_format", None),
        (
            {"model": MODEL, "input": "x", "dimensions": 12},
            "dimensions",
            "dimensions_not_supported",
        ),
        ({"model": MODEL, "input": "word " * 400}, "input", "context_length_exceeded"),
        ({"model": "local-extractive", "input": "x"}, "model", "model_not_embedding"),
        ({"input": "x"}, "model", None),
    ],
)
def test_bad_requests_are_clear_400s(embedder, body, param, code):
    response = _post(embedder, body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param
    if code:
        assert error["code"] == code
    assert error["message"]
    assert not UsageRecord.objects.exists()  # refused before anything was charged


def test_dimensions_equal_to_the_models_own_are_fine(embedder):
    response = _post(embedder, {"model": MODEL, "input": "x", "dimensions": 384})
    assert response.status_code == 200
    assert len(response.json()["data"][0]["embedding"]) == 384


def test_limits_unknown_models_and_keys(embedder, world, settings):
    many = _post(embedder, {"model": MODEL, "input": ["x"] * 257})
    assert many.status_code == 400
    assert "limit is 256" in many.json()["error"]["message"]
    with pytest.raises(openai.NotFoundError) as missing:
        embedder.openai().embeddings.create(model="no-such-embedder", input="x")
    assert error_code(missing.value) == "model_not_found"
    anonymous = httpx.post(f"{embedder.url}/v1/embeddings", json={"model": MODEL, "input": "x"})
    assert anonymous.status_code == 401
    _, read_only = account_services.api_key_create(
        actor=Actor(user=world.owner_a),
        team=world.team_a,
        name="read",
        scopes=["read"],
        user=world.owner_a,
    )
    assert _post(embedder, {"model": MODEL, "input": "x"}, secret=read_only).status_code == 403


def test_rate_limited_like_chat(embedder, world):
    key, secret = account_services.api_key_create(
        actor=Actor(user=world.owner_a), team=world.team_a, name="slow", user=world.owner_a
    )
    APIKey.objects.filter(pk=key.pk).update(rpm_limit=1)
    assert _post(embedder, {"model": MODEL, "input": "x"}, secret=secret).status_code == 200
    limited = _post(embedder, {"model": MODEL, "input": "x"}, secret=secret)
    assert limited.status_code == 429
    assert limited.headers.get("Retry-After")


def test_embedding_models_can_be_declared_in_the_config_file(db, tmp_path, world):
    from asgiref.sync import async_to_sync

    from gateway.catalogue import current_catalogue, forget_snapshot
    from gateway.config_file import apply_gateway_file, load_gateway_file

    path = tmp_path / "gateway.yaml"
    path.write_text(
        "providers:\n  - {name: oai, kind: openai, base_url: 'http://127.0.0.1:9/v1'}\n"
        "models:\n"
        "  - {name: te3, provider: oai, upstream_name: text-embedding-3-small, "
        "kind: embedding, input_price_per_mtok: 0.02, context_window: 8191, "
        "max_output_tokens: 1}\n"
        "  - {name: chatty, provider: oai, upstream_name: gpt-4o}\n"
    )
    apply_gateway_file(load_gateway_file(path))
    assert CatalogModel.objects.get(name="te3").kind == "embedding"
    forget_snapshot()
    catalogue = async_to_sync(current_catalogue)(skip_version_check=True)
    team = world.team_a.pk
    assert catalogue.embedding_model(team, "te3") is not None
    assert catalogue.chain_for(team, "te3") is None  # never answers a chat
    assert catalogue.embedding_model(team, "chatty") is None
