"""Development-only secrets generated on first use and kept under ``var/`` (never the repo)."""

from __future__ import annotations

import secrets
from pathlib import Path


def local_secret(var_dir: Path, name: str, *, nbytes: int = 50) -> str:
    """Return a random secret persisted in ``var/secrets/<name>``, creating it if missing."""
    path = Path(var_dir) / "secrets" / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_urlsafe(nbytes)
    # O_EXCL: when two processes race on first start, one wins and both read its value.
    try:
        fd = path.open("x")
    except FileExistsError:
        return path.read_text().strip()
    with fd:
        fd.write(value)
    path.chmod(0o600)
    return value
