from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from core import embedded


class Command(BaseCommand):
    help = "Status of, or stop, the embedded PostgreSQL and Redis under var/."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["status", "stop"])

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        var_dir = Path(settings.VAR_DIR)
        for line in embedded.describe_servers(
            embedded_postgres=settings.EMBEDDED_POSTGRES,
            embedded_redis=settings.EMBEDDED_REDIS,
            var_dir=var_dir,
            database=settings.DATABASES["default"],
            redis_location=settings.REDIS_URL,
        ):
            self.stdout.write(line)
        if action == "status":
            self.stdout.write(f"embedded PostgreSQL running: {embedded.postgres_running(var_dir)}")
            self.stdout.write(f"embedded Redis running: {embedded.redis_running(var_dir)}")
            return
        stopped_pg = embedded.stop_postgres(var_dir)
        stopped_redis = embedded.stop_redis(var_dir)
        self.stdout.write(
            f"stopped: PostgreSQL={'yes' if stopped_pg else 'was not running'}, "
            f"Redis={'yes' if stopped_redis else 'was not running'}"
        )
