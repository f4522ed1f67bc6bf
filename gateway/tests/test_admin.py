from __future__ import annotations

import pytest

from accounts.tests.factories import UserFactory
from gateway.models import CatalogModel, Provider, Route


@pytest.fixture
def staff_client(client, db):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_catalogue_pages_load(staff_client, local_catalogue):
    for url in ("/admin/gateway/provider/", "/admin/gateway/catalogmodel/", "/admin/gateway/route/",
                "/admin/gateway/teamgatewaysettings/", "/admin/gateway/route/add/"):  # fmt: skip
        assert staff_client.get(url).status_code == 200, url
    route = Route.objects.get(name="chat-default")
    assert "local-extractive" in staff_client.get("/admin/gateway/route/").content.decode()
    assert staff_client.get(f"/admin/gateway/route/{route.pk}/change/").status_code == 200


def test_provider_keys_are_write_only(staff_client):
    response = staff_client.post(
        "/admin/gateway/provider/add/",
        {"name": "openai", "kind": "openai", "base_url": "https://api.openai.com/v1",
         "timeout_seconds": "30", "enabled": "on", "new_api_key": "sk-upstream-admin-typed"},
    )  # fmt: skip
    assert response.status_code == 302
    provider = Provider.objects.get(name="openai")
    assert provider.api_key == "sk-upstream-admin-typed"
    page = staff_client.get(f"/admin/gateway/provider/{provider.pk}/change/").content.decode()
    assert "sk-upstream-admin-typed" not in page
    assert "stored (encrypted)" in staff_client.get("/admin/gateway/provider/").content.decode()
    # Saving without typing a key keeps the stored one.
    staff_client.post(
        f"/admin/gateway/provider/{provider.pk}/change/",
        {
            "name": "openai",
            "kind": "openai",
            "base_url": "https://api.openai.com/v1",
            "timeout_seconds": "45",
            "enabled": "on",
        },
    )
    provider.refresh_from_db()
    assert provider.timeout_seconds == 45
    assert provider.api_key == "sk-upstream-admin-typed"


def test_rows_managed_by_the_config_file_are_read_only(staff_client, local_catalogue):
    model = CatalogModel.objects.get(name="local-extractive")
    CatalogModel.objects.filter(pk=model.pk).update(managed_by_file=True)
    page = staff_client.get(f"/admin/gateway/catalogmodel/{model.pk}/change/")
    assert page.status_code == 200
    assert "Managed by the GATEWAY_CONFIG file" in page.content.decode()
    staff_client.post(f"/admin/gateway/catalogmodel/{model.pk}/change/", {"name": "renamed"})
    model.refresh_from_db()
    assert model.name == "local-extractive"
    assert (
        staff_client.post(
            f"/admin/gateway/catalogmodel/{model.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
