from django.urls import path

from billing import apis

urlpatterns = [
    path("teams/<int:team_id>/costs", apis.TeamCostApi.as_view(), name="team-costs"),
]
