"""Any change to the catalogue tables bumps the Redis version so every process reloads;
any change to a team's indexed documents invalidates its document-grounded cached answers."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from billing.models import BillingAccount, Plan, TeamBudget
from gateway.catalogue import bump_catalogue_version
from gateway.models import CatalogModel, Provider, Route, RouteStep, TeamGatewaySettings
from gateway.semantic_cache import on_collection_changed
from knowledge.signals import collection_changed


def _catalogue_changed(sender: Any, **kwargs: Any) -> None:
    transaction.on_commit(bump_catalogue_version)


def connect() -> None:
    # BillingAccount and Plan: a plan sets its teams' default rate limit.
    for model in (
        Provider, CatalogModel, Route, RouteStep, TeamGatewaySettings, TeamBudget,
        BillingAccount, Plan,
    ):  # fmt: skip
        post_save.connect(
            _catalogue_changed, sender=model, dispatch_uid=f"catalogue-save-{model.__name__}"
        )
        post_delete.connect(
            _catalogue_changed, sender=model, dispatch_uid=f"catalogue-del-{model.__name__}"
        )
    m2m_changed.connect(
        _catalogue_changed, sender=CatalogModel.teams.through, dispatch_uid="catalogue-teams"
    )
    # A team's documents changed: its document-grounded cached answers are stale.
    collection_changed.connect(on_collection_changed, dispatch_uid="semantic-cache-invalidate")
