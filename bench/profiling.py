"""py-spy for the benchmark: record a running server, then summarise where its time went.

py-spy writes a speedscope JSON (open it at speedscope.app or with `npx speedscope FILE`);
from it this module derives the top functions by own and by inclusive time, own time per
package, collapsed stacks (for flamegraph.pl / inferno) and a small self-contained
flamegraph SVG.
"""

from __future__ import annotations

import html
import json
import shutil
import subprocess
import sys
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def py_spy_binary(*, install: bool) -> str:
    """The project venv's py-spy; installed with uv (a dev tool) when missing and allowed."""
    candidate = Path(sys.executable).parent / "py-spy"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("py-spy")
    if found:
        return found
    if not install:
        raise RuntimeError("py-spy is not installed (.venv/bin/uv pip install py-spy)")
    uv = Path(sys.executable).parent / "uv"
    print("[bench] py-spy missing: installing it into the project venv with uv", flush=True)
    subprocess.run(  # noqa: S603 - fixed argv
        [str(uv), "pip", "install", "--python", sys.executable, "py-spy"], check=True
    )
    return str(candidate)


def start_recording(
    binary: str, pid: int, *, seconds: float, output: Path, rate: int, mode: str = "gil"
) -> subprocess.Popen[bytes]:
    """mode "gil": only the thread holding the GIL, sampled without pausing the worker:
    where the worker's Python CPU time goes (a thread-per-request server has dozens of
    waiting threads, and py-spy's idle detection misses many of them). "all": every
    non-idle thread, without pausing. "blocking": every non-idle thread, pausing the
    worker for each sample (accurate stacks, but it slowed our gateway from ~50 to ~3 req/s
    and counted waiting threads as busy)."""
    extra = {
        "gil": ["--gil", "--nonblocking"],
        "all": ["--nonblocking"],
        "blocking": [],
    }[mode]
    output.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(  # noqa: S603 - fixed argv
        [
            binary,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(seconds))),
            "--rate",
            str(rate),
            "--format",
            "speedscope",
            "--output",
            str(output),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


_SCAFFOLDING_FILES = (
    "<frozen runpy>",
    "click/",
    "uvicorn/main.py",
    "uvicorn/server.py",
    "uvicorn/_compat.py",
    "uvicorn/__main__.py",
    "asyncio/runners.py",
    "asyncio/base_events.py",
    "litellm_cli/",
    "litellm/proxy/proxy_cli.py",
)


@dataclass(frozen=True)
class Frame:
    name: str
    file: str
    line: int

    @property
    def short_file(self) -> str:
        for marker in ("site-packages/", "/lib/python3.11/"):
            if marker in self.file:
                return self.file.split(marker, 1)[1]
        root = str(PROJECT_ROOT) + "/"
        return self.file.removeprefix(root)

    @property
    def function(self) -> str:
        return f"{self.name} ({self.short_file})"

    @property
    def is_scaffolding(self) -> bool:
        """Frames under every sample of a thread (process start-up, thread bootstrap)."""
        return self.short_file.startswith(_SCAFFOLDING_FILES) or self.name.startswith(
            ("Thread._bootstrap", "Thread.run", "_worker")
        )

    @property
    def in_project(self) -> bool:
        return self.file.startswith(str(PROJECT_ROOT) + "/") and "/.venv" not in self.file

    @property
    def package(self) -> str:
        file = self.short_file
        if file.startswith("<") or not file:
            return "(native/other)"
        head = file.split("/", 1)[0]
        return head.removesuffix(".py")


@dataclass
class Summary:
    samples: int
    own: list[tuple[str, int]]
    inclusive: list[tuple[str, int]]
    packages: list[tuple[str, int]]
    project: list[tuple[str, int]]  # inclusive time of the project's own functions
    folded: dict[str, int]


