"""Scripting contract: create whatever is missing and print one new API key as JSON.

    python manage.py bootstrap --email E --password P --org O --team T
    -> {"api_key": "sk-..."}

Idempotent apart from the key: re-running finds the user, organization and team and
mints another key. Progress goes to stderr so stdout stays machine-readable.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts import services
from accounts.access import Actor
from accounts.models import (
    Membership,
    Organization,
    Role,
    Team,
    TeamMembership,
    User,
    normalize_email_address,
)
from core.errors import ApplicationError


class Command(BaseCommand):
    help = "Create a user, organization and team if missing, and print a new API key as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--org", required=True, help="organization name")
        parser.add_argument("--team", required=True, help="team name inside the organization")
        parser.add_argument("--key-name", default="bootstrap")
        parser.add_argument(
            "--staff", action="store_true", help="also make the user a superuser (console access)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with transaction.atomic():
                user = self._user(options["email"], options["password"], staff=options["staff"])
                org = self._organization(user, options["org"])
                team = self._team(user, org, options["team"])
                _, secret = services.api_key_create(
                    actor=Actor(user=user), team=team, name=options["key_name"], user=user
                )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(json.dumps({"api_key": secret}))

    def _note(self, message: str) -> None:
        self.stderr.write(message)

    def _user(self, email: str, password: str, *, staff: bool) -> User:
        user = User.objects.filter(email=normalize_email_address(email)).first()
        if user is None:
            user = services.user_signup(email=email, password=password, personal_organization=False)
            self._note(f"created user {user.email}")
        else:
            self._note(f"user {user.email} exists; password left unchanged")
        if staff and not (user.is_staff and user.is_superuser):
            user.is_staff = user.is_superuser = True
            user.save(update_fields=["is_staff", "is_superuser"])
            self._note(f"{user.email} can now sign in to /admin/")
        return user

    def _organization(self, user: User, name: str) -> Organization:
        org = Organization.objects.filter(memberships__user=user, name=name).first()
        if org is None:
            org = services.organization_create(owner=user, name=name)
            self._note(f"created organization {org.name!r}")
        elif not Membership.objects.filter(
            organization=org, user=user, role__in=[Role.OWNER, Role.ADMIN]
        ).exists():
            raise CommandError(f"{user.email} is in {name!r} but is not an owner or admin of it")
        return org

    def _team(self, user: User, org: Organization, name: str) -> Team:
        team = org.teams.filter(name__iexact=name).first()
        if team is None:
            team = services.team_create(actor=Actor(user=user), organization=org, name=name)
            self._note(f"created team {team.name!r}")
        TeamMembership.objects.get_or_create(team=team, user=user)
        return team
