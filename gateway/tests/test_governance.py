"""Rate limits, budgets, the ledger and the cache, with real concurrency across processes."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import httpx
from django.db.models import Sum

from accounts import services as account_services
from accounts.access import Actor
from billing.models import BudgetAlert, TeamBudget, UsageRecord, UsageStatus
from core.models import AuditEvent
from core.redis import get_redis
from gateway import ledger
from gateway.models import TeamGatewaySettings

PROMPT = {"role": "user", "content": "count my tokens please"}


def _body(model: str = "gpt-primary", **extra) -> dict:
    return {"model": model, "messages": [PROMPT], "max_tokens": 8, **extra}


async def _fire(urls: list[str], secret: str, count: int, body: dict) -> list[httpx.Response]:
    """``count`` requests at once, spread over the server processes."""
    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        return await asyncio.gather(
            *(
                client.post(
                    f"{urls[i % len(urls)]}/v1/chat/completions",
                    headers={"Authorization": f"Bearer {secret}"},
                    json=body,
                )
                for i in range(count)
            )
        )


def _one(gateway, body: dict, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{gateway.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {gateway.secret}", **headers},
        json=body,
        timeout=30,
    )


def _wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def _row(request_id: str) -> UsageRecord:
    """The API answers first and writes its ledger row just after (decision 0023)."""
    _wait_for(lambda: UsageRecord.objects.filter(request_id=request_id).exists())
    return UsageRecord.objects.get(request_id=request_id)


def _ledger_drained() -> bool:
    """Every settled row is in PostgreSQL: the ledger stream holds nothing."""
    return not get_redis().xlen(ledger.STREAM)


def test_a_budget_is_never_overspent_under_concurrency(gateway, world, primary, server_process):
    # Learn what one request costs, then give the team a budget that fits exactly 50.
    probe = _one(gateway, _body())
    assert probe.status_code == 200
    one = _row(probe.headers["X-Request-Id"]).cost_usd
    UsageRecord.objects.all().delete()
    assert one > 0
    TeamBudget.objects.create(team=world.team_a, monthly_limit_usd=one * 50)
    urls = [gateway.url, server_process()]
    primary.reset()

    responses = asyncio.run(_fire(urls, gateway.secret, 200, _body()))

    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 402}, [r.text[:300] for r in responses if r.status_code >= 500]
    succeeded = statuses.count(200)
    assert 0 < succeeded <= 50
    refused = [r for r in responses if r.status_code == 402]
    assert "budget" in refused[0].json()["error"]["message"]
    rows = UsageRecord.objects.filter(team=world.team_a)
    _wait_for(lambda: rows.count() >= primary.request_count and _ledger_drained())
    time.sleep(0.3)  # a duplicate, were there one, would have had time to land
    # Exactly one ledger row per request that reached a provider, and nothing else.
    assert rows.count() == succeeded == primary.request_count
    assert len({r.request_id for r in rows}) == rows.count()
    total = rows.aggregate(total=Sum("cost_usd"))["total"]
    assert total == one * succeeded
    assert total <= one * 50


def test_a_60_per_minute_key_admits_60_across_two_processes(gateway, world, server_process):
    _, secret = account_services.api_key_create(
        actor=Actor(user=world.owner_a), team=world.team_a, name="rl"
    )
    from accounts.models import APIKey

    APIKey.objects.filter(name="rl").update(rpm_limit=60)
    urls = [gateway.url, server_process()]
    started = time.monotonic()
    responses = asyncio.run(_fire(urls, secret, 150, _body("local-extractive")))
    elapsed = time.monotonic() - started
    admitted = sum(r.status_code == 200 for r in responses)
    # The bucket holds one minute's allowance and refills at 1 request per second.
    assert 60 <= admitted <= 60 + int(elapsed) + 1, (
        admitted,
        elapsed,
        sorted({r.status_code for r in responses}),
        [r.text[:300] for r in responses if r.status_code not in (200, 429)][:2],
    )
    limited = [r for r in responses if r.status_code == 429]
    assert len(limited) == 150 - admitted
    assert int(limited[0].headers["Retry-After"]) >= 1
    assert limited[0].json()["error"]["code"] == "rate_limit_requests"
    ok = next(r for r in responses if r.status_code == 200)
    assert ok.headers["x-ratelimit-limit-requests"] == "60"
    assert int(ok.headers["x-ratelimit-remaining-requests"]) < 60
    assert ok.headers["x-ratelimit-reset-requests"].endswith("s")


def test_tokens_per_minute_are_charged_from_the_estimate_and_corrected(gateway, world):
    TeamGatewaySettings.objects.create(team=world.team_a, tpm_limit=1000)
    first = _one(gateway, _body(max_tokens=400))
    assert first.status_code == 200
    _row(first.headers["X-Request-Id"])  # settled (the correction comes before the row)
    # Charged about prompt + 400 at admission; corrected to the real ~10 tokens after.
    second = _one(gateway, _body(max_tokens=400))
    remaining_after_correction = int(second.headers["x-ratelimit-remaining-tokens"])
    assert remaining_after_correction > 1000 - 400 - 60  # only this request's estimate is out
    too_big = _one(gateway, _body(max_tokens=2000))
    assert too_big.status_code == 429
    assert too_big.json()["error"]["code"] == "tokens_over_limit"


def test_budget_alerts_fire_once_at_80_and_100_percent(gateway, world, primary):
    # Answers as long as max_tokens allows, so the worst case reserved is close to the cost.
    primary.set(reply=" ".join(["token"] * 50))
    body = _body(max_tokens=50)
    probe = _one(gateway, body)
    one = _row(probe.headers["X-Request-Id"]).cost_usd
    UsageRecord.objects.all().delete()
    TeamBudget.objects.create(team=world.team_a, monthly_limit_usd=one * 10)
    statuses = [_one(gateway, body).status_code for _ in range(12)]
    assert 8 <= statuses.count(200) <= 10
    assert statuses[-1] == 402
    alerts = BudgetAlert.objects.filter(team=world.team_a).order_by("threshold_percent")
    _wait_for(lambda: alerts.count() >= 2)
    assert [a.threshold_percent for a in alerts] == [80, 100]
    assert (
        AuditEvent.objects.filter(action="budget.alert", target_id=str(world.team_a.pk)).count()
        == 2
    )


def test_identical_requests_are_answered_from_the_team_cache(
    gateway, world, primary, server_process
):
    TeamGatewaySettings.objects.create(team=world.team_a, cache_ttl_seconds=60)
    first = _one(gateway, _body())
    second = _one(gateway, _body())
    assert first.headers["X-Gateway-Cache"] == "miss"
    assert second.headers["X-Gateway-Cache"] == "hit"
    assert second.json()["x_gateway"]["cached"] is True
    assert second.json()["choices"] == first.json()["choices"]
    assert primary.request_count == 1
    hit_row = _row(second.headers["X-Request-Id"])
    assert hit_row.cached
    assert hit_row.status == UsageStatus.CACHED
    assert hit_row.cost_usd == 0
    # no-cache asks for a fresh answer.
    assert (
        _one(gateway, _body(), **{"Cache-Control": "no-cache"}).headers["X-Gateway-Cache"] == "miss"
    )
    assert primary.request_count == 2
    # A stream of the same request is replayed from the cache.
    with httpx.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {gateway.secret}"},
        json=_body(stream=True),
        timeout=30,
    ) as stream:
        assert stream.headers["X-Gateway-Cache"] == "hit"
        assert "Echo: count my tokens please" in stream.read().decode()
    # Another team asking the very same thing never gets team A's entry.
    TeamGatewaySettings.objects.create(team=world.team_b, cache_ttl_seconds=60)
    _, other_secret = account_services.api_key_create(
        actor=Actor(user=world.outsider_b), team=world.team_b, name="b"
    )
    other = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {other_secret}"},
        json=_body(),
        timeout=30,
    )
    assert other.headers["X-Gateway-Cache"] == "miss"
    assert primary.request_count == 3


def test_the_ledger_records_a_stream_the_client_cut_off(gateway, world, primary):
    primary.set(tokens_per_second=20)
    body = {"model": "gpt-primary", "stream": True, "max_tokens": 200,
            "messages": [{"role": "user", "content": " ".join(["word"] * 100)}]}  # fmt: skip
    with httpx.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {gateway.secret}"},
        json=body,
        timeout=30,
    ) as stream:
        request_id = stream.headers["X-Request-Id"]
        lines = stream.iter_lines()
        for _ in range(6):
            next(lines)
    # The client hung up after a few chunks.
    _wait_for(lambda: UsageRecord.objects.filter(request_id=request_id).exists())
    row = UsageRecord.objects.get(request_id=request_id)
    assert row.status == UsageStatus.CLIENT_CANCELLED
    assert row.stream
    assert row.output_tokens > 0
    assert row.cost_usd > 0


def test_the_ledger_records_a_provider_failure(gateway, world, primary, backup):
    primary.set(fail_after_tokens=2)
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {gateway.secret}"},
        json={
            "model": "gpt-primary",
            "stream": True,
            "max_tokens": 50,
            "messages": [{"role": "user", "content": "one two three four five six"}],
        },
        timeout=30,
    )
    assert "error" in response.text
    _wait_for(
        lambda: UsageRecord.objects.filter(request_id=response.headers["X-Request-Id"]).exists()
    )
    row = UsageRecord.objects.get(request_id=response.headers["X-Request-Id"])
    assert row.status == UsageStatus.PROVIDER_ERROR
    primary.reset()
    primary.set(error_rate=1.0, error_status=500)
    failed = _one(gateway, _body("gpt-primary"))
    assert failed.status_code == 502
    failed_row = _row(failed.headers["X-Request-Id"])
    assert failed_row.status == UsageStatus.PROVIDER_ERROR
    assert failed_row.cost_usd == 0


def test_refused_requests_leave_no_ledger_row_and_no_reservation(gateway, world):
    budget = TeamBudget.objects.create(team=world.team_a, monthly_limit_usd=Decimal("0.00000001"))
    refused = _one(gateway, _body())
    assert refused.status_code == 402
    assert not UsageRecord.objects.exists()
    budget.monthly_limit_usd = Decimal(10)  # raised in the console: takes effect at once
    budget.save()
    assert _one(gateway, _body()).status_code == 200
