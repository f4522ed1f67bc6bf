"""Development-only secrets generated on first use and kept under ``var/`` (never the repo)."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path


def _random_token() -> str:
    return secrets.token_urlsafe(50)


def local_secret(var_dir: Path, name: str, *, generate: Callable[[], str] = _random_token) -> str:
    """Return a secret persisted in ``var/secrets/<name>``, generating it if missing."""
    path = Path(var_dir) / "secrets" / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Write aside, then link into place: link fails if another process won the race, and
    # nobody can ever read a half-written file.
    fd, tmp_name = tempfile.mkstemp(dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(generate())
        with contextlib.suppress(FileExistsError):
            os.link(tmp_name, path)
    finally:
        os.unlink(tmp_name)
    return path.read_text().strip()


def local_fernet_key(var_dir: Path) -> str:
    from cryptography.fernet import Fernet

    return local_secret(
        var_dir, "field-encryption-key", generate=lambda: Fernet.generate_key().decode()
    )
