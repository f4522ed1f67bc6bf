"""Any change to the catalogue tables bumps the Redis version so every process reloads."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from billing.models import TeamBudget
from gateway.catalogue import bump_catalogue_version
from gateway.models import CatalogModel, Provider, Route, RouteStep, TeamGatewaySettings


def _catalogue_changed(sender: Any, **kwargs: Any) -> None:
    transaction.on_commit(bump_catalogue_version)


def connect() -> None:
    for model in (Provider, CatalogModel, Route, RouteStep, TeamGatewaySettings, TeamBudget):
        post_save.connect(
            _catalogue_changed, sender=model, dispatch_uid=f"catalogue-save-{model.__name__}"
        )
        post_delete.connect(
            _catalogue_changed, sender=model, dispatch_uid=f"catalogue-del-{model.__name__}"
        )
    m2m_changed.connect(
        _catalogue_changed, sender=CatalogModel.teams.through, dispatch_uid="catalogue-teams"
    )
