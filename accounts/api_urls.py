from django.urls import path

from accounts import apis

urlpatterns = [
    path("me", apis.MeApi.as_view(), name="me"),
    path("orgs", apis.OrganizationListApi.as_view(), name="org-list"),
    path("orgs/<int:organization_id>/teams", apis.TeamListApi.as_view(), name="org-team-list"),
    path("teams", apis.MyTeamListApi.as_view(), name="team-list"),
    path("teams/<int:team_id>", apis.TeamDetailApi.as_view(), name="team-detail"),
    path("teams/<int:team_id>/keys", apis.APIKeyListApi.as_view(), name="key-list"),
    path(
        "teams/<int:team_id>/keys/<int:key_id>/revoke",
        apis.APIKeyRevokeApi.as_view(),
        name="key-revoke",
    ),
    path(
        "teams/<int:team_id>/keys/<int:key_id>/rotate",
        apis.APIKeyRotateApi.as_view(),
        name="key-rotate",
    ),
]
