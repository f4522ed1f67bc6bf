"""Shared set-up for the knowledge benchmarks: Django on a database of their own, the
corpus, machine facts, and writing a marked block into docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Django models are importable only after setup_django()
    from accounts.models import Team

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = ROOT / "docs" / "benchmarks.md"
SECTION_HEADING = "## Knowledge: retrieval quality, ingestion and search speed, semantic cache"


def setup_django(database_name: str, *, fresh: bool) -> None:
    """Django with production-like settings on a throwaway database ``database_name`` in
    the same PostgreSQL as development (created and migrated on first use). Celery tasks
    run inline, so ingestion is measured without a broker hop."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.django.base")
    os.environ.setdefault("DJANGO_DEBUG", "false")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.db import connection

    from config.celery import app

    connection.settings_dict["TEST"]["NAME"] = database_name
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=not fresh)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True


def bench_team(slug: str) -> Team:
    from accounts.models import Organization, Team

    org, _ = Organization.objects.get_or_create(slug="bench-knowledge", defaults={"name": "Bench"})
    team, _ = Team.objects.get_or_create(organization=org, slug=slug, defaults={"name": slug})
    return team


def corpus() -> dict[str, str]:
    """The Python Language Reference topics shipped with CPython (pydoc_data)."""
    from pydoc_data.topics import topics

    return dict(sorted(topics.items()))


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - read-only
            capture_output=True, text=True, cwd=ROOT, check=False,
        ).stdout.strip()  # fmt: skip
    except OSError:
        commit = "?"
    import torch

    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cores": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "commit": commit or "?",
        "load": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def write_block(marker: str, text: str) -> None:
    """Replace ``<!-- marker:start -->...<!-- marker:end -->`` inside the knowledge section
    of docs/benchmarks.md (added at the section's end the first time). Other blocks of
    the section (the semantic-cache one belongs to the gateway work) are left alone."""
    doc = BENCHMARKS_MD.read_text()
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    block = f"{start}\n{text.rstrip()}\n{end}"
    if start in doc and end in doc:
        doc = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _m: block, doc, flags=re.S)
    else:
        if SECTION_HEADING not in doc:
            doc = doc.rstrip() + f"\n\n{SECTION_HEADING}\n"
        head, tail = doc.split(SECTION_HEADING, 1)
        following = re.search(r"\n## ", tail)
        cut = following.start() if following else len(tail)
        tail = tail[:cut].rstrip() + "\n\n" + block + "\n" + tail[cut:]
        doc = head + SECTION_HEADING + tail
    BENCHMARKS_MD.write_text(doc)
