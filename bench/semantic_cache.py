"""Semantic cache quality: how many paraphrases it answers, how many different questions
it wrongly answers, at the default threshold and around it.

The set (bench/semantic_cache_questions.py): for each of N questions, a paraphrase and a
different question on the same topic. The experiment mirrors one team's cache: every
original question is stored; then each paraphrase and each different question looks up
the nearest stored question by cosine similarity (the cache's rule: exact nearest
neighbour within the team and scope, a hit when similarity >= threshold). Vectors come
from ``gateway.semantic_cache``'s own embedding path (the knowledge app's default
model, L2-normalised), questions the cache would refuse as too long are refused here too.

- paraphrase hit rate: the paraphrase's nearest stored question is its own original and
  reaches the threshold (the right answer, served from the cache);
- wrong answers: a paraphrase whose nearest hit is another question's answer;
- false hits: a different question that reaches the threshold with any stored question.

    .venv/bin/python bench/semantic_cache.py            # table on stdout
    .venv/bin/python bench/semantic_cache.py --write    # also update docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.django.base")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402
from semantic_cache_questions import TRIPLES  # noqa: E402

from gateway.semantic_cache import _question_vector  # noqa: E402
from knowledge.embeddings import DEFAULT_EMBEDDING_MODEL, embed_texts  # noqa: E402

THRESHOLDS = [0.85, 0.90, 0.92, 0.95, 0.97, 0.99]
START, END = "<!-- semantic-cache:start -->", "<!-- semantic-cache:end -->"


def _vectors(texts: list[str]) -> np.ndarray:
    rows = [_question_vector(t) for t in texts]
    if any(r is None for r in rows):
        raise SystemExit("a benchmark question is too long for the cache: shorten it")
    return np.array(rows, dtype=np.float64)


def _measure() -> dict[str, object]:
    originals = [t[0] for t in TRIPLES]
    paraphrases = [t[1] for t in TRIPLES]
    different = [t[2] for t in TRIPLES]
    stored = _vectors(originals)
    para = _vectors(paraphrases)
    diff = _vectors(different)
    para_sim = para @ stored.T  # cosine: the vectors are unit length
    diff_sim = diff @ stored.T
    nearest_para, best_para = para_sim.argmax(axis=1), para_sim.max(axis=1)
    best_diff = diff_sim.max(axis=1)
    rows = []
    n = len(TRIPLES)
    for threshold in THRESHOLDS:
        hits = best_para >= threshold
        right = int(np.sum(hits & (nearest_para == np.arange(n))))
        wrong = int(np.sum(hits & (nearest_para != np.arange(n))))
        false_hits = int(np.sum(best_diff >= threshold))
        rows.append((threshold, right, wrong, false_hits))
    # The cost a lookup adds before the database query: embedding one question.
    timings = []
    for question in paraphrases[:30]:
        started = time.perf_counter()
        embed_texts([question], model=DEFAULT_EMBEDDING_MODEL)
        timings.append((time.perf_counter() - started) * 1000)
    worst_false = sorted(
        (
            (float(best_diff[i]), different[i], originals[int(diff_sim[i].argmax())])
            for i in range(n)
        ),
        reverse=True,
    )[:3]
    missed = sorted(
        (float(para_sim[i, i]), paraphrases[i], originals[i])
        for i in range(n)
        if para_sim[i, i] < settings.GATEWAY_SEMANTIC_CACHE_DEFAULT_THRESHOLD
    )[:3]
    return {
        "n": n,
        "rows": rows,
        "embed_p50_ms": statistics.median(timings),
        "embed_min_ms": min(timings),
        "load": os.getloadavg()[0],
        "worst_false": worst_false,
        "missed": missed,
    }


def _table(result: dict[str, object]) -> str:
    n = result["n"]
    default = settings.GATEWAY_SEMANTIC_CACHE_DEFAULT_THRESHOLD
    lines = [
        "| threshold | paraphrases answered (right answer) | paraphrases given another's answer "
        "| different questions answered from the cache (false hits) |",
        "|---|---|---|---|",
    ]
    for threshold, right, wrong, false_hits in result["rows"]:  # type: ignore[attr-defined]
        mark = " (default)" if abs(threshold - default) < 1e-9 else ""
        lines.append(
            f"| {threshold:.2f}{mark} | {right}/{n} ({100 * right / n:.0f}%) | {wrong}/{n} "
            f"| {false_hits}/{n} ({100 * false_hits / n:.0f}%) |"
        )
    return "\n".join(lines)


def _section(result: dict[str, object]) -> str:
    today = datetime.now(UTC).date().isoformat()
    default = settings.GATEWAY_SEMANTIC_CACHE_DEFAULT_THRESHOLD
    _, default_right, _, default_false = next(
        row
        for row in result["rows"]  # type: ignore[attr-defined]
        if abs(row[0] - default) < 1e-9
    )
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    worst = "; ".join(
        f'"{d}" vs "{o}" ({s:.3f})'
        for s, d, o in result["worst_false"]  # type: ignore[attr-defined]
    )
    missed = "; ".join(
        f'"{p}" vs "{o}" ({s:.3f})'
        for s, p, o in result["missed"]  # type: ignore[attr-defined]
    )
    return f"""{START}
### Semantic cache

Measured {today} on {machine} with `bench/semantic_cache.py`: {result["n"]} questions
(bench/semantic_cache_questions.py, written for this benchmark), each with a paraphrase and
a *different* question on the same topic (another number, direction, object or negation:
the false hits that matter). All originals are stored in one team's cache; each paraphrase
and each different question then looks up its nearest neighbour the way the cache does
(embedder `{DEFAULT_EMBEDDING_MODEL}`, cosine, exact).

{_table(result)}

At the default threshold the cache answered {default_right} of {result["n"]} paraphrases and
{default_false} different questions. Lowering the threshold buys paraphrase hits with false
hits (a wrong answer served as if it were right, at no cost, with no warning), which is why
the default stays at 0.95 and the cache is off unless a team turns it on (decision 0016).
Closest different questions: {worst}. Paraphrases the default misses: {missed}.
A lookup embeds the question first (on the CPU, in a worker thread): p50
{result["embed_p50_ms"]:.1f} ms, fastest {result["embed_min_ms"]:.1f} ms, measured while the
machine's load average was {result["load"]:.1f} on 2 cores (shared with other work), then one
indexed query over the team's rows. That cost is paid on every eligible request of a team
that turned the cache on, hit or miss.
{END}"""


def _write(section: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text()
    if START in text and END in text:
        before, rest = text.split(START, 1)
        _, after = rest.split(END, 1)
        text = before + section + after
    else:
        marker = "## Knowledge: retrieval quality, ingestion and search speed, semantic cache"
        if marker not in text:
            raise SystemExit(f"docs/benchmarks.md has no '{marker}' section")
        head, tail = text.split(marker, 1)
        # At the end of the Knowledge section: before the next "## " heading, if any.
        cut = tail.find("\n## ")
        cut = len(tail) if cut == -1 else cut
        text = head + marker + tail[:cut].rstrip("\n") + "\n\n" + section + "\n" + tail[cut:]
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    result = _measure()
    print(_table(result))
    print(
        f"embedding one question: p50 {result['embed_p50_ms']:.1f} ms, "
        f"min {result['embed_min_ms']:.1f} ms (load average {result['load']:.1f})"
    )
    if args.write:
        _write(_section(result))
        print("docs/benchmarks.md updated")


if __name__ == "__main__":
    main()
