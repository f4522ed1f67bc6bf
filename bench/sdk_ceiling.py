"""How fast can one Python process call the peer at all? The ceiling under any gateway.

    .venv/bin/python bench/sdk_ceiling.py [--seconds 5] [--concurrency 32] [--requests 500]

No gateway, no Django, no Redis, no database: one process (uvloop, one core at most, as a
one-worker gateway has) calls the repo's OpenAI-format peer (started here, in its own
process) in a loop, with 32 calls in flight, then sequentially, through
- ``httpx``: a bare ``httpx2.AsyncClient.post`` (httpx2 is the SDK's own HTTP client, a
  fork of httpx) and ``json.loads``: the SDK's transport alone;
- ``sdk``: the official ``openai.AsyncOpenAI().chat.completions.create``, the usual way;
- ``sdk-post``: the same client's documented generic ``client.post("/chat/completions",
  body=..., cast_to=object)``, which skips the typed-dict transform of the arguments and
  the pydantic models of the answer: what our provider does (gateway/providers/openai.py).

A gateway that calls the provider through the SDK cannot serve more requests per second
than the ``sdk`` rows, whatever else it does or skips; `docs/benchmarks.md` uses these
numbers to say which targets are reachable. The peer shares the machine, as in the main
benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx2
import openai
import uvloop

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from procs import Proc  # noqa: E402

PROJECT_ROOT = BENCH_DIR.parent

Call = Callable[[int], Awaitable[str]]


def _body(i: int) -> dict[str, object]:
    return {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": f"ceiling {i}"}],
        "max_tokens": 64,
    }


def make_calls(base_url: str) -> dict[str, tuple[Call, Callable[[], Awaitable[None]]]]:
    raw = httpx2.AsyncClient(base_url=base_url, timeout=30)
    sdk = openai.AsyncOpenAI(base_url=base_url, api_key="dummy", max_retries=0, timeout=30)
    sdk_post = openai.AsyncOpenAI(base_url=base_url, api_key="dummy", max_retries=0, timeout=30)

    async def via_httpx(i: int) -> str:
        response = await raw.post(
            "/chat/completions", json=_body(i), headers={"Authorization": "Bearer dummy"}
        )
        response.raise_for_status()
        return str(json.loads(response.content)["choices"][0]["message"]["content"])

    async def via_sdk(i: int) -> str:
        completion = await sdk.chat.completions.create(**_body(i))  # type: ignore[call-overload]
        return str(completion.choices[0].message.content)

    async def via_sdk_post(i: int) -> str:
        data: Any = await sdk_post.post("/chat/completions", body=_body(i), cast_to=object)
        return str(data["choices"][0]["message"]["content"])

    return {
        "httpx": (via_httpx, raw.aclose),
        "sdk": (via_sdk, sdk.close),
        "sdk-post": (via_sdk_post, sdk_post.close),
    }


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def throughput(call: Call, *, seconds: float, concurrency: int) -> tuple[float, float]:
    """(requests per second, CPU ms per request of this process)."""
    done = 0
    stop_at = 0.0

    async def worker(w: int) -> None:
        nonlocal done
        i = w
        while time.perf_counter() < stop_at:
            text = await call(i)
            if not text.startswith("Echo:"):
                raise RuntimeError(f"unexpected answer {text!r}")
            done += 1
            i += concurrency

    stop_at = time.perf_counter() + 1.0  # warm-up
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    done = 0
    started, cpu0 = time.perf_counter(), _cpu()
    stop_at = started + seconds
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    elapsed, cpu = time.perf_counter() - started, _cpu() - cpu0
    return done / elapsed, cpu * 1000 / max(done, 1)


async def sequential(call: Call, *, count: int) -> tuple[float, float]:
    """(p50 ms, p99 ms) of one call at a time."""
    for i in range(50):
        await call(i)
    samples = []
    for i in range(count):
        began = time.perf_counter()
        await call(i)
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


async def measure(base_url: str, args: argparse.Namespace) -> list[str]:
    rows = []
    for name, (call, close) in make_calls(base_url).items():
        if args.only and name not in args.only.split(","):
            continue
        rps, cpu_ms = await throughput(call, seconds=args.seconds, concurrency=args.concurrency)
        p50, p99 = await sequential(call, count=args.requests)
        rows.append(f"| {name} | {rps:.0f} | {cpu_ms:.2f} | {p50:.2f} / {p99:.2f} |")
        print(rows[-1], flush=True)
        await close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--only", default="", help="comma-separated subset of the rows")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "HTTP"))}
    env["NO_PROXY"] = "127.0.0.1"
    peer = Proc(
        "peer",
        [sys.executable, "-m", "gateway.testing.peers", "--port", "0"],
        log_path=BENCH_DIR / "results" / "logs" / "ceiling-peer.log",
        env=env,
        cwd=PROJECT_ROOT,
    )
    (BENCH_DIR / "results" / "logs").mkdir(parents=True, exist_ok=True)
    try:
        line = peer.wait_for_log("peer listening on", timeout=30)
        match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert match is not None
        base_url = f"http://127.0.0.1:{match.group(1)}/v1"
        print(f"load average {os.getloadavg()[0]:.2f}; one process, uvloop")
        print(
            f"| client | req/s ({args.concurrency} in flight) | client CPU ms/req | "
            "sequential p50 / p99 ms |"
        )
        print("|---|---:|---:|---:|")
        uvloop.run(measure(base_url, args))
    finally:
        peer.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
