"""Cost reports in the resource API."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import access_team
from accounts.apis import actor_of
from billing.selectors import month_param, team_cost_report

MONTH_PARAMETER = OpenApiParameter("month", str, description="YYYY-MM (default: this month, UTC)")


class TeamCostApi(APIView):
    @extend_schema(
        parameters=[MONTH_PARAMETER],
        summary="A team's spend for a month: budget, spent, remaining, by model and by day",
        responses={200: dict},
    )
    def get(self, request: Request, team_id: int) -> Response:
        team = access_team(actor_of(request), team_id)
        month = month_param(request.query_params.get("month"))
        return Response(team_cost_report(team=team, month=month).as_dict())
