from __future__ import annotations

import threading
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction

from core.audit import GENESIS_HASH, audit_record, audit_verify_chain
from core.models import AppendOnlyError, AuditEvent


def _record(n: int) -> list[AuditEvent]:
    return [
        audit_record(
            action="test.event", actor_label=f"user{i}", metadata={"i": i, "nested": {"x": [1, 2]}}
        )
        for i in range(n)
    ]


@pytest.mark.django_db
def test_events_are_chained_from_genesis():
    first, second, third = _record(3)
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    assert audit_verify_chain() == (3, None)


@pytest.mark.django_db
def test_model_refuses_update_and_delete():
    (event,) = _record(1)
    event.action = "changed"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()


@pytest.mark.django_db
def test_database_trigger_refuses_update_and_delete_even_through_querysets():
    _record(1)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.update(action="rewritten")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.filter(action="test.event").count() == 1


def _as_superuser_without_triggers(sql: str, params: list[Any]) -> None:
    """What an attacker with database superuser rights could do: bypass the trigger."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(sql, params)
        cursor.execute("SET session_replication_role = DEFAULT")


@pytest.mark.django_db
def test_verify_command_names_the_first_edited_row():
    events = _record(5)
    tampered = events[2]
    _as_superuser_without_triggers(
        "UPDATE core_auditevent SET actor_label = %s WHERE id = %s", ["mallory", tampered.pk]
    )
    _checked, broken = audit_verify_chain()
    assert broken is not None
    assert broken.event_id == tampered.pk
    assert "edited" in broken.reason
    with pytest.raises(CommandError, match=f"#{tampered.pk}"):
        call_command("audit_verify")


@pytest.mark.django_db
def test_verify_detects_a_deleted_row_at_the_next_one():
    events = _record(4)
    _as_superuser_without_triggers("DELETE FROM core_auditevent WHERE id = %s", [events[1].pk])
    _, broken = audit_verify_chain()
    assert broken is not None
    assert broken.event_id == events[2].pk
    assert "removed" in broken.reason


@pytest.mark.django_db
def test_verify_detects_a_rehashed_row_through_its_successor():
    events = _record(3)
    # The attacker edits a row and recomputes its own hash: the next row still points
    # at the old hash, so the chain breaks there.
    forged = AuditEvent.objects.get(pk=events[0].pk)
    forged.actor_label = "mallory"
    from core.audit import _digest

    new_hash = _digest(forged)
    _as_superuser_without_triggers(
        "UPDATE core_auditevent SET actor_label = 'mallory', hash = %s WHERE id = %s",
        [new_hash, events[0].pk],
    )
    _, broken = audit_verify_chain()
    assert broken is not None
    assert broken.event_id == events[1].pk


@pytest.mark.django_db
def test_verify_command_reports_an_intact_chain(capsys):
    _record(2)
    call_command("audit_verify")
    assert "intact: 2 events" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_never_fork_the_chain():
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            for i in range(10):
                audit_record(action="test.concurrent", metadata={"worker": worker, "i": i})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert AuditEvent.objects.filter(action="test.concurrent").count() == 60
    assert audit_verify_chain() == (60, None)
    # No two rows share a parent: a fork would show up as a repeated prev_hash.
    prev_hashes = list(AuditEvent.objects.values_list("prev_hash", flat=True))
    assert len(prev_hashes) == len(set(prev_hashes))
