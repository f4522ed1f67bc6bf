import asyncio
from typing import Any

from django.core.management.base import BaseCommand

from gateway.ledger import drain_all


class Command(BaseCommand):
    help = (
        "Write every ledger row waiting in the ledger stream to PostgreSQL now, including "
        "rows a crashed gateway process had taken (decision 0023). Running gateway "
        "processes do this by themselves; this is for recovery without traffic."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        settled = asyncio.run(drain_all())
        self.stdout.write(self.style.SUCCESS(f"Settled {settled} ledger stream entries."))
