"""``make run``: bring up the embedded servers (if used), migrate, and serve the ASGI app.

Servers this command started are stopped again when it exits (Ctrl-C or SIGTERM);
servers that were already running (another terminal, a test run) are left alone.
It also runs a Celery worker and beat as child processes (``--no-worker`` to skip), so a
fresh install ingests documents; production runs those as processes of their own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

from core import embedded
from core.redis import ensure_embedded_redis


class Command(BaseCommand):
    help = "Run the platform: embedded servers if needed, migrations, then uvicorn."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1)
        parser.add_argument("--no-migrate", action="store_true")
        parser.add_argument(
            "--no-worker", action="store_true", help="do not start a Celery worker and beat"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        var_dir = Path(settings.VAR_DIR)
        pg_was_running = embedded.postgres_running(var_dir)
        redis_was_running = embedded.redis_running(var_dir)
        children: list[subprocess.Popen[bytes]] = []
        try:
            self._announce_and_start(var_dir)
            if not options["no_migrate"]:
                call_command("migrate", interactive=False, verbosity=1)
            # Start-up work of the apps above core (e.g. applying GATEWAY_CONFIG), named in
            # settings so core does not need to know about them.
            for command in settings.STARTUP_COMMANDS:
                call_command(command)
            connection.close()  # uvicorn workers open their own connections
            if not options["no_worker"]:
                children = self._start_celery()
            self.stdout.write(
                self.style.SUCCESS(
                    f"Serving on http://{options['host']}:{options['port']}/ "
                    f"(admin at /admin/, API docs at /api/docs/). Ctrl-C stops."
                )
            )
            signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
            uvicorn.run(
                "config.asgi:application",
                host=options["host"],
                port=options["port"],
                workers=options["workers"],
                lifespan="off",
                proxy_headers=settings.TRUSTED_PROXY_COUNT > 0,
                log_level="info",
            )
        except KeyboardInterrupt:
            pass
        finally:
            _stop_children(children)
            self._stop_what_we_started(var_dir, pg_was_running, redis_was_running)

    def _start_celery(self) -> list[subprocess.Popen[bytes]]:
        """A worker and beat for background work (document ingestion), as child processes
        on the same settings and servers; stopped when this command exits."""
        celery = [sys.executable, "-m", "celery", "-A", "config"]
        loglevel = ["--loglevel", "INFO"]
        worker = [*celery, "worker", *loglevel, "--concurrency",
                  str(settings.CELERY_WORKER_CONCURRENCY), "--hostname", "serve@%h"]  # fmt: skip
        beat = [*celery, "beat", *loglevel, "--pidfile", ""]
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get(
            "DJANGO_SETTINGS_MODULE", "config.django.base")}  # fmt: skip
        children = [
            subprocess.Popen(worker, env=env),  # noqa: S603 - fixed argv, this interpreter
            subprocess.Popen(beat, env=env),  # noqa: S603
        ]
        self.stdout.write("Started a Celery worker and beat (document ingestion).")
        return children

    def _announce_and_start(self, var_dir: Path) -> None:
        for line in embedded.describe_servers(
            embedded_postgres=settings.EMBEDDED_POSTGRES,
            embedded_redis=settings.EMBEDDED_REDIS,
            var_dir=var_dir,
            database=settings.DATABASES["default"],
            redis_location=settings.REDIS_URL,
        ):
            self.stdout.write(line)
        ensure_embedded_redis()
        connection.ensure_connection()  # starts the embedded PostgreSQL when it is in use

    def _stop_what_we_started(
        self, var_dir: Path, pg_was_running: bool, redis_was_running: bool
    ) -> None:
        connection.close()
        if settings.EMBEDDED_POSTGRES and not pg_was_running and embedded.stop_postgres(var_dir):
            self.stdout.write("Stopped the embedded PostgreSQL.")
        if settings.EMBEDDED_REDIS and not redis_was_running and embedded.stop_redis(var_dir):
            self.stdout.write("Stopped the embedded Redis.")


def _stop_children(children: list[subprocess.Popen[bytes]]) -> None:
    """Warm shutdown (SIGTERM lets a worker hand unfinished messages back), then kill."""
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
