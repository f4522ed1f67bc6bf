from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ValidationFailed
from gateway.catalogue import bump_catalogue_version
from gateway.config_file import apply_gateway_file, load_gateway_file


class Command(BaseCommand):
    help = "Apply the providers, models and routes of the GATEWAY_CONFIG YAML file (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", help="defaults to the GATEWAY_CONFIG setting")

    def handle(self, *args: Any, path: str | None = None, **options: Any) -> None:
        source = path or settings.GATEWAY_CONFIG
        if not source:
            self.stdout.write("GATEWAY_CONFIG is not set: nothing to apply.")
            return
        try:
            report = apply_gateway_file(load_gateway_file(Path(source)))
        except ValidationFailed as exc:
            raise CommandError(exc.message) from exc
        bump_catalogue_version()
        self.stdout.write(
            self.style.SUCCESS(
                f"Applied {source}: {report.providers} providers, {report.models} models, "
                f"{report.routes} routes; {report.disabled} no longer listed and disabled."
            )
        )
