"""Builds the separate virtualenv that runs the LiteLLM proxy for the benchmark.

LiteLLM 1.109.1 pins two requirements that the package registry here cannot satisfy:
`certifi>=2026.10.19` (a base requirement) and `litellm-proxy-extras==0.4.113` (from the
`[proxy]` extra). So instead of `pip install 'litellm[proxy]==1.109.1'` this module:

1. downloads the litellm wheel alone (`pip download litellm==1.109.1 --no-deps`);
2. reads the wheel's METADATA `Requires-Dist` lines and keeps the base requirements and
   the `extra == "proxy"` ones whose markers hold on this interpreter;
3. loosens the two pins (to whatever newest version the registry has);
4. installs that list with pip into the new venv, then the wheel with `--no-deps`.

Nothing is stubbed: `litellm_proxy_extras` is the real package, only an older release.
The venv is reused while its recorded requirement list and version still match.

    .venv/bin/python bench/litellm_env.py [--venv bench/.venv-litellm] [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

from packaging.requirements import Requirement

LITELLM_VERSION = "1.109.1"
# Pins the registry cannot satisfy, and what is installed instead (unpinned: the newest).
LOOSENED = {"certifi": "certifi", "litellm-proxy-extras": "litellm-proxy-extras"}
BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_VENV = BENCH_DIR / ".venv-litellm"


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def wheel_requirements(wheel: Path, extras: tuple[str, ...] = ("proxy",)) -> list[str]:
    """Base + `extras` requirements of `wheel` that apply to this interpreter, loosened."""
    with zipfile.ZipFile(wheel) as archive:
        meta_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(meta_name).decode()
    merged: dict[str, Requirement] = {}
    for line in metadata.splitlines():
        if not line.startswith("Requires-Dist:"):
            continue
        req = Requirement(line.split(":", 1)[1].strip())
        if req.marker is not None and not any(
            req.marker.evaluate({"extra": extra}) for extra in ("", *extras)
        ):
            continue
        req.marker = None
        name = _canonical(req.name)
        if name in merged:  # listed for base and for the extra (pyyaml, pydantic, boto3)
            merged[name].specifier &= req.specifier
            merged[name].extras |= req.extras
        else:
            merged[name] = req
    return [LOOSENED.get(name, str(merged[name])) for name in sorted(merged)]


def _run(cmd: list[str], what: str) -> None:
    print(f"[litellm-env] {what}: {' '.join(cmd)}", file=sys.stderr, flush=True)
    completed = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
    if completed.returncode != 0:
        tail = "\n".join((completed.stdout + completed.stderr).splitlines()[-40:])
        raise SystemExit(f"[litellm-env] {what} failed (exit {completed.returncode}):\n{tail}")


def ensure_litellm_venv(venv: Path = DEFAULT_VENV, *, force: bool = False) -> Path:
    """Create/refresh the venv; return the path of its `litellm` console script."""
    python = venv / "bin" / "python"
    litellm_bin = venv / "bin" / "litellm"
    stamp = venv / ".bench-installed.json"
    wheels = venv / "wheels"
    if not python.exists() or force:
        base = getattr(sys, "_base_executable", sys.executable)
        _run([base, "-m", "venv", "--clear", str(venv)], "create venv")
    wheel = next(iter(sorted(wheels.glob(f"litellm-{LITELLM_VERSION}-*.whl"))), None)
    if wheel is None:
        wheels.mkdir(parents=True, exist_ok=True)
        _run(
            [
                str(python),
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "-d",
                str(wheels),
                f"litellm=={LITELLM_VERSION}",
            ],
            "download litellm wheel",
        )
        wheel = next(iter(sorted(wheels.glob(f"litellm-{LITELLM_VERSION}-*.whl"))))
    requirements = wheel_requirements(wheel)
    fingerprint = hashlib.sha256("\n".join(requirements).encode()).hexdigest()
    if (
        not force
        and litellm_bin.exists()
        and stamp.exists()
        and json.loads(stamp.read_text()).get("fingerprint") == fingerprint
    ):
        return litellm_bin
    req_file = venv / "requirements-proxy.txt"
    req_file.write_text("\n".join(requirements) + "\n")
    _run(
        [str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
        "upgrade pip",
    )
    _run(
        [str(python), "-m", "pip", "install", "--quiet", "-r", str(req_file)],
        "install LiteLLM's requirements (base + [proxy], two pins loosened)",
    )
    _run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)],
        f"install litellm {LITELLM_VERSION} --no-deps",
    )
    stamp.write_text(json.dumps({"fingerprint": fingerprint, "version": LITELLM_VERSION}))
    return litellm_bin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--force", action="store_true", help="recreate the venv")
    parser.add_argument("--print-requirements", action="store_true")
    args = parser.parse_args()
    if args.print_requirements:
        wheels = args.venv / "wheels"
        wheel = next(iter(sorted(wheels.glob(f"litellm-{LITELLM_VERSION}-*.whl"))))
        print("\n".join(wheel_requirements(wheel)))
        return
    print(ensure_litellm_venv(args.venv, force=args.force))


if __name__ == "__main__":
    main()
