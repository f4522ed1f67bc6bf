"""Shared fixtures. Every test base has three actors: owner of org A, member of org A,
and an outsider who owns org B (healthchecks / Zulip style)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from accounts.models import Organization, Role, Team, User
from accounts.tests.factories import (
    MembershipFactory,
    OrganizationFactory,
    TeamFactory,
    TeamMembershipFactory,
    UserFactory,
)
from core.redis import get_redis


@pytest.fixture(autouse=True)
def _clean_redis():
    """Each xdist worker has its own Redis database (see config/django/test.py)."""
    get_redis().flushdb()
    return


@dataclass
class World:
    org_a: Organization
    team_a: Team
    owner_a: User
    member_a: User
    org_b: Organization
    team_b: Team
    outsider_b: User


@pytest.fixture
def world(db) -> World:
    org_a = OrganizationFactory(name="Acme")
    team_a = TeamFactory(organization=org_a, name="Acme Research")
    owner_a = UserFactory(email="owner@acme.test")
    member_a = UserFactory(email="member@acme.test")
    MembershipFactory(organization=org_a, user=owner_a, role=Role.OWNER)
    MembershipFactory(organization=org_a, user=member_a, role=Role.MEMBER)
    TeamMembershipFactory(team=team_a, user=owner_a)
    TeamMembershipFactory(team=team_a, user=member_a)

    org_b = OrganizationFactory(name="Globex")
    team_b = TeamFactory(organization=org_b, name="Globex Ops")
    outsider_b = UserFactory(email="outsider@globex.test")
    MembershipFactory(organization=org_b, user=outsider_b, role=Role.OWNER)
    TeamMembershipFactory(team=team_b, user=outsider_b)
    return World(org_a, team_a, owner_a, member_a, org_b, team_b, outsider_b)


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def client_as(api_client):
    """Log an APIClient in as a user (session auth)."""

    def _login(user: User) -> APIClient:
        api_client.force_authenticate(user=None)
        api_client.force_login(user)
        return api_client

    return _login


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _test_database_url() -> str:
    """A DATABASE_URL for the test database, so other processes use the same data."""
    from urllib.parse import quote

    from django.db import connection

    connection.ensure_connection()
    params = connection.get_connection_params()
    host = str(params.get("host", ""))
    if host.startswith("/"):  # a unix socket directory goes in the query string
        return "postgres://{user}@/{name}?host={host}&port={port}".format(
            user=params.get("user", "postgres"), name=connection.settings_dict["NAME"],
            host=quote(host), port=params.get("port", 5432),
        )  # fmt: skip
    return "postgres://{user}:{password}@{host}:{port}/{name}".format(
        user=params.get("user", ""), password=quote(str(params.get("password", "")), safe=""),
        host=host, port=params.get("port", 5432), name=connection.settings_dict["NAME"],
    )  # fmt: skip


# Server processes run with short timings so failover and breaker tests stay fast.
SERVER_TEST_ENV = {
    "BREAKER_COOLDOWN_SECONDS": "3",
    "GATEWAY_BACKOFF_BASE_MS": "5",
    "GATEWAY_BACKOFF_MAX_MS": "20",
    "GATEWAY_MAX_BODY_BYTES": "200000",
}


class ServerProcesses:
    """Real uvicorn processes serving the app on the test database and Redis db."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.processes: list = []

    def start(self, **env_overrides: str) -> str:
        import os
        import subprocess
        import sys
        import tempfile
        import time

        import httpx
        from django.conf import settings

        port = _free_port()
        env = {
            **os.environ,
            **SERVER_TEST_ENV,
            "DJANGO_SETTINGS_MODULE": "config.django.test",
            "GENAI_TEST_SERVER_PROCESS": "1",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": settings.REDIS_URL.split("?")[0]
            if settings.EMBEDDED_REDIS
            else settings.REDIS_URL,
            **env_overrides,  # last: a test may point a process at other servers
        }
        log = tempfile.NamedTemporaryFile(prefix="server-", suffix=".log", delete=False)  # noqa: SIM115
        proc = subprocess.Popen(  # noqa: S603 - fixed argv: this interpreter running uvicorn
            [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
             "--port", str(port), "--lifespan", "off", "--log-level", "warning"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.processes.append(proc)
        base = f"http://127.0.0.1:{port}"
        # Generous: on a loaded 2-core machine, importing Django and the SDKs takes a while.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    return base
            except httpx.TransportError:
                time.sleep(0.1)
        output = open(log.name).read()[-3000:]  # noqa: SIM115
        raise RuntimeError(
            f"server process did not start (exit {proc.poll()}); its output:\n{output}"
        )

    def stop_all(self) -> None:
        for proc in self.processes:
            proc.terminate()
            proc.wait(timeout=10)
        self.processes.clear()


def wait_for_quiet_database(timeout: float = 10.0) -> None:
    """Let server processes finish work they do after answering (ledger rows are written
    after the response) before the test's teardown truncates the tables under them."""
    import time

    from django.db import connection

    from gateway.ledger import STREAM

    deadline = time.monotonic() + timeout
    # Rows still queued in the ledger stream are written by a server's drainer at any
    # moment: wait until the stream is empty, then until the database is idle.
    while get_redis().xlen(STREAM) and time.monotonic() < deadline:
        time.sleep(0.05)
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction')"
            )
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.05)


@pytest.fixture(scope="session")
def live_server_url(django_db_setup, django_db_blocker):
    """One server process for the whole session (per xdist worker). Tests that use it
    need committed data: request ``transactional_db``."""
    with django_db_blocker.unblock():
        servers = ServerProcesses(_test_database_url())
    yield servers.start()
    servers.stop_all()


@pytest.fixture
def server_process(transactional_db):
    """Start extra server processes for behaviour that must hold across processes.
    Returns a starter; each call gives the base URL of a new process."""
    servers = ServerProcesses(_test_database_url())
    yield servers.start
    servers.stop_all()
