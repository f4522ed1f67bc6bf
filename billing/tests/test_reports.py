from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from accounts import services as account_services
from accounts.access import Actor
from billing.models import TeamBudget, UsageRecord, UsageStatus
from billing.selectors import parse_month, team_cost_report

NOV = date(2026, 11, 1)


def _row(team, n: int, *, model: str, cost: str, day: int, month: int = 11) -> UsageRecord:
    return UsageRecord.objects.create(
        request_id=f"req-{team.pk}-{model}-{n}-{month}",
        created_at=datetime(2026, month, day, 12, tzinfo=UTC),
        organization=team.organization,
        team=team,
        model_requested=model,
        model_used=model,
        provider="p",
        pipeline="direct",
        input_tokens=10,
        output_tokens=5,
        cost_usd=Decimal(cost),
        status=UsageStatus.OK,
    )


@pytest.fixture
def ledger(world):
    _row(world.team_a, 1, model="gpt-4o", cost="0.010", day=1)
    _row(world.team_a, 2, model="gpt-4o", cost="0.020", day=2)
    _row(world.team_a, 3, model="claude", cost="0.100", day=2)
    _row(world.team_a, 4, model="claude", cost="5.000", day=2, month=10)  # another month
    _row(world.team_b, 1, model="gpt-4o", cost="9.000", day=1)  # another team
    TeamBudget.objects.create(team=world.team_a, monthly_limit_usd=Decimal("1.00"))


def test_report_sums_the_month_of_one_team(ledger, world):
    report = team_cost_report(team=world.team_a, month=NOV).as_dict()
    assert report["spent_usd"] == "0.130000"
    assert report["budget_usd"] == "1.000000"
    assert report["remaining_usd"] == "0.870000"
    assert report["utilization"] == pytest.approx(0.13)
    assert report["requests"] == 3
    assert report["input_tokens"] == 30
    assert report["by_model"] == [
        {
            "model": "claude",
            "requests": 1,
            "input_tokens": 10,
            "output_tokens": 5,
            "cost_usd": "0.100000",
        },
        {
            "model": "gpt-4o",
            "requests": 2,
            "input_tokens": 20,
            "output_tokens": 10,
            "cost_usd": "0.030000",
        },
    ]
    assert [(d["date"], d["cost_usd"]) for d in report["by_day"]] == [
        ("2026-11-01", "0.010000"),
        ("2026-11-02", "0.120000"),
    ]


def test_cost_api_is_scoped_to_teams_the_caller_can_see(ledger, client_as, world):
    owner = client_as(world.owner_a).get(
        f"/api/teams/{world.team_a.pk}/costs", {"month": "2026-11"}
    )
    assert owner.status_code == 200
    assert owner.json()["spent_usd"] == "0.130000"
    member = client_as(world.member_a).get(
        f"/api/teams/{world.team_a.pk}/costs", {"month": "2026-11"}
    )
    assert member.json()["requests"] == 3
    outsider = client_as(world.outsider_b).get(
        f"/api/teams/{world.team_a.pk}/costs", {"month": "2026-11"}
    )
    assert outsider.status_code == 404
    bad = client_as(world.owner_a).get(f"/api/teams/{world.team_a.pk}/costs", {"month": "November"})
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "month"


def test_v1_usage_reports_the_calling_keys_team(ledger, client, world):
    _, secret = account_services.api_key_create(
        actor=Actor(user=world.outsider_b), team=world.team_b, name="b"
    )
    response = client.get("/v1/usage", {"month": "2026-11"}, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200
    body = response.json()
    assert body["team"]["id"] == world.team_b.pk
    assert body["spent_usd"] == "9.000000"
    assert body["budget_usd"] is None
    assert body["utilization"] is None


def test_parse_month():
    assert parse_month("2026-02") == date(2026, 2, 1)
    assert parse_month(None, today=date(2026, 11, 22)) == NOV
    with pytest.raises(ValueError):  # noqa: PT011 - strptime's own error
        parse_month("2026-13")
