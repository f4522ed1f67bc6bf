"""Gateway overhead benchmark: direct to a peer vs our gateway vs the LiteLLM proxy.

    .venv/bin/python bench/gateway_vs_litellm.py [--duration 10] [--write] [--profile]

In one run, on 127.0.0.1 only, it starts
- the repo's OpenAI-format peer (`python -m gateway.testing.peers`), which answers at once;
- our gateway: one uvicorn worker, DEBUG off, LOG_LEVEL=WARNING, its own embedded
  PostgreSQL and Redis under bench/.var (VAR_DIR), a GATEWAY_CONFIG that points an
  `openai` provider at the peer, migrations, config applied, a key from `bootstrap`;
- LiteLLM proxy 1.109.1 (one worker, master key, no database) from bench/.venv-litellm,
  built on first use by bench/litellm_env.py;
then measures for each target: throughput with 32 connections (wrk), sequential latency
(non-streaming) and sequential time to first token (streaming), and the overhead of each
gateway over direct. Every process it started is stopped at the end, whatever happens.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import json
import math
import os
import platform
import re
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import litellm_env  # noqa: E402
import loadgen  # noqa: E402
import procs  # noqa: E402
import profiling  # noqa: E402
from loadgen import Sequential, Target, Throughput, percentile  # noqa: E402
from procs import Proc, StartupError  # noqa: E402

PROJECT_ROOT = BENCH_DIR.parent
PYTHON = sys.executable
MODEL = "bench-model"
UPSTREAM_MODEL = "gpt-4o"
CONNECTIONS = 32
BENCH_EMAIL = "bench@example.test"
DOC_HEADING = "## Gateway overhead vs LiteLLM"
ANALYSIS_HEADING = "### Where our time goes"  # kept when --write refreshes the table
# Environment that must not leak into the servers under test (they would use other
# databases, keys or settings than the benchmark intends).
_SCRUB = (
    "DATABASE_URL",
    "REDIS_URL",
    "GATEWAY_CONFIG",
    "DJANGO_SETTINGS_MODULE",
    "VAR_DIR",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "LITELLM_MASTER_KEY",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
)


class BenchTimeout(Exception):
    pass


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["PYTHONUNBUFFERED"] = "1"
    return env


# ---------------------------------------------------------------------- components


@dataclass
class Run:
    args: argparse.Namespace
    work: Path  # temp dir for configs and scripts
    logs: Path
    started: list[Proc] = field(default_factory=list)
    stop_embedded: bool = False
    ours_env: dict[str, str] = field(default_factory=dict)
    features: str = ""

    def start(
        self, name: str, argv: list[str], *, log_path: Path, env: dict[str, str], cwd: Path
    ) -> Proc:
        proc = Proc(name, argv, log_path=log_path, env=env, cwd=cwd)
        self.started.append(proc)
        return proc


def start_peer(run: Run) -> tuple[Proc, int]:
    peer = run.start(
        "peer",
        [PYTHON, "-m", "gateway.testing.peers", "--port", "0"],
        log_path=run.logs / "peer.log",
        env=base_env(),
        cwd=PROJECT_ROOT,
    )
    line = peer.wait_for_log("peer listening on", timeout=30)
    match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
    if match is None:
        raise peer.fail(f"printed an unexpected ready line: {line!r}")
    return peer, int(match.group(1))


def start_litellm(run: Run, litellm_bin: Path, peer_port: int) -> tuple[Proc, int, str]:
    port = procs.free_port()
    master_key = f"sk-bench-{secrets.token_hex(12)}"
    config = run.work / "litellm-config.yaml"
    config.write_text(
        "model_list:\n"
        f"  - model_name: {MODEL}\n"
        "    litellm_params:\n"
        f"      model: openai/{UPSTREAM_MODEL}\n"
        f"      api_base: http://127.0.0.1:{peer_port}/v1\n"
        "      api_key: dummy\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
        "  set_verbose: false\n"
        "general_settings:\n"
        f"  master_key: {master_key}\n"
    )
    # uvicorn's per-request access log off, as for our gateway (--no-access-log).
    log_config = run.work / "litellm-logging.json"
    log_config.write_text(
        json.dumps(
            {
                "version": 1,
                "disable_existing_loggers": False,
                "formatters": {
                    "plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}
                },
                "handlers": {"err": {"class": "logging.StreamHandler", "formatter": "plain"}},
                "root": {"handlers": ["err"], "level": "ERROR"},
                "loggers": {
                    "uvicorn": {"level": "WARNING"},
                    "uvicorn.error": {"level": "WARNING"},
                    "uvicorn.access": {"level": "WARNING", "propagate": False},
                },
            }
        )
    )
    env = base_env()
    env.update(
        {
            "LITELLM_LOG": "ERROR",
            "LITELLM_MODE": "PRODUCTION",
            "LITELLM_OFFLINE_MODE": "true",  # no catalog/tokenizer fetches of its own
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_LOCAL_BLOG_POSTS": "true",
            "LITELLM_LOCAL_POLICY_TEMPLATES": "true",
            "LITELLM_DONT_SHOW_FEEDBACK_BOX": "true",
            "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "DISABLE_ADMIN_UI": "true",
        }
    )
    proc = run.start(
        "litellm",
        [
            str(litellm_bin),
            "--config",
            str(config),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--num_workers",
            "1",
            "--log_config",
            str(log_config),
        ],
        log_path=run.logs / "litellm.log",
        env=env,
        cwd=run.work,
    )
    return proc, port, master_key


def ours_environment(run: Run, peer_port: int) -> dict[str, str]:
    var_dir = run.args.var_dir
    gateway_config = run.work / "gateway.yaml"
    gateway_config.write_text(
        "providers:\n"
        "  - name: openai\n"
        "    kind: openai\n"
        f"    base_url: http://127.0.0.1:{peer_port}/v1\n"
        "    timeout_seconds: 30\n"
        "models:\n"
        f"  - name: {MODEL}\n"
        "    provider: openai\n"
        f"    upstream_name: {UPSTREAM_MODEL}\n"
        "    input_price_per_mtok: 2.5\n"
        "    output_price_per_mtok: 10\n"
        "    context_window: 128000\n"
        "    max_output_tokens: 16384\n"
    )
    env = base_env()
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.django.base",
            "DJANGO_DEBUG": "false",
            "LOG_LEVEL": "WARNING",
            "VAR_DIR": str(var_dir),
            "GATEWAY_CONFIG": str(gateway_config),
        }
    )
    # Every feature on, none in the way: limits far above what the machine can do (but not
    # 0, which would mean "unlimited" and skip the Redis step), and the response cache on
    # (unique prompts make every lookup a miss, then a store). The budget is a team row,
    # set after bootstrap (configure_ours_team).
    env.update(
        {
            "GATEWAY_DEFAULT_TEAM_RPM": "100000000",
            "GATEWAY_DEFAULT_TEAM_TPM": "1000000000000",
            "GATEWAY_DEFAULT_CACHE_TTL_SECONDS": "300",
            # An organization on no plan (an enterprise tenant invoiced by contract): no
            # plan rate limit and no credit metering to run out of; the budget
            # reservation script still runs, credits branch included.
            "BILLING_DEFAULT_PLAN": "",
        }
    )
    for item in run.args.gateway_env:
        name, _, value = item.partition("=")
        env[name] = value
    return env


def manage(run: Run, *argv: str, timeout: float = 300) -> str:
    return procs.run_checked(
        f"manage.py {argv[0]}",
        [PYTHON, "manage.py", *argv],
        log_path=run.logs / "ours-setup.log",
        env=run.ours_env,
        cwd=PROJECT_ROOT,
        timeout=timeout,
    )


def prepare_ours(run: Run, peer_port: int) -> str:
    """Embedded servers, migrations, config, an API key. Returns the key."""
    run.ours_env = ours_environment(run, peer_port)
    status = manage(run, "embedded", "status", timeout=60)
    already = "PostgreSQL running: True" in status and "Redis running: True" in status
    # Stop at the end what this run starts (migrate starts them), unless asked to keep them.
    run.stop_embedded = not already and not run.args.keep_servers
    if run.args.fresh_db:
        wipe_bench_database(run)
    log(f"our gateway: VAR_DIR={run.args.var_dir}; migrating (first run builds the database)")
    try:
        manage(run, "migrate", "--noinput", timeout=420)
    except StartupError as exc:
        if run.args.fresh_db or not _is_bench_owned(run.args.var_dir):
            raise
        # Migrations are rewritten while features are being built; the benchmark's own
        # throwaway database then no longer matches them. Start it afresh, once.
        log(f"migrate failed on the existing bench database; rebuilding it ({exc})"[:400])
        wipe_bench_database(run)
        manage(run, "migrate", "--noinput", timeout=420)
    manage(run, "gateway_apply_config", timeout=120)
    out = manage(
        run,
        "bootstrap",
        "--email",
        BENCH_EMAIL,
        "--password",
        "bench-password-not-secret-1",
        "--org",
        "Bench",
        "--team",
        "Bench",
        "--key-name",
        f"bench-{dt.datetime.now():%Y%m%d-%H%M%S}",
        timeout=120,
    )
    try:
        return str(json.loads(out.strip().splitlines()[-1])["api_key"])
    except (ValueError, KeyError, IndexError) as exc:
        raise StartupError(f"bootstrap printed no api_key JSON: {out!r}") from exc


# Run by `manage.py shell -c`: gives the bench team a budget so every request takes the
# budget reservation path (a team without a budget row skips it).
_TEAM_SETUP = """
import json
from decimal import Decimal
from accounts.models import Team
out = {}
team = Team.objects.get(
    name="Bench", organization__name="Bench", organization__memberships__user__email="%s"
)
try:
    from billing.models import TeamBudget
    TeamBudget.objects.update_or_create(
        team=team, defaults={"monthly_limit_usd": Decimal("%s")}
    )
    out["budget_usd"] = "%s"
