from typing import Any

from django.core.management.base import BaseCommand

from core.encryption import encrypted_fields, rotate_encrypted_column


class Command(BaseCommand):
    help = "Re-encrypt every encrypted column with the first key of FIELD_ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        total = 0
        for model, names in encrypted_fields():
            rewritten = rotate_encrypted_column(model, names)
            total += rewritten
            self.stdout.write(
                f"{model._meta.label}: {rewritten} rows re-encrypted ({', '.join(names)})"
            )
        self.stdout.write(self.style.SUCCESS(f"Done: {total} rows now use the primary key."))
