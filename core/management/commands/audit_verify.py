from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.audit import audit_verify_chain


class Command(BaseCommand):
    help = "Verify the audit log's hash chain and name the first broken row."

    def handle(self, *args: Any, **options: Any) -> None:
        checked, broken = audit_verify_chain()
        if broken is not None:
            raise CommandError(
                f"Audit chain BROKEN at event #{broken.event_id}: {broken.reason}. "
                f"({checked} rows read.)"
            )
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {checked} events verified."))