except Exception as exc:
    out["budget_error"] = repr(exc)
try:
    # No billing plan (see BILLING_DEFAULT_PLAN in ours_environment): drop an account an
    # earlier run may have created, and the Redis mirror of its credits.
    from billing.models import BillingAccount
    from billing.credits import credit_key
    from core.redis import get_redis
    BillingAccount.objects.filter(organization=team.organization).delete()
    get_redis().delete(credit_key(team.organization_id))
except Exception as exc:
    out["budget_error"] = "billing account: " + repr(exc)
print("BENCH_JSON " + json.dumps(out))
"""
TEAM_BUDGET_USD = "100000000"


def configure_ours_team(run: Run) -> str:
    """Returns a note on what was configured, for the report."""
    out = manage(
        run,
        "shell",
        "-c",
        _TEAM_SETUP % (BENCH_EMAIL, TEAM_BUDGET_USD, TEAM_BUDGET_USD),
        timeout=120,
    )
    match = re.search(r"^BENCH_JSON (.*)$", out, re.MULTILINE)
    data = json.loads(match.group(1)) if match else {"budget_error": out[-300:]}
    if "budget_error" in data:
        log(f"WARNING: could not give the bench team a budget: {data['budget_error']}")
        return f"team budget NOT set ({data['budget_error']})"
    return f"team budget ${int(TEAM_BUDGET_USD):,}/month"


def _is_bench_owned(var_dir: Path) -> bool:
    """Only a VAR_DIR inside bench/ is the benchmark's to delete (never the project's var/)."""
    return var_dir.resolve().is_relative_to(BENCH_DIR) and var_dir.resolve() != BENCH_DIR


def wipe_bench_database(run: Run) -> None:
    var_dir = run.args.var_dir
    if not _is_bench_owned(var_dir):
        raise StartupError(f"refusing to delete the database under {var_dir}: not inside bench/")
    manage(run, "embedded", "stop", timeout=60)
    pgdata = var_dir / "pgdata"
    log(f"deleting the benchmark's database {pgdata}")
    shutil.rmtree(pgdata, ignore_errors=True)


def start_ours(run: Run) -> tuple[Proc, int]:
    port = procs.free_port()
    argv = [
        PYTHON,
        "-m",
        "uvicorn",
        "config.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--lifespan",
        "off",
        "--log-level",
        "warning",
        "--no-access-log",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
    ]
    proc = run.start(
        "our gateway", argv, log_path=run.logs / "ours.log", env=run.ours_env, cwd=PROJECT_ROOT
    )
    return proc, port


def stop_embedded(run: Run) -> None:
    if not run.stop_embedded or not run.ours_env:
        return
    try:
        manage(run, "embedded", "stop", timeout=60)
    except StartupError as exc:
        log(f"could not stop the embedded servers under {run.args.var_dir}: {exc}")


def smoke(target: Target) -> None:
    """One request of each kind, so a misconfigured target fails before any measuring."""
    for probe in (loadgen.sequential_latency, loadgen.sequential_ttft):
        result = probe(target, count=1, warmup=0, nonce=f"smoke{secrets.token_hex(3)}")
        if result.error_count:
            raise StartupError(f"{target.label} does not answer correctly: {result.first_error}")


# ----------------------------------------------------------------------- measuring


@dataclass
class TargetResult:
    target: Target
    throughput: Throughput | None = None
    server_cpu_ms_per_req: float = math.nan
    server_sys_share: float = math.nan  # of that CPU time, the kernel's share
    peer_cpu_ms_per_req: float = math.nan
    latency: Sequential | None = None
    ttft: Sequential | None = None

    def errors(self) -> int:
        total = 0
        if self.throughput:
            total += self.throughput.errors
        for seq in (self.latency, self.ttft):
            if seq:
                total += seq.error_count
        return total

    def error_notes(self) -> list[str]:
        notes = []
        if self.throughput and self.throughput.errors:
            notes.append(
                f"throughput: {self.throughput.non200} non-200, "
                f"{self.throughput.socket_errors} socket errors; first: "
                f"{self.throughput.first_error}"
            )
        for name, seq in (("latency", self.latency), ("streaming", self.ttft)):
            if seq and seq.error_count:
                notes.append(f"{name}: {dict(seq.errors)}; first: {seq.first_error}")
        return notes


def measure_throughput(
    run: Run, target: Target, peer_pid: int, *, seconds: float, warmup: float
) -> tuple[Throughput, float, float, float]:
    args = run.args
    script = loadgen.write_wrk_script(target, run.work) if args.loadgen == "wrk" else None

    def go(duration: float, nonce: str) -> Throughput:
        if script is not None:
            return loadgen.wrk_throughput(
                target,
                script=script,
                seconds=duration,
                connections=CONNECTIONS,
                threads=args.wrk_threads,
                nonce=nonce,
            )
        return loadgen.python_throughput(
            target, seconds=duration, connections=CONNECTIONS, processes=2, nonce=nonce
        )

    run_nonce = args.nonce
    go(warmup, f"{run_nonce}-{target.name}-warm")
    user0, sys0 = procs.cpu_times(target.server_pid)
    peer_before = procs.cpu_seconds(peer_pid)
    result = go(seconds, f"{run_nonce}-{target.name}-tp")
    user1, sys1 = procs.cpu_times(target.server_pid)
    peer_ms = (procs.cpu_seconds(peer_pid) - peer_before) * 1000
    n = max(result.requests, 1)
    server_s = (user1 - user0) + (sys1 - sys0)
    sys_share = (sys1 - sys0) / server_s if server_s else math.nan
    return result, server_s * 1000 / n, sys_share, peer_ms / n


def profile_target(run: Run, target: Target, *, seconds: float) -> Throughput | None:
    """One more throughput run of `target` under py-spy; files bench/results/NAME-profile.*"""
    args = run.args
    binary = profiling.py_spy_binary(install=True)
    out_dir = args.results_dir
    stem = f"{target.name}-profile"
    speedscope = out_dir / f"{stem}.speedscope.json"
    log(f"profiling {target.label} (pid {target.server_pid}) with py-spy for {seconds:.0f}s")
    recorder = profiling.start_recording(
        binary,
        target.server_pid,
        seconds=seconds + 1,
        output=speedscope,
        rate=args.profile_rate,
        mode=args.profile_mode,
    )
    try:
        time.sleep(0.5)
        nonce = f"{args.nonce}-profile"
        if args.loadgen == "wrk":
            tp = loadgen.wrk_throughput(
                target,
                script=loadgen.write_wrk_script(target, run.work),
                seconds=seconds,
                connections=CONNECTIONS,
                threads=args.wrk_threads,
                nonce=nonce,
            )
        else:
            tp = loadgen.python_throughput(
                target, seconds=seconds, connections=CONNECTIONS, processes=2, nonce=nonce
            )
        output, _ = recorder.communicate(timeout=seconds + 60)
    finally:
        if recorder.poll() is None:
            recorder.terminate()
            recorder.wait(timeout=10)
    said = output.decode(errors="replace")
    if recorder.returncode != 0 or not speedscope.exists():
        log(f"py-spy failed ({recorder.returncode}): {said[-2000:]}")
        return None
    # py-spy's own account, e.g. "Samples: 1000 Errors: 3"; many errors = a torn profile.
    for line in said.splitlines():
        if "Samples" in line or "behind" in line:
            log(f"py-spy: {line.strip().removeprefix('py-spy> ')}")
    summary = profiling.summarise(speedscope, top=args.profile_top)
    profiling.write_folded(summary, out_dir / f"{stem}.folded")
    profiling.write_flamegraph_svg(
        summary,
        out_dir / f"{stem}.svg",
        title=f"{target.label} under {CONNECTIONS}-connection load (py-spy, {args.profile_mode})",
    )
    header = (
        f"{target.label}: {tp.rps:.0f} req/s under py-spy --rate {args.profile_rate} "
        f"({args.profile_mode} mode); {summary.samples} samples = "
        f"{100 * summary.samples / (args.profile_rate * seconds):.0f}% of wall time"
        + (" with the GIL held" if args.profile_mode == "gil" else "")
    )
    text = header + "\n" + profiling.format_summary(summary)
    (out_dir / f"{stem}-top.txt").write_text(text + "\n")
    print("\n" + text + "\n")
    log(f"profile files: {out_dir}/{stem}.{{speedscope.json,svg,folded}}, {stem}-top.txt")
    return tp


# ------------------------------------------------------------------------ report


def fmt(value: float, digits: int = 2) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def machine_description() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    return f"{os.cpu_count()} cores, {model}{mem}, {platform.system()} {platform.release()}"


def git_commit() -> str:
    """HEAD's short hash, read from .git without running git (others may be using it)."""
    git = PROJECT_ROOT / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head[:7]
        ref = head.removeprefix("ref: ")
        loose = git / ref
        if loose.exists():
            return loose.read_text().strip()[:7]
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0][:7]
    except OSError:
        pass
    return "unknown"


