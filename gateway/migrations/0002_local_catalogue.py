"""A fresh install answers chats with no provider key: the offline local extractive model,
and the default route pointing at it. GATEWAY_CONFIG or the console add real providers
(and may redefine chat-default with a longer fallback chain ending in local)."""

from django.db import migrations


def create_local_catalogue(apps, schema_editor):
    Provider = apps.get_model("gateway", "Provider")
    CatalogModel = apps.get_model("gateway", "CatalogModel")
    Route = apps.get_model("gateway", "Route")
    RouteStep = apps.get_model("gateway", "RouteStep")
    provider, _ = Provider.objects.get_or_create(
        name="local", defaults={"kind": "local", "timeout_seconds": 30.0}
    )
    model, _ = CatalogModel.objects.get_or_create(
        name="local-extractive",
        defaults={
            "provider": provider,
            "upstream_name": "local-extractive",
            "context_window": 32768,
            "max_output_tokens": 4096,
            "all_teams": True,
        },
    )
    route, created = Route.objects.get_or_create(
        name="chat-default", defaults={"description": "Default chat route"}
    )
    if created:
        RouteStep.objects.create(route=route, model=model, position=0)


class Migration(migrations.Migration):
    dependencies = [("gateway", "0001_initial")]

    operations = [migrations.RunPython(create_local_catalogue, migrations.RunPython.noop)]