def summarise(speedscope: Path, *, top: int = 15) -> Summary:
    data = json.loads(speedscope.read_text())
    frames = [
        Frame(f.get("name", "?"), f.get("file", "") or "", int(f.get("line") or 0))
        for f in data["shared"]["frames"]
    ]
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    project: Counter[str] = Counter()
    folded: Counter[str] = Counter()
    total = 0
    for profile in data["profiles"]:
        samples = profile.get("samples", [])
        for stack in samples:  # py-spy's weights are all 1/rate seconds: count samples
            if not stack:
                continue
            w = 1
            total += w
            leaf = frames[stack[-1]]
            own[leaf.function] += w
            packages[leaf.package] += w
            for frame in {frames[i] for i in stack}:
                if not frame.is_scaffolding:
                    inclusive[frame.function] += w
            for name in {frames[i].function for i in stack if frames[i].in_project}:
                project[name] += w
            folded[";".join(frames[i].function.replace(";", ",") for i in stack)] += w
    return Summary(
        samples=total,
        own=own.most_common(top),
        inclusive=inclusive.most_common(top),
        packages=packages.most_common(top),
        project=project.most_common(top),
        folded=dict(folded),
    )


def format_summary(summary: Summary) -> str:
    def pct(n: int) -> str:
        return f"{100 * n / summary.samples:5.1f}%" if summary.samples else "  n/a"

    lines = ["(% of samples; a function's own time includes native code it calls)"]
    lines.append("\nTop functions by own time:")
    lines += [f"  {pct(n)}  {name}" for name, n in summary.own]
    lines.append("\nTop functions by inclusive time:")
    lines += [f"  {pct(n)}  {name}" for name, n in summary.inclusive]
    if summary.project:
        lines.append(
            "\nProject code by inclusive time (what our functions and their callees cost):"
        )
        lines += [f"  {pct(n)}  {name}" for name, n in summary.project]
    lines.append("\nOwn time by package:")
    lines += [f"  {pct(n)}  {name}" for name, n in summary.packages]
    return "\n".join(lines)


def write_folded(summary: Summary, path: Path) -> None:
    path.write_text("".join(f"{stack} {n}\n" for stack, n in sorted(summary.folded.items())))


# ---------------------------------------------------------------- flamegraph SVG

_ROW = 16
_WIDTH = 1600


def write_flamegraph_svg(summary: Summary, path: Path, *, title: str) -> None:
    """A static icicle-free flamegraph (root at the bottom); hover shows name and share."""
    tree: dict[str, object] = {}
    counts: dict[int, int] = {}

    def node_for(parent: dict[str, object], name: str) -> dict[str, object]:
        child = parent.get(name)
        if child is None:
            child = {}
            parent[name] = child
            counts[id(child)] = 0
        assert isinstance(child, dict)
        return child

    counts[id(tree)] = 0
    for stack, n in summary.folded.items():
        counts[id(tree)] += n
        current = tree
        for name in stack.split(";"):
            current = node_for(current, name)
            counts[id(current)] += n

    total = max(counts[id(tree)], 1)
    boxes: list[tuple[str, int, float, int, float]] = []  # name, samples, x, depth, width

    def layout(node: dict[str, object], x: float, depth: int) -> None:
        for name, child in sorted(node.items()):
            assert isinstance(child, dict)
            n = counts[id(child)]
            width = _WIDTH * n / total
            if width >= 0.3:
                boxes.append((name, n, x, depth, width))
                layout(child, x, depth + 1)
            x += width

    layout(tree, 0.0, 0)
    depth_max = max((box[3] for box in boxes), default=0)
    height = (depth_max + 2) * _ROW + 30
    body = "\n".join(
        _rect(name, n, total, x, height - 10 - (depth + 1) * _ROW, width)
        for name, n, x, depth, width in boxes
    )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}" '
        f'font-family="monospace" font-size="11">\n'
        f'<rect width="100%" height="100%" fill="#fff"/>\n'
        f'<text x="4" y="16" font-size="14">{html.escape(title)} '
        f"({summary.samples} samples; hover for details)</text>\n{body}\n</svg>\n"
    )
    path.write_text(svg)


def _rect(name: str, n: int, total: int, x: float, y: int, width: float) -> str:
    share = 100 * n / total
    where = name.rsplit(" (", 1)[-1].split("/")[0]
    hue = 10 + zlib.crc32(where.encode()) % 50  # one colour per package, stable across runs
    label = name if len(name) * 6.6 < width else name[: max(0, int(width / 6.6) - 2)] + ".."
    text = f'<text x="{x + 2:.1f}" y="{y + 12}">{html.escape(label)}</text>' if width > 20 else ""
    return (
        f"<g><title>{html.escape(name)}: {n} samples, {share:.1f}%</title>"
        f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{_ROW - 1}" '
        f'fill="hsl({hue},80%,60%)"/>{text}</g>'
    )
