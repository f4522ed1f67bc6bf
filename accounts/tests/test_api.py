"""Resource API: behaviour and tenant isolation for the three actors (owner A, member A,
outsider B) and for API keys, which only ever see their own team."""

from __future__ import annotations

import pytest

from accounts import services
from accounts.access import Actor
from accounts.models import APIKey, Role
from accounts.tests.factories import MembershipFactory, TeamFactory, UserFactory


def _error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"message", "type", "code"} <= set(body["error"])
    return body["error"]


def _bearer(secret: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


@pytest.fixture
def key_a(world):
    return services.api_key_create(
        actor=Actor(user=world.owner_a), team=world.team_a, name="a", user=world.owner_a
    )


# --- who am I -----------------------------------------------------------------------------


def test_me_requires_authentication(api_client, db):
    response = api_client.get("/api/me")
    assert response.status_code == 401
    assert _error(response)["type"] == "authentication_error"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_me_with_a_session(client_as, world):
    body = client_as(world.member_a).get("/api/me").json()
    assert body["email"] == "member@acme.test"
    assert body["authenticated_by"] == "session"
    assert body["api_key"] is None


def test_me_with_an_api_key_bearer_and_x_api_key(api_client, key_a, world):
    key, secret = key_a
    for headers in (_bearer(secret), {"HTTP_X_API_KEY": secret}):
        body = api_client.get("/api/me", **headers).json()
        assert body["authenticated_by"] == "api_key"
        assert body["email"] == "owner@acme.test"  # the person the key acts for
        assert body["api_key"]["team_id"] == world.team_a.pk
        assert body["api_key"]["prefix"] == key.prefix


def test_a_service_key_without_a_user_is_still_authenticated(api_client, world):
    _, secret = services.api_key_create(
        actor=Actor(user=world.owner_a), team=world.team_a, name="svc"
    )
    body = api_client.get("/api/me", **_bearer(secret)).json()
    assert body["id"] is None
    assert body["api_key"]["team_id"] == world.team_a.pk


def test_a_bad_key_gets_401_in_the_error_shape(api_client, db):
    response = api_client.get("/api/me", **_bearer("sk-nope"))
    assert response.status_code == 401
    assert _error(response)["code"] == "invalid_api_key"


def test_a_key_without_read_scope_cannot_use_the_resource_api(api_client, world):
    _, secret = services.api_key_create(
        actor=Actor(user=world.owner_a), team=world.team_a, name="inf", scopes=["inference"]
    )
    response = api_client.get("/api/me", **_bearer(secret))
    assert response.status_code == 403
    assert "read" in _error(response)["message"]


# --- organizations and teams --------------------------------------------------------------


def test_orgs_lists_only_my_organizations_with_my_role(client_as, world):
    body = client_as(world.member_a).get("/api/orgs").json()
    assert [(o["name"], o["role"]) for o in body] == [("Acme", "member")]
    body = client_as(world.outsider_b).get("/api/orgs").json()
    assert [o["name"] for o in body] == ["Globex"]


def test_outsider_gets_404_for_another_orgs_teams(client_as, world):
    client = client_as(world.outsider_b)
    for url in (f"/api/orgs/{world.org_a.pk}/teams", f"/api/teams/{world.team_a.pk}",
                f"/api/teams/{world.team_a.pk}/keys"):  # fmt: skip
        response = client.get(url)
        assert response.status_code == 404, url
        assert _error(response)["code"] == "not_found"
    assert (
        client.post(f"/api/orgs/{world.org_a.pk}/teams", {"name": "Intruders"}).status_code == 404
    )


def test_outsider_gets_404_for_another_orgs_keys(client_as, world, key_a):
    key, _secret = key_a
    client = client_as(world.outsider_b)
    for action in ("revoke", "rotate"):
        response = client.post(f"/api/teams/{world.team_a.pk}/keys/{key.pk}/{action}")
        assert response.status_code == 404
    # Even through their own team's URL, another team's key id is not found.
    response = client.post(f"/api/teams/{world.team_b.pk}/keys/{key.pk}/revoke")
    assert response.status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None
    assert not APIKey.objects.filter(rotated_from=key).exists()


def test_member_sees_their_teams_and_owner_sees_all(client_as, world):
    hidden = TeamFactory(organization=world.org_a, name="Finance")
    member_teams = {t["name"] for t in client_as(world.member_a).get("/api/teams").json()}
    assert member_teams == {"Acme Research"}
    assert client_as(world.member_a).get(f"/api/teams/{hidden.pk}").status_code == 404
    owner_teams = {t["name"] for t in client_as(world.owner_a).get("/api/teams").json()}
    assert owner_teams == {"Acme Research", "Finance"}


def test_only_org_admins_create_teams(client_as, world):
    response = client_as(world.member_a).post(f"/api/orgs/{world.org_a.pk}/teams", {"name": "X"})
    assert response.status_code == 403
    response = client_as(world.owner_a).post(
        f"/api/orgs/{world.org_a.pk}/teams", {"name": "Platform"}
    )
    assert response.status_code == 201
    assert response.json()["name"] == "Platform"
    duplicate = client_as(world.owner_a).post(
        f"/api/orgs/{world.org_a.pk}/teams", {"name": "platform"}
    )
    assert duplicate.status_code == 400


def test_create_an_organization(client_as, world):
    response = client_as(world.member_a).post("/api/orgs", {"name": "Side Project"})
    assert response.status_code == 201
    assert response.json()["role"] == "owner"
    assert {o["name"] for o in client_as(world.member_a).get("/api/orgs").json()} == {
        "Acme",
        "Side Project",
    }


def test_validation_errors_name_the_field(client_as, world):
    response = client_as(world.owner_a).post(
        f"/api/teams/{world.team_a.pk}/keys", {"scopes": ["bogus"]}, format="json"
    )
    assert response.status_code == 400
    error = _error(response)
    assert error["param"] in {"name", "scopes"}
    assert error["type"] == "invalid_request_error"


# --- keys -----------------------------------------------------------------------------------


def test_member_creates_a_key_and_sees_the_secret_once(client_as, world):
    client = client_as(world.member_a)
    response = client.post(f"/api/teams/{world.team_a.pk}/keys", {"name": "laptop"}, format="json")
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    created = response.json()
    assert created["secret"].startswith("sk-")
    assert created["user_id"] == world.member_a.pk
    listing = client.get(f"/api/teams/{world.team_a.pk}/keys").json()
    assert [k["prefix"] for k in listing] == [created["prefix"]]
    assert "secret" not in listing[0]
    assert created["secret"] not in str(listing)


def test_viewer_can_list_but_not_create_keys(client_as, world, key_a):
    viewer = UserFactory()
    MembershipFactory(organization=world.org_a, user=viewer, role=Role.VIEWER)
    world.team_a.team_memberships.create(user=viewer)
    client = client_as(viewer)
    assert client.get(f"/api/teams/{world.team_a.pk}/keys").status_code == 200
    response = client.post(f"/api/teams/{world.team_a.pk}/keys", {"name": "x"}, format="json")
    assert response.status_code == 403
    assert client.post(f"/api/teams/{world.team_a.pk}/keys/{key_a[0].pk}/revoke").status_code == 403


def test_revoke_and_rotate_through_the_api(client_as, api_client, world, key_a):
    key, secret = key_a
    owner = client_as(world.owner_a)
    rotated = owner.post(
        f"/api/teams/{world.team_a.pk}/keys/{key.pk}/rotate", {"grace_hours": 2}, format="json"
    )
    assert rotated.status_code == 201
    new_secret = rotated.json()["secret"]
    assert rotated.json()["rotated_from_id"] == key.pk
    revoked = owner.post(f"/api/teams/{world.team_a.pk}/keys/{key.pk}/revoke")
    assert revoked.status_code == 200
    assert revoked.json()["is_active"] is False
    api_client.logout()
    assert api_client.get("/api/me", **_bearer(secret)).status_code == 401
    assert api_client.get("/api/me", **_bearer(new_secret)).status_code == 200


def test_a_key_only_sees_its_own_team(api_client, world, key_a):
    _, secret = key_a
    other_team_same_org = TeamFactory(organization=world.org_a)
    headers = _bearer(secret)
    assert [t["id"] for t in api_client.get("/api/teams", **headers).json()] == [world.team_a.pk]
    assert api_client.get(f"/api/teams/{other_team_same_org.pk}", **headers).status_code == 404
    assert api_client.get(f"/api/teams/{world.team_b.pk}/keys", **headers).status_code == 404
    assert api_client.get(f"/api/orgs/{world.org_b.pk}/teams", **headers).status_code == 404


def test_a_key_needs_manage_scope_to_manage_keys(api_client, world):
    _, plain = services.api_key_create(actor=Actor(user=world.owner_a), team=world.team_a, name="p")
    _, manager = services.api_key_create(
        actor=Actor(user=world.owner_a),
        team=world.team_a,
        name="m",
        scopes=["read", "manage", "inference"],
    )
    url = f"/api/teams/{world.team_a.pk}/keys"
    assert api_client.post(url, {"name": "n"}, format="json", **_bearer(plain)).status_code == 403
    response = api_client.post(
        url, {"name": "n", "scopes": ["inference"]}, format="json", **_bearer(manager)
    )
    assert response.status_code == 201
    assert response.json()["user_id"] is None  # minted by a key: acts for no one


def test_openapi_schema_and_docs_are_served(client_as, world):
    client = client_as(world.owner_a)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/teams/{team_id}/keys" in paths
    assert "/api/me" in paths
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()
    assert b"cdn." not in docs.content  # assets come from our own static files
