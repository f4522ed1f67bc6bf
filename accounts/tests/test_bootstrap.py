from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from accounts import apikeys
from accounts.models import APIKey, Organization, Team, User


def _bootstrap(**overrides: str) -> dict[str, str]:
    args = {
        "email": "ops@example.test",
        "password": "S3cure-pass-phrase",
        "org": "Ops",
        "team": "Platform",
    }
    args.update(overrides)
    out, err = StringIO(), StringIO()
    call_command("bootstrap", *[f"--{k}={v}" for k, v in args.items()], stdout=out, stderr=err)
    return json.loads(out.getvalue())


@pytest.mark.django_db
def test_bootstrap_creates_what_is_missing_and_prints_a_working_key():
    printed = _bootstrap()
    assert set(printed) == {"api_key"}
    context = apikeys.authenticate_secret(printed["api_key"], ip=None)
    team = Team.objects.get(pk=context.team_id)
    assert (team.name, team.organization.name) == ("Platform", "Ops")
    user = User.objects.get(email="ops@example.test")
    assert user.check_password("S3cure-pass-phrase")
    assert context.user_id == user.pk


@pytest.mark.django_db
def test_bootstrap_is_idempotent_apart_from_the_new_key():
    first = _bootstrap()
    second = _bootstrap(password="a-different-password")
    assert first["api_key"] != second["api_key"]
    assert User.objects.count() == 1
    assert Organization.objects.filter(name="Ops").count() == 1
    assert Team.objects.filter(name="Platform").count() == 1
    assert APIKey.objects.count() == 2
    assert User.objects.get().check_password("S3cure-pass-phrase")  # unchanged
