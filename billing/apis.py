"""Cost reports in the resource API."""

from __future__ import annotations

from datetime import date

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import access_team
from accounts.apis import actor_of
from billing.selectors import parse_month, team_cost_report
from core.errors import ValidationFailed

MONTH_PARAMETER = OpenApiParameter("month", str, description="YYYY-MM (default: this month, UTC)")


class TeamCostApi(APIView):
    @extend_schema(
        parameters=[MONTH_PARAMETER],
        summary="A team's spend for a month: budget, spent, remaining, by model and by day",
        responses={200: dict},
    )
    def get(self, request: Request, team_id: int) -> Response:
        team = access_team(actor_of(request), team_id)
        month = parse_month_or_400(request)
        return Response(team_cost_report(team=team, month=month).as_dict())


def parse_month_or_400(request: Request) -> date:
    try:
        return parse_month(request.query_params.get("month"))
    except ValueError as exc:
        raise ValidationFailed("month must look like 2026-11.", param="month") from exc
