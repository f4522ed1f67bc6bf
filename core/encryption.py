"""Encryption at rest for secrets and conversation text: Fernet (AES-128-CBC + HMAC) keys
from the environment, combined in a MultiFernet so keys can be rotated.

FIELD_ENCRYPTION_KEYS is a comma-separated list; the first key encrypts, all of them
decrypt. To rotate: put a new key first, deploy, run ``manage.py rotate_encryption_keys``
(re-encrypts every encrypted column with the new key), then drop the old key.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@functools.cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: nothing to encrypt with.")
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must hold Fernet keys (32 url-safe base64-encoded bytes); "
            "make one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'"
        ) from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt_text(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt_text(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        # Never fall back to returning the stored value: it might be read as plaintext.
        raise ImproperlyConfigured(
            "An encrypted value could not be decrypted with any key in FIELD_ENCRYPTION_KEYS."
        ) from exc


class EncryptedTextField(models.TextField[str, str]):
    """Text stored as a Fernet token. Plaintext exists only in Python objects.

    Lookups other than isnull make no sense on ciphertext (every encryption differs), so
    they are refused rather than silently matching nothing.
    """

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        return None if value is None else decrypt_text(value)

    def get_prep_value(self, value: Any) -> str | None:
        value = super().get_prep_value(value)
        if value is None:
            return None
        return encrypt_text(str(value))

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name != "isnull":
            raise TypeError(f"encrypted fields cannot be queried with __{lookup_name}")
        return super().get_lookup(lookup_name)


def encrypted_fields() -> Iterator[tuple[type[models.Model], list[str]]]:
    for model in apps.get_models():
        names = [
            f.attname for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)
        ]
        if names:
            yield model, names


def rotate_encrypted_column(
    model: type[models.Model], field_names: list[str], *, batch: int = 500
) -> int:
    """Re-encrypt each row's values with the primary key. Returns rows rewritten."""
    from django.db import connection, transaction

    table = connection.ops.quote_name(model._meta.db_table)
    pk = connection.ops.quote_name(str(model._meta.pk.column))
    columns = [connection.ops.quote_name(str(model._meta.get_field(n).column)) for n in field_names]  # type: ignore[union-attr]
    rewritten = 0
    last_pk: Any = None
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            where = f"WHERE {pk} > %s" if last_pk is not None else ""
            params = [last_pk] if last_pk is not None else []
            cursor.execute(
                f"SELECT {pk}, {', '.join(columns)} FROM {table} {where} "  # noqa: S608 - identifiers are quoted model metadata
                f"ORDER BY {pk} LIMIT {int(batch)} FOR UPDATE",
                params,
            )
            rows = cursor.fetchall()
            if not rows:
                return rewritten
            for row_pk, *values in rows:
                rotated = [
                    None if v is None else fernet().rotate(v.encode()).decode() for v in values
                ]
                assignments = ", ".join(f"{c} = %s" for c in columns)
                cursor.execute(
                    f"UPDATE {table} SET {assignments} WHERE {pk} = %s",  # noqa: S608 - quoted metadata
                    [*rotated, row_pk],
                )
                rewritten += 1
            last_pk = rows[-1][0]
