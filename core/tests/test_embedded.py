"""The test suite itself runs on the embedded servers; these check that they are the real
thing (PostgreSQL with pgvector, a Redis server) and that the helpers behave."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from core import embedded
from core.redis import get_redis
from core.secrets import local_secret


@pytest.mark.django_db
def test_database_is_postgres_with_pgvector():
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
        cursor.execute("SELECT '[1,2,3]'::vector <=> '[1,2,4]'::vector")
        distance = cursor.fetchone()[0]
    assert row is not None
    assert 0 < distance < 0.1


def test_redis_is_a_real_server():
    client = get_redis()
    client.set("probe", "1", ex=5)
    assert client.get("probe") == b"1"
    assert client.info("server")["redis_version"]


@pytest.mark.skipif(not settings.EMBEDDED_REDIS, reason="REDIS_URL points at an external server")
def test_embedded_redis_is_reused_not_restarted():
    var_dir = Path(settings.VAR_DIR)
    assert embedded.redis_running(var_dir)
    assert embedded.ensure_redis(var_dir) is False  # already answering: nothing started


def test_long_var_dirs_fall_back_to_a_short_socket_path(tmp_path):
    deep = tmp_path / ("d" * 120)
    socket_path = embedded.redis_socket_path(deep)
    assert len(str(socket_path)) <= 107
    assert socket_path == embedded.redis_socket_path(deep)  # stable for every process


def test_describe_servers_says_which_are_in_use_and_hides_passwords(tmp_path):
    lines = embedded.describe_servers(
        embedded_postgres=False,
        embedded_redis=False,
        var_dir=tmp_path,
        database={"HOST": "db.internal", "PORT": 5432, "NAME": "genai"},
        redis_location="redis://:hunter2@cache.internal:6379/0",
    )
    assert lines[0].startswith("PostgreSQL: external, db.internal:5432/genai")
    assert "hunter2" not in lines[1]
    assert "cache.internal" in lines[1]
    embedded_lines = embedded.describe_servers(
        embedded_postgres=True,
        embedded_redis=True,
        var_dir=tmp_path,
        database={},
        redis_location="",
    )
    assert "embedded" in embedded_lines[0]
    assert "embedded" in embedded_lines[1]


def test_local_secret_is_generated_once_and_kept_private(tmp_path):
    first = local_secret(tmp_path, "k")
    assert len(first) >= 50
    assert local_secret(tmp_path, "k") == first
    assert (tmp_path / "secrets" / "k").stat().st_mode & 0o077 == 0