def build_report(
    run: Run,
    results: list[TargetResult],
    *,
    meta: dict[str, str],
    profiled: dict[str, Throughput | None],
) -> tuple[str, bool]:
    by_name = {r.target.name: r for r in results}
    direct = by_name.get("direct")
    args = run.args

    def added(result: TargetResult, attr: str, pct: float) -> float:
        mine = getattr(result, attr)
        base = getattr(direct, attr) if direct else None
        if mine is None or base is None or result is direct:
            return math.nan
        return percentile(mine.samples_ms, pct) - percentile(base.samples_ms, pct)

    lines = [
        f"Date: {meta['date']}  ",
        f"Machine: {meta['machine']}  ",
        f"Versions: our commit {meta['commit']}, LiteLLM {meta['litellm']}, "
        f"Python {platform.python_version()}, load generator {meta['loadgen']}  ",
        f"Load average before the run: {meta['loadavg']}",
        "",
        "| target | req/s (32 conns) | server CPU ms/req (kernel share) | latency p50 / p99 ms "
        "| added p50 / p99 ms | TTFT p50 / p99 ms | added TTFT p50 / p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        tp = r.throughput
        lat, ttft = r.latency, r.ttft
        row = [
            r.target.label,
            fmt(tp.rps, 0) if tp else "n/a",
            f"{fmt(r.server_cpu_ms_per_req)} ({fmt(100 * r.server_sys_share, 0)}%)",
            (
                f"{fmt(percentile(lat.samples_ms, 50))} / {fmt(percentile(lat.samples_ms, 99))}"
                if lat
                else "n/a"
            ),
            (
                "—"
                if r is direct
                else f"{fmt(added(r, 'latency', 50))} / {fmt(added(r, 'latency', 99))}"
            ),
            (
                f"{fmt(percentile(ttft.samples_ms, 50))} / {fmt(percentile(ttft.samples_ms, 99))}"
                if ttft
                else "n/a"
            ),
            "—" if r is direct else f"{fmt(added(r, 'ttft', 50))} / {fmt(added(r, 'ttft', 99))}",
            str(r.errors()),
        ]
        lines.append("| " + " | ".join(row) + " |")

    ours, lite = by_name.get("ours"), by_name.get("litellm")
    checks: list[str] = []
    valid = all(r.errors() == 0 for r in results)
    if ours and ours.throughput:
        if lite and lite.throughput and lite.throughput.rps:
            ratio = ours.throughput.rps / lite.throughput.rps
            checks.append(
                f"- Throughput ours / LiteLLM: **{ratio:.1f}x** (target ≥ 10x): "
                f"{'met' if ratio >= 10 else 'NOT met'}"
            )
        added_p50 = added(ours, "latency", 50)
        checks.append(
            f"- Our added latency p50: **{fmt(added_p50)} ms** (target ≤ 3 ms): "
            f"{'met' if added_p50 <= 3 else 'NOT met'}"
        )
        if direct and direct.throughput and ours.throughput.rps:
            headroom = direct.throughput.rps / ours.throughput.rps
            checks.append(
                f"- Direct / ours throughput: {headroom:.1f}x "
                + (
                    "(the load generator and peer are far from being the bottleneck)"
                    if headroom >= 3
                    else "(WARNING: direct is not much faster; the load generator or the peer "
                    "may be limiting the gateway numbers)"
                )
            )
    if ours and not math.isnan(ours.peer_cpu_ms_per_req):
        checks.append(
            f"- CPU per request during our throughput run: gateway worker "
            f"{fmt(ours.server_cpu_ms_per_req)} ms, peer {fmt(ours.peer_cpu_ms_per_req)} ms"
            + (
                f"; LiteLLM worker {fmt(lite.server_cpu_ms_per_req)} ms"
                if lite and not math.isnan(lite.server_cpu_ms_per_req)
                else ""
            )
        )
    for label, tp in profiled.items():
        if tp is not None:
            checks.append(
                f"- {label} under py-spy (separate run, not in the table): {tp.rps:.0f} req/s, "
                f"{tp.errors} errors"
            )
    for r in results:
        for note in r.error_notes():
            checks.append(f"- ERRORS {r.target.label}: {note}")
    for name, label in (("ours", "our gateway"), ("litellm", "LiteLLM")):
        count, first = procs.count_error_lines(run.logs / f"{name}.log")
        if count:
            checks.append(
                f"- {label}'s log has {count} error/traceback line(s) (answers were all 200; "
                f"see bench/results/logs/{name}.log), first: `{first.strip()[:200]}`"
            )
    if not valid:
        checks.append("- **This run had errors: it is not a valid result.**")
    lines += ["", *checks, "", "Method:", ""]
    lines += [
        f"- Peer: `python -m gateway.testing.peers` (this repo), answers at once (no latency "
        f"injected), `Echo: <prompt>`; every target calls upstream model `{UPSTREAM_MODEL}` on it.",
        "- Our gateway: one uvicorn worker (uvloop, httptools, `--no-access-log`, "
        "`--lifespan off`), `config.django.base` with `DJANGO_DEBUG=false`, `LOG_LEVEL=WARNING`, "
        f"own embedded PostgreSQL + Redis under `{_rel(args.var_dir)}`, `GATEWAY_CONFIG` with an "
        "`openai` provider pointing at the peer, team API key from `manage.py bootstrap`"
        + (f", extra env {', '.join(args.gateway_env)}" if args.gateway_env else "")
        + ". Every feature of the hot path at this commit is on: key auth, rate limits "
        "(`GATEWAY_DEFAULT_TEAM_RPM/TPM` far above reach), response cache "
        "(`GATEWAY_DEFAULT_CACHE_TTL_SECONDS=300`; prompts are unique, so every lookup "
        f"misses and every answer is stored), {run.features or 'team budget not set'} "
        "(budget reservation; the organization is on no billing plan, `BILLING_DEFAULT_PLAN=`, "
        "so no plan rate limit or credits can run out), ledger (settled after the answer "
        "through the ledger stream, decision 0023).",
        f"- LiteLLM {meta['litellm']} proxy: one uvicorn worker (`--num_workers 1`), master "
        "key, no database, `openai/` model on the peer, `LITELLM_LOG=ERROR`, telemetry off, "
        "access log off; installed by `bench/litellm_env.py` (see bench/README.md).",
        f"- Throughput: {meta['loadgen']} with {CONNECTIONS} keep-alive connections"
        + (f", {args.wrk_threads} thread(s)" if args.loadgen == "wrk" else "")
        + f", non-streaming, unique prompt per request, {args.warmup:g}s warm-up then "
        f"{args.duration:g}s measured, one target at a time. Server CPU ms/req is the server "
        "process's user+system CPU time over the measured run divided by requests.",
        f"- Latency: one keep-alive connection (http.client), {args.requests} sequential "
        f"non-streaming requests after {args.warmup_requests} warm-up, one target at a time; "
        "added = percentile of the gateway's distribution minus the same percentile of direct's.",
        "- TTFT: same, with `stream: true`; time to the first SSE `data:` line whose delta "
        "has content; every stream must end with `[DONE]` and every answer text is checked.",
        "- Any non-200, socket error or wrong answer is counted; a run with errors is invalid.",
        "- 2-core machine: load generator, peer and gateway share the cores, so absolute numbers "
        "are low; compare the rows, not against other machines.",
    ]
    return "\n".join(lines), valid


def _rel(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(PROJECT_ROOT))
    return str(path)


def write_doc(report: str) -> Path:
    doc = PROJECT_ROOT / "docs" / "benchmarks.md"
    section = (
        f"{DOC_HEADING}\n\n"
        "Produced by `.venv/bin/python bench/gateway_vs_litellm.py --write` "
        "(see `bench/README.md`).\n\n"
        f"{report}\n"
    )
    if doc.exists():
        text = doc.read_text()
        pattern = re.compile(
            rf"^{re.escape(DOC_HEADING)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL
        )
        found = pattern.search(text)
        if found:
            # The hand-written analysis under the table survives a refresh of the table.
            kept = found.group(0).partition(f"\n{ANALYSIS_HEADING}")
            if kept[1]:
                section = section.rstrip() + "\n\n" + kept[1].lstrip("\n") + kept[2].rstrip() + "\n"
            text = pattern.sub(lambda _: section + "\n", text, count=1).rstrip() + "\n"
        else:
            text = text.rstrip() + "\n\n" + section
    else:
        text = "# Benchmarks\n\n" + section
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)
    return doc


