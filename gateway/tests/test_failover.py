"""Fallback chains, retries and circuit breakers, against peers told to fail."""

from __future__ import annotations

import asyncio
import time

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from gateway.breaker import BreakerState, breaker_state
from gateway.tests.conftest import error_code, served_by

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "are you there"}]


def _state(provider) -> BreakerState:
    return asyncio.run(breaker_state(provider.pk))


def test_with_the_primary_failing_every_request_is_answered_by_the_fallback(
    gateway, primary, backup, server_process
):
    other = openai.OpenAI(base_url=f"{server_process()}/v1", api_key=gateway.secret, max_retries=0)
    primary.set(error_rate=1.0, error_status=503)
    client = gateway.openai()
    answered_by = []
    for _ in range(20):
        response = client.chat.completions.create(
            model="resilient", messages=MESSAGES, max_tokens=20
        )
        answered_by.append(served_by(response))
        assert response.choices[0].message.content == "Echo: are you there"
    assert answered_by == ["gpt-backup"] * 20
    # 5 consecutive failures open the breaker (2 per request: the try and one retry);
    # after that the primary is not called at all.
    assert primary.request_count == 5
    assert (
        _state(gateway.providers["openai-primary"]) is BreakerState.OPEN
    )  # seen from this process too

    # A second server process sees the breaker open: it goes straight to the fallback.
    response = other.chat.completions.create(model="resilient", messages=MESSAGES, max_tokens=20)
    assert served_by(response) == "gpt-backup"
    assert primary.request_count == 5

    # The peer recovers; after the cooldown one probe goes through and closes the breaker.
    primary.reset()
    time.sleep(3.2)  # BREAKER_COOLDOWN_SECONDS=3 in the test server processes
    response = client.chat.completions.create(model="resilient", messages=MESSAGES, max_tokens=20)
    assert served_by(response) == "gpt-primary"
    assert _state(gateway.providers["openai-primary"]) is BreakerState.CLOSED
    assert (
        other.chat.completions.create(model="resilient", messages=MESSAGES, max_tokens=20).model
        == "gpt-primary"
    )


def test_a_retryable_error_is_retried_on_the_same_model_first(gateway, primary, backup):
    primary.set(error_rate=1.0, error_status=429)
    response = gateway.openai().chat.completions.with_raw_response.create(
        model="resilient", messages=MESSAGES, max_tokens=20
    )
    assert response.headers["X-Gateway-Model"] == "gpt-backup"
    assert response.headers["X-Gateway-Fallbacks"] == "1"
    assert primary.request_count == 2  # the attempt and one retry
    assert backup.request_count == 1


def test_a_slow_primary_times_out_and_the_fallback_answers(gateway, primary, backup):
    primary.set(latency_ms=4000)  # the provider's per-attempt timeout is 1.5 s
    started = time.monotonic()
    response = gateway.openai().chat.completions.create(
        model="resilient", messages=MESSAGES, max_tokens=20
    )
    assert response.model == "gpt-backup"
    assert time.monotonic() - started < 4.5


def test_a_request_the_provider_rejects_is_not_retried_elsewhere(gateway, primary, backup):
    primary.set(error_rate=1.0, error_status=400)
    with pytest.raises(openai.BadRequestError) as rejected:
        gateway.openai().chat.completions.create(
            model="resilient", messages=MESSAGES, max_tokens=20
        )
    assert error_code(rejected.value) == "upstream_rejected"
    assert primary.request_count == 1
    assert backup.request_count == 0


def test_every_provider_down_is_a_502_that_names_what_failed(gateway, primary, backup):
    primary.set(fail=True)
    backup.set(error_rate=1.0, error_status=500)
    with pytest.raises(openai.APIStatusError) as failed:
        gateway.openai().chat.completions.create(
            model="resilient", messages=MESSAGES, max_tokens=20
        )
    assert failed.value.status_code == 502
    assert "gpt-primary" in failed.value.message
    assert "gpt-backup" in failed.value.message


def test_a_stream_fails_over_before_its_first_byte(gateway, primary, backup):
    primary.set(error_rate=1.0, error_status=500)
    with gateway.openai().chat.completions.with_streaming_response.create(
        model="cross", messages=MESSAGES, max_tokens=20, stream=True
    ) as response:
        assert response.headers["X-Gateway-Model"] == "gpt-backup"
        text = "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices)
    assert text == "Echo: are you there"


def test_a_stream_cut_after_its_first_byte_ends_with_an_error_event(gateway, primary, backup):
    primary.set(fail_after_tokens=2)
    stream = gateway.openai().chat.completions.create(
        model="resilient",
        messages=[{"role": "user", "content": "one two three four five"}],
        max_tokens=50,
        stream=True,
    )
    received: list[str] = []

    def read_all() -> None:
        for chunk in stream:
            if chunk.choices:
                received.append(chunk.choices[0].delta.content or "")

    with pytest.raises(openai.APIError) as interrupted:
        read_all()
    assert "".join(received).startswith("Echo:")  # the client saw the start of the answer
    assert "mid-stream" in str(interrupted.value)
    assert backup.request_count == 0  # no silent switch after bytes went out


def test_anthropic_stream_failover_and_error_event(gateway, primary, backup):
    primary.set(error_rate=1.0, error_status=529)
    with gateway.anthropic().messages.stream(
        model="cross", max_tokens=20, messages=MESSAGES
    ) as stream:
        assert "".join(stream.text_stream) == "Echo: are you there"
    primary.reset()
    primary.set(fail_after_tokens=1)
    with (
        pytest.raises(Exception, match="mid-stream"),
        gateway.anthropic().messages.stream(
            model="claude-primary", max_tokens=20, messages=MESSAGES
        ) as stream,
    ):
        "".join(stream.text_stream)


def test_fallback_is_reported_in_headers_and_body(gateway, primary):
    primary.set(fail=True)
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {gateway.secret}"},
        json={"model": "resilient", "messages": MESSAGES, "max_tokens": 20},
        timeout=30,
    )
    assert response.status_code == 200
    assert response.headers["X-Gateway-Fallbacks"] == "1"
    assert response.headers["X-Gateway-Provider"] == "openai-backup"
    assert response.json()["x_gateway"] == {
        "model": "gpt-backup",
        "provider": "openai-backup",
        "route": "resilient",
        "pipeline": "direct",
        "fallbacks": 1,
        "cached": False,
    }
