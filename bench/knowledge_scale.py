"""Search latency at 10k and 100k chunks, and the recall of HNSW against exact search.

    .venv/bin/python bench/knowledge_scale.py            # table on stdout
    .venv/bin/python bench/knowledge_scale.py --write    # also docs/benchmarks.md

Embedding 100k real passages would take most of an hour on 2 shared cores, so the big index
is **synthetic, built from real vectors**: the Python reference topics are chunked and
embedded for real (about 1.5k chunks), and each synthetic chunk is one of them plus
Gaussian noise (renormalised; cosine to its source about 0.8), carrying its source's text
so full-text search has real words to rank. Query vectors are other noisy copies; the
hybrid rows search the real labelled questions of bench/knowledge_questions.py through
``knowledge.search.search`` (question embedding included). Rows go in with COPY and the
HNSW index is built afterwards, as a bulk load would; its build time is reported.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from accounts.models import Team
    from knowledge.models import Collection, Document
    from knowledge.search import SearchMode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from knowledge_common import (
    bench_team,
    corpus,
    machine,
    percentile,
    setup_django,
    write_block,
)
from knowledge_questions import QUESTIONS

NOISE = 0.038  # per-dimension sigma; with 384 dimensions, cosine to the source ~0.8
QUERIES = 200
TOP_K = 10


def base_chunks() -> tuple[list[str], list[list[float]]]:
    from django.conf import settings

    from knowledge.chunking import chunk_sections
    from knowledge.embeddings import embed_texts
    from knowledge.parsing import parse

    texts: list[str] = []
    for text in corpus().values():
        parsed = parse(data=text.encode(), file_type="text", max_pages=1)
        drafts = chunk_sections(
            parsed.sections,
            max_tokens=settings.KNOWLEDGE_CHUNK_TOKENS,
            overlap_tokens=settings.KNOWLEDGE_CHUNK_OVERLAP_TOKENS,
        )
        texts.extend(d.text for d in drafts)
    return texts, embed_texts(texts)


def noisy(vector: list[float], rng: random.Random) -> list[float]:
    out = [x + rng.gauss(0.0, NOISE) for x in vector]
    norm = sum(x * x for x in out) ** 0.5
    return [x / norm for x in out]


def literal(vector: list[float]) -> str:
    return "[" + ",".join(f"{x:.6f}" for x in vector) + "]"


def fill(
    team: Team,
    collection: Collection,
    document: Document,
    start: int,
    stop: int,
    texts: list[str],
    vectors: list[list[float]],
    rng: random.Random,
) -> None:
    from django.db import connection

    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(
            "COPY knowledge_chunk (team_id, collection_id, document_id, chunk_index, heading, "
            "text, token_count, embedding, dimension, metadata) FROM STDIN"
        ) as copy,
    ):
        for i in range(start, stop):
            source = i % len(texts)
            copy.write_row(
                (team.pk, collection.pk, document.pk, i, "", texts[source], 0,
                 literal(noisy(vectors[source], rng)), 384, "{}")
            )  # fmt: skip
    document.chunks_total = document.chunks_done = stop
    document.save(update_fields=["chunks_total", "chunks_done"])


def build_index() -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS chunk_embedding_384_hnsw")
        cursor.execute("SET maintenance_work_mem = '1GB'")
        started = time.perf_counter()
        cursor.execute(
            "CREATE INDEX chunk_embedding_384_hnsw ON knowledge_chunk "
            "USING hnsw ((embedding::vector(384)) vector_cosine_ops) "
            "WITH (m = 16, ef_construction = 64) WHERE dimension = 384"
        )
        cursor.execute("ANALYZE knowledge_chunk")
        return time.perf_counter() - started


def measure(
    team: Team, collection: Collection, queries: list[list[float]], ef_values: list[int]
) -> dict[str, dict[str, float]]:
    from django.conf import settings

    from knowledge import search as search_module

    ids = [collection.pk]
    results: dict[str, dict[str, float]] = {}
    exact_lists, exact_ms = [], []
    for query in queries:
        started = time.perf_counter()
        rows = search_module._vector_query(team.pk, ids, literal(query), 384, TOP_K, hnsw=False)
        exact_ms.append((time.perf_counter() - started) * 1000)
        exact_lists.append([row[0] for row in rows])
    results["exact"] = {"p50": percentile(exact_ms, 50), "p95": percentile(exact_ms, 95)}
    for ef in ef_values:
        settings.KNOWLEDGE_HNSW_EF_SEARCH = ef
        latencies, overlap = [], 0
        for query, exact in zip(queries, exact_lists, strict=True):
            started = time.perf_counter()
            rows = search_module._vector_query(team.pk, ids, literal(query), 384, TOP_K, hnsw=True)
            latencies.append((time.perf_counter() - started) * 1000)
            overlap += len({row[0] for row in rows} & set(exact))
        results[f"hnsw-{ef}"] = {
            "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
            "recall": overlap / (TOP_K * len(queries)),
        }
    settings.KNOWLEDGE_HNSW_EF_SEARCH = 100
    modes: tuple[SearchMode, ...] = ("hybrid", "words")
    for mode in modes:
        latencies = []
        for question, _labels in QUESTIONS * 2:
            started = time.perf_counter()
            search_module.search(team_id=team.pk, query=question, top_k=5, mode=mode)
            latencies.append((time.perf_counter() - started) * 1000)
        results[f"search-{mode}"] = {
            "p50": percentile(latencies[len(QUESTIONS) // 2 :], 50),
            "p95": percentile(latencies[len(QUESTIONS) // 2 :], 95),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--fresh-db", action="store_true")
    parser.add_argument("--sizes", default="10000,100000")
    args = parser.parse_args()
    setup_django("bench_knowledge_scale", fresh=args.fresh_db)
    facts = machine()

    from knowledge import services
    from knowledge.models import Collection, Document, DocumentStatus

    rng = random.Random(20261122)  # noqa: S311 - synthetic data, not secrets
    print("embedding the base corpus ...", file=sys.stderr)
    texts, vectors = base_chunks()
    team = bench_team("scale")
    Collection.objects.filter(team=team).delete()
    collection = services.collection_create(team=team, name="synthetic")
    document = Document.objects.create(
        team=team, collection=collection, name="synthetic", content_hash="-",
        status=DocumentStatus.READY,
    )  # fmt: skip
    queries = [noisy(vectors[rng.randrange(len(vectors))], rng) for _ in range(QUERIES)]
    rows: list[tuple[int, float, dict[str, dict[str, float]]]] = []
    filled = 0
    for size in (int(s) for s in args.sizes.split(",")):
        print(f"filling to {size} chunks ...", file=sys.stderr)
        fill(team, collection, document, filled, size, texts, vectors, rng)
        filled = size
        build_seconds = build_index()
        print(f"index built in {build_seconds:.1f}s; measuring ...", file=sys.stderr)
        rows.append((size, build_seconds, measure(team, collection, queries, [40, 100, 200])))

    lines = [
        "### Search latency and HNSW recall at scale",
        "",
        "Produced by `.venv/bin/python bench/knowledge_scale.py --write` (see `bench/README.md`).",
        "",
        f"Date: {facts['date']}  ",
        f"Machine: {facts['cores']} cores, {facts['cpu']}; PostgreSQL 16 with pgvector "
        f"(embedded); commit {facts['commit']}  ",
        f"Load average before the run: {facts['load']} (other agents share these cores)",
        "",
        f"**Synthetic index**: {len(texts):,} real chunks of the Python reference embedded with "
        "all-MiniLM-L6-v2, each copied with Gaussian noise (cosine ~0.8 to its source) up to "
        f"the size shown, one team. Vector rows: {QUERIES} noisy query vectors, top {TOP_K}, "
        "database time only. Search rows: the labelled questions through "
        "`knowledge.search.search` (embedding the question, both retrievers, fusion, "
        "fetching the hits), top 5. HNSW m=16, ef_construction=64.",
        "",
        "| chunks | index build s | exact p50 / p95 ms | HNSW ef=40 p50 / p95 ms, recall@10 "
        "| **HNSW ef=100 (default)** p50 / p95 ms, recall@10 | HNSW ef=200 p50 / p95 ms, "
        "recall@10 | words search p50 / p95 ms | **hybrid search** p50 / p95 ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, build, r in rows:
        cells = [f"{size:,}", f"{build:.1f}", f"{r['exact']['p50']:.1f} / {r['exact']['p95']:.1f}"]
        for ef in (40, 100, 200):
            h = r[f"hnsw-{ef}"]
            cells.append(f"{h['p50']:.1f} / {h['p95']:.1f}, {h['recall']:.3f}")
        for mode in ("words", "hybrid"):
            s = r[f"search-{mode}"]
            cells.append(f"{s['p50']:.1f} / {s['p95']:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Hybrid search uses exact vector search below `KNOWLEDGE_EXACT_SEARCH_MAX_CHUNKS` "
        "chunks and HNSW above it. Words search ranks every chunk that holds any of the "
        "question's words, so its cost grows with the index; it is most of hybrid's time "
        "at 100k.",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_block("knowledge-scale", text)
        print("wrote docs/benchmarks.md", file=sys.stderr)


if __name__ == "__main__":
    main()
