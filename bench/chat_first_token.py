"""Browser chat: time from pressing Enter to the first streamed words, over the WebSocket.

    .venv/bin/python bench/chat_first_token.py            # table on stdout
    .venv/bin/python bench/chat_first_token.py --write    # also docs/benchmarks.md

Starts the app (uvicorn, development settings, the embedded PostgreSQL and Redis) on a free
port, signs a bench user in (a real session cookie), then over one WebSocket asks
``--questions`` new questions, each starting a new conversation as a new user's first
message does, through the default route (the offline local model). For each it measures
send -> first ``delta`` frame (what a person sees as the answer starting) and send ->
``done``. The issue asks for the first words within a second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.django.base")

from procs import Proc, free_port  # noqa: E402

BENCHMARKS_MD = ROOT / "docs" / "benchmarks.md"
SECTION = "## Browser chat: time to first token"
EMAIL = "bench-chat@example.test"


def _session_cookie() -> tuple[str, int]:
    """A signed-in session for the bench user (created on first use) and their team."""
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from accounts.access import Actor, teams_visible_to
    from accounts.models import User
    from accounts.services import user_signup

    user = User.objects.filter(email=EMAIL).first() or user_signup(
        email=EMAIL, password=None, full_name="Bench"
    )
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    team = teams_visible_to(Actor(user=user)).order_by("pk").first()
    assert team is not None
    # The bench measures latency, not the plan's rate limit: lift it for this team only.
    from gateway.models import TeamGatewaySettings

    TeamGatewaySettings.objects.update_or_create(
        team=team, defaults={"rpm_limit": 0, "tpm_limit": 0}
    )
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}", team.pk


async def _measure(
    url: str, cookie: str, team_id: int, questions: int
) -> list[tuple[float, float]]:
    import websockets
    from websockets.typing import Origin

    timings: list[tuple[float, float]] = []
    async with websockets.connect(
        url, additional_headers={"Cookie": cookie}, origin=Origin(url.replace("ws://", "http://"))
    ) as socket:
        hello = json.loads(await socket.recv())
        assert hello["type"] == "hello", hello
        for n in range(questions):
            sent = time.perf_counter()
            await socket.send(
                json.dumps(
                    {"type": "ask", "text": f"Question {n}: what is new?", "team_id": team_id}
                )
            )
            first = None
            while True:
                frame = json.loads(await socket.recv())
                if frame["type"] == "delta" and first is None:
                    first = time.perf_counter() - sent
                if frame["type"] == "error":
                    raise RuntimeError(f"error frame: {frame}")
                if frame["type"] == "done":
                    timings.append((first or float("nan"), time.perf_counter() - sent))
                    break
    return timings


def _table(timings: list[tuple[float, float]], *, warmup: int) -> str:
    measured = timings[warmup:]
    firsts = sorted(t[0] * 1000 for t in measured)
    dones = sorted(t[1] * 1000 for t in measured)

    def pct(values: list[float], q: float) -> float:
        return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]

    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    return "\n".join(
        [
            f"{len(measured)} questions after {warmup} warm-up ones, each a new conversation, "
            f"default route (offline local model, no token delay); {machine}; "
            f"{time.strftime('%Y-%m-%d')}.",
            "",
            "| measure | p50 | p95 | max |",
            "|---|---|---|---|",
            f"| Enter -> first words (ms) | {statistics.median(firsts):.0f} | "
            f"{pct(firsts, 95):.0f} | {max(firsts):.0f} |",
            f"| Enter -> answer complete (ms) | {statistics.median(dones):.0f} | "
            f"{pct(dones, 95):.0f} | {max(dones):.0f} |",
            "",
            f"Target: first words within 1000 ms: "
            f"{'met' if pct(firsts, 95) < 1000 else 'NOT met'} at p95.",
        ]
    )


def _write(text: str) -> None:
    doc = BENCHMARKS_MD.read_text()
    block = f"{SECTION}\n\n`bench/chat_first_token.py`\n\n{text}\n"
    if SECTION in doc:
        doc = re.sub(re.escape(SECTION) + r".*?(?=\n## |\Z)", lambda _m: block, doc, flags=re.S)
    else:
        doc = doc.rstrip() + "\n\n" + block
    BENCHMARKS_MD.write_text(doc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    cookie, team_id = _session_cookie()
    port = free_port()
    log = ROOT / "var" / "bench" / "chat-server.log"
    server = Proc(
        "server",
        [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--lifespan", "off", "--log-level", "warning"],
        log_path=log,
        env={**os.environ, "LOCAL_MODEL_TOKEN_DELAY_MS": "0"},
        cwd=ROOT,
    )  # fmt: skip
    try:
        server.wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=120)
        timings = asyncio.run(
            _measure(
                f"ws://127.0.0.1:{port}/ws/chat/", cookie, team_id, args.questions + args.warmup
            )
        )
    finally:
        server.stop()
    text = _table(timings, warmup=args.warmup)
    print(text)
    if args.write:
        _write(text)
        print("wrote docs/benchmarks.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
