"""The default model (offline, normalised, batched) and OpenAI-compatible endpoints."""

from __future__ import annotations

import hashlib
import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from asgiref.sync import async_to_sync

from core.errors import ValidationFailed
from knowledge import embeddings
from knowledge.embeddings import (
    DEFAULT_EMBEDDING_MODEL,
    EmbeddingUnavailable,
    aembed_texts,
    embed_texts,
    embedding_dimension,
)
from knowledge.models import Chunk, DocumentStatus
from knowledge.search import search


def _cosine(a, b):
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_default_model_vectors_are_normalised_and_meaningful():
    vectors = embed_texts(
        ["The cat sat on the mat.", "A kitten rested on the rug.", "Quarterly tax filing deadline"]
    )
    assert len(vectors) == 3
    assert all(len(v) == 384 == embedding_dimension(DEFAULT_EMBEDDING_MODEL) for v in vectors)
    assert all(math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, rel_tol=1e-4) for v in vectors)
    assert _cosine(vectors[0], vectors[1]) > _cosine(vectors[0], vectors[2]) + 0.2


def test_batches_give_the_same_vectors(settings):
    texts = [f"sentence number {i}" for i in range(7)]
    settings.KNOWLEDGE_EMBEDDING_BATCH_SIZE = 64
    whole = embed_texts(texts)
    settings.KNOWLEDGE_EMBEDDING_BATCH_SIZE = 3
    batched = embed_texts(texts)
    for a, b in zip(whole, batched, strict=True):
        assert _cosine(a, b) > 0.9999
    assert embed_texts([]) == []


def test_async_version():
    assert len(async_to_sync(aembed_texts)(["hello"])[0]) == 384


def test_unknown_model_is_a_validation_error():
    with pytest.raises(ValidationFailed, match="Unknown embedding model"):
        embed_texts(["x"], model="no-such-model")


def _fake_vector(text: str, dimension: int) -> list[float]:
    """Hashed bag of words: texts sharing words get similar vectors."""
    vector = [0.0] * dimension
    for word in text.lower().split():
        vector[int(hashlib.sha256(word.strip(".,?").encode()).hexdigest(), 16) % dimension] += 1.0
    return vector


class _EmbeddingServer(BaseHTTPRequestHandler):
    behaviour: ClassVar[dict[str, Any]] = {
        "status": 200,
        "requests": 0,
        "dimension": 16,
        "auth": [],
    }

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.behaviour["requests"] += 1
        self.behaviour["auth"].append(self.headers.get("Authorization"))
        if self.behaviour["status"] != 200:
            self.send_response(self.behaviour["status"])
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error": {"message": "down"}}')
            return
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": _fake_vector(t, self.behaviour["dimension"]),
            }
            for i, t in reversed(list(enumerate(inputs)))  # out of order, as servers may
        ]
        payload = json.dumps(
            {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def openai_embedder(settings, monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EmbeddingServer)
    _EmbeddingServer.behaviour.update(status=200, requests=0, dimension=16, auth=[])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.KNOWLEDGE_OPENAI_EMBEDDING_MODELS = {"hash-embed": "16"}
    settings.KNOWLEDGE_OPENAI_EMBEDDING_BASE_URL = f"http://127.0.0.1:{server.server_address[1]}/v1"
    settings.KNOWLEDGE_OPENAI_EMBEDDING_API_KEY_ENV = "TEST_EMBEDDING_KEY"
    monkeypatch.setenv("TEST_EMBEDDING_KEY", "sk-embed-test")
    yield _EmbeddingServer.behaviour
    server.shutdown()


def test_openai_compatible_endpoint(openai_embedder):
    vectors = embed_texts(["red apple", "green pear"], model="hash-embed")
    assert [len(v) for v in vectors] == [16, 16]
    assert vectors[0] == pytest.approx(embeddings._normalise(_fake_vector("red apple", 16)))
    assert embedding_dimension("hash-embed") == 16
    assert openai_embedder["auth"][-1] == "Bearer sk-embed-test"


def test_openai_compatible_endpoint_down_is_transient(openai_embedder):
    openai_embedder["status"] = 503
    with pytest.raises(EmbeddingUnavailable):
        embed_texts(["x"], model="hash-embed")


def test_openai_compatible_wrong_dimension_is_refused(openai_embedder):
    openai_embedder["dimension"] = 8
    with pytest.raises(ValueError, match="8 dimensions"):
        embed_texts(["x"], model="hash-embed")


def test_a_collection_on_a_remote_embedder_ingests_and_searches(openai_embedder, world, ingest):
    from knowledge import services

    collection = services.collection_create(
        team=world.team_a, name="Remote", embedding_model="hash-embed"
    )
    assert collection.embedding_dimension == 16
    document = ingest(
        collection,
        "fruit.md",
        b"# Apples\n\nred apple orchard harvest\n\n# Pears\n\ngreen pear tree blossom\n",
    )
    assert document.status == DocumentStatus.READY, document.error
    assert set(Chunk.objects.values_list("dimension", flat=True)) == {16}
    hits = search(team_id=world.team_a.pk, query="green pear", mode="vector")
    assert hits[0].heading == "Pears"
