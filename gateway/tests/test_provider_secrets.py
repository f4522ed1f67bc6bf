"""Provider credentials are encrypted at rest (core/encryption.py), and keys rotate."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from core.encryption import decrypt_text, encrypt_text
from gateway.models import Provider


def _stored_api_key(provider_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM gateway_provider WHERE id = %s", [provider_id])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_secrets_are_ciphertext_in_the_database_and_plaintext_in_python():
    provider = Provider.objects.create(name="p1", kind="openai", api_key="sk-upstream-secret-123")
    stored = _stored_api_key(provider.pk)
    assert "sk-upstream-secret-123" not in stored
    assert stored.startswith("gAAAA")  # a Fernet token
    assert Provider.objects.get(pk=provider.pk).api_key == "sk-upstream-secret-123"


@pytest.mark.django_db
def test_encrypted_fields_refuse_value_lookups():
    with pytest.raises(TypeError, match="encrypted fields cannot be queried"):
        Provider.objects.filter(api_key="x").count()


def test_each_encryption_is_different_but_decrypts_the_same():
    first, second = encrypt_text("same"), encrypt_text("same")
    assert first != second
    assert decrypt_text(first) == decrypt_text(second) == "same"


def test_a_value_from_an_unknown_key_is_an_error_not_plaintext(settings):
    foreign = Fernet(Fernet.generate_key()).encrypt(b"hello").decode()
    with pytest.raises(ImproperlyConfigured):
        decrypt_text(foreign)


@pytest.mark.django_db
def test_key_rotation_re_encrypts_with_the_new_key(settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    provider = Provider.objects.create(name="p2", kind="anthropic", api_key="sk-ant-rotate-me")
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("rotate_encryption_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    rotated = _stored_api_key(provider.pk)
    assert Fernet(new_key.encode()).decrypt(rotated.encode()) == b"sk-ant-rotate-me"
    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key can now be dropped
    assert Provider.objects.get(pk=provider.pk).api_key == "sk-ant-rotate-me"