# -------------------------------------------------------------------------- main


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: FrameType | None) -> None:
        raise BenchTimeout(f"the benchmark ran past its {seconds:.0f}s limit (--time-limit)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def exclusive(var_dir: Path) -> Iterator[None]:
    var_dir.mkdir(parents=True, exist_ok=True)
    with (var_dir / "bench.lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SystemExit(f"another benchmark run holds {var_dir}/bench.lock") from None
        yield


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds/target")
    parser.add_argument("--warmup", type=float, default=3.0, help="throughput warm-up seconds")
    parser.add_argument("--requests", type=int, default=500, help="sequential samples/target")
    parser.add_argument("--warmup-requests", type=int, default=50)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--profile", action="store_true", help="py-spy our gateway under load")
    parser.add_argument(
        "--profile-litellm", action="store_true", help="also py-spy LiteLLM under load"
    )
    parser.add_argument("--profile-rate", type=int, default=100, help="py-spy samples/s")
    parser.add_argument("--profile-top", type=int, default=15)
    parser.add_argument(
        "--profile-mode",
        choices=["gil", "all", "blocking"],
        default="gil",
        help="py-spy: GIL holder only (default), all non-idle threads, or pausing the worker",
    )
    parser.add_argument(
        "--loadgen",
        choices=["wrk", "python"],
        default="wrk" if loadgen.wrk_path() else "python",
        help="throughput load generator (default: wrk when installed)",
    )
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument(
        "--targets",
        default="direct,ours,litellm",
        help="comma-separated subset of direct,ours,litellm (direct is always measured when "
        "a gateway is, as the baseline)",
    )
    parser.add_argument(
        "--var-dir",
        type=Path,
        default=BENCH_DIR / ".var",
        help="VAR_DIR of our gateway (its own embedded PostgreSQL and Redis)",
    )
    parser.add_argument(
        "--keep-servers",
        action="store_true",
        help="leave the embedded PostgreSQL/Redis under --var-dir running (faster reruns)",
    )
    parser.add_argument(
        "--gateway-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for our gateway (e.g. high rate limits); repeatable",
    )
    parser.add_argument(
        "--fresh-db",
        action="store_true",
        help="delete and rebuild the bench database first (it is also rebuilt, once, "
        "when migrate fails on it)",
    )
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    parser.add_argument("--time-limit", type=float, default=540, help="abort after N seconds")
    args = parser.parse_args(argv)
    args.var_dir = args.var_dir.resolve()
    args.results_dir = args.results_dir.resolve()
    args.nonce = secrets.token_hex(4)
    wanted = {t.strip() for t in args.targets.split(",") if t.strip()}
    if not wanted <= {"direct", "ours", "litellm"} or not wanted:
        parser.error("--targets takes direct, ours and/or litellm")
    args.want = wanted | {"direct"}
    if args.loadgen == "wrk" and not loadgen.wrk_path():
        parser.error("wrk is not installed (apt-get install -y wrk), or use --loadgen python")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    loadavg = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    if os.getloadavg()[0] > 0.7:
        log(f"WARNING: the machine is busy (load average {loadavg}); numbers will be noisy")
    with (
        exclusive(args.var_dir),
        tempfile.TemporaryDirectory(prefix="bench-gw-") as tmp,
    ):
        run = Run(args=args, work=Path(tmp), logs=args.results_dir / "logs")
        run.logs.mkdir(parents=True, exist_ok=True)
        for old in run.logs.glob("*.log"):
            old.unlink()
        try:
            with time_limit(args.time_limit):
                return measure_all(run, loadavg)
        except (StartupError, BenchTimeout) as exc:
            print(f"\nBENCHMARK FAILED: {exc}\n(logs in {run.logs})", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("\ninterrupted", file=sys.stderr)
            return 130
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # let cleanup finish
            for proc in reversed(run.started):
                began = time.monotonic()
                proc.stop()
                log(f"stopped {proc.name} ({time.monotonic() - began:.1f}s)")
            began = time.monotonic()
            stop_embedded(run)
            if run.stop_embedded:
                log(f"stopped the embedded servers ({time.monotonic() - began:.1f}s)")
            signal.signal(signal.SIGINT, signal.default_int_handler)
            log("stopped every process this run started")


def measure_all(run: Run, loadavg: str) -> int:
    args = run.args
    started_at = time.monotonic()
    litellm_bin = None
    if "litellm" in args.want:
        log("LiteLLM venv: checking bench/.venv-litellm (first run installs it, ~2 min)")
        litellm_bin = litellm_env.ensure_litellm_venv()

    peer, peer_port = start_peer(run)
    log(f"peer on 127.0.0.1:{peer_port} (pid {peer.pid})")

    lite_proc: Proc | None = None
    if litellm_bin is not None:
        lite_proc, lite_port, master_key = start_litellm(run, litellm_bin, peer_port)

    targets = [
        Target(
            "direct",
            "direct (peer)",
            f"http://127.0.0.1:{peer_port}/v1",
            UPSTREAM_MODEL,
            "dummy",
            peer.pid,
        )
    ]
    if "ours" in args.want:
        api_key = prepare_ours(run, peer_port)
        run.features = configure_ours_team(run)
        ours_proc, ours_port = start_ours(run)
        ours_proc.wait_for_http(f"http://127.0.0.1:{ours_port}/readyz", timeout=90)
        log(f"our gateway on 127.0.0.1:{ours_port} (pid {ours_proc.pid})")
        targets.append(
            Target(
                "ours",
                "our gateway",
                f"http://127.0.0.1:{ours_port}/v1",
                MODEL,
                api_key,
                ours_proc.pid,
            )
        )
    if lite_proc is not None:
        lite_proc.wait_for_http(f"http://127.0.0.1:{lite_port}/health/liveliness", timeout=180)
        log(f"LiteLLM on 127.0.0.1:{lite_port} (pid {lite_proc.pid})")
        targets.append(
            Target(
                "litellm",
                "LiteLLM proxy",
                f"http://127.0.0.1:{lite_port}/v1",
                MODEL,
                master_key,
                lite_proc.pid,
            )
        )
    for target in targets:
        smoke(target)
    log(f"all targets answer (start-up took {time.monotonic() - started_at:.0f}s)")

    results = [TargetResult(t) for t in targets]
    for r in results:
        log(f"throughput: {r.target.label}, {args.warmup:g}s warm-up + {args.duration:g}s")
        (
            r.throughput,
            r.server_cpu_ms_per_req,
            r.server_sys_share,
            r.peer_cpu_ms_per_req,
        ) = measure_throughput(run, r.target, peer.pid, seconds=args.duration, warmup=args.warmup)
        log(f"  {r.throughput.rps:.0f} req/s, errors {r.throughput.errors}")
    for r in results:
        log(f"latency: {r.target.label}, {args.requests} sequential requests")
        r.latency = loadgen.sequential_latency(
            r.target, count=args.requests, warmup=args.warmup_requests, nonce=args.nonce
        )
        log(f"  p50 {fmt(percentile(r.latency.samples_ms, 50))} ms")
    for r in results:
        log(f"TTFT: {r.target.label}, {args.requests} sequential streams")
        r.ttft = loadgen.sequential_ttft(
            r.target, count=args.requests, warmup=args.warmup_requests, nonce=args.nonce
        )
        log(f"  p50 {fmt(percentile(r.ttft.samples_ms, 50))} ms")

    profiled: dict[str, Throughput | None] = {}
    for target in targets:
        if (target.name == "ours" and args.profile) or (
            target.name == "litellm" and args.profile_litellm
        ):
            profiled[target.label] = profile_target(run, target, seconds=args.duration)

    litellm_version = litellm_env.LITELLM_VERSION if litellm_bin is not None else "not run"
    meta = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_description(),
        "commit": git_commit(),
        "litellm": litellm_version,
        "loadgen": (
            f"wrk {loadgen.wrk_version()}" if args.loadgen == "wrk" else "Python httpx (fallback)"
        ),
        "loadavg": loadavg,
    }
    report, valid = build_report(run, results, meta=meta, profiled=profiled)
    print("\n" + report + "\n")
    (args.results_dir / "last-report.md").write_text(report + "\n")
    if args.write:
        if valid:
            log(f"wrote {write_doc(report)}")
        else:
            log("NOT writing docs/benchmarks.md: the run had errors")
    log(f"done in {time.monotonic() - started_at:.0f}s")
    return 0 if valid else 1


if __name__ == "__main__":
    sys.exit(main())
