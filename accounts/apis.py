"""Resource API under /api/: who am I, organizations, teams and team API keys."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.access import Actor, KeyContext, access_api_key, access_organization, access_team
from accounts.authentication import FirebaseAuthentication
from accounts.models import APIKey, Role, Scope, User
from core.errors import Forbidden
from core.http import client_ip


def actor_of(request: Request) -> Actor:
    key = request.auth if isinstance(request.auth, KeyContext) else None
    user = request.user if isinstance(request.user, User) else None
    if key is not None and Scope.READ.value not in key.scopes:
        raise Forbidden("This API key lacks the 'read' scope needed for the resource API.")
    return Actor(user=user, key=key)


class MeApi(APIView):
    class OutputSerializer(serializers.Serializer[Any]):
        class Meta:
            ref_name = "MeOutput"  # nested serializers need unique schema names

        id = serializers.IntegerField(allow_null=True)
        email = serializers.EmailField(allow_null=True)
        full_name = serializers.CharField(allow_blank=True)
        authenticated_by = serializers.ChoiceField(choices=["session", "api_key", "firebase"])
        api_key = serializers.DictField(allow_null=True)

    @extend_schema(responses=OutputSerializer, summary="Who am I")
    def get(self, request: Request) -> Response:
        actor = actor_of(request)
        key_info: dict[str, Any] | None = None
        if actor.key is not None:
            key_info = {
                "id": actor.key.key_id,
                "prefix": actor.key.prefix,
                "team_id": actor.key.team_id,
                "organization_id": actor.key.organization_id,
                "scopes": list(actor.key.scopes),
            }
            method = "api_key"
        elif request.auth is None and isinstance(
            request.successful_authenticator, FirebaseAuthentication
        ):
            method = "firebase"
        else:
            method = "session"
        data = {
            "id": actor.user.pk if actor.user else None,
            "email": actor.user.email if actor.user else None,
            "full_name": actor.user.full_name if actor.user else "",
            "authenticated_by": method,
            "api_key": key_info,
        }
        return Response(self.OutputSerializer(data).data)


class OrganizationListApi(APIView):
    class OutputSerializer(serializers.Serializer[Any]):
        class Meta:
            ref_name = "OrganizationListOutput"  # nested serializers need unique schema names

        id = serializers.IntegerField()
        name = serializers.CharField()
        slug = serializers.CharField()
        is_personal = serializers.BooleanField()
        role = serializers.ChoiceField(choices=Role.choices, allow_null=True)

    class InputSerializer(serializers.Serializer[Any]):
        class Meta:
            ref_name = "OrganizationListInput"  # nested serializers need unique schema names

        name = serializers.CharField(max_length=120)

    @extend_schema(responses=OutputSerializer(many=True), summary="My organizations")
    def get(self, request: Request) -> Response:
        actor = actor_of(request)
        roles = selectors.organization_role_map(actor=actor)
        orgs = selectors.organization_list(actor=actor)
        data = [
            {
                "id": o.pk,
                "name": o.name,
                "slug": o.slug,
                "is_personal": o.is_personal,
                "role": roles.get(o.pk),
            }
            for o in orgs
        ]
        return Response(self.OutputSerializer(data, many=True).data)

    @extend_schema(
        request=InputSerializer, responses={201: OutputSerializer}, summary="Create an organization"
    )
    def post(self, request: Request) -> Response:
        actor = actor_of(request)
        if actor.user is None or actor.key is not None:
            raise Forbidden("Organizations are created by people, not API keys.")
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        org = services.organization_create(owner=actor.user, name=payload.validated_data["name"])
        data = {
            "id": org.pk,
            "name": org.name,
            "slug": org.slug,
            "is_personal": False,
            "role": Role.OWNER,
        }
        return Response(self.OutputSerializer(data).data, status=status.HTTP_201_CREATED)


class TeamOutputSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()
    organization_id = serializers.IntegerField()
    organization_name = serializers.CharField(source="organization.name")
    created_at = serializers.DateTimeField()


class TeamListApi(APIView):
    class InputSerializer(serializers.Serializer[Any]):
        class Meta:
            ref_name = "TeamListInput"  # nested serializers need unique schema names

        name = serializers.CharField(max_length=120)

    @extend_schema(
        responses=TeamOutputSerializer(many=True), summary="Teams of an organization I can see"
    )
    def get(self, request: Request, organization_id: int) -> Response:
        teams = selectors.team_list(actor=actor_of(request), organization_id=organization_id)
        return Response(TeamOutputSerializer(teams, many=True).data)

    @extend_schema(
        request=InputSerializer, responses={201: TeamOutputSerializer}, summary="Create a team"
    )
    def post(self, request: Request, organization_id: int) -> Response:
        actor = actor_of(request)
        org = access_organization(actor, organization_id)
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        team = services.team_create(
            actor=actor, organization=org, name=payload.validated_data["name"]
        )
        return Response(TeamOutputSerializer(team).data, status=status.HTTP_201_CREATED)


class MyTeamListApi(APIView):
    @extend_schema(responses=TeamOutputSerializer(many=True), summary="All teams I can see")
    def get(self, request: Request) -> Response:
        teams = selectors.team_list(actor=actor_of(request))
        return Response(TeamOutputSerializer(teams, many=True).data)


class TeamDetailApi(APIView):
    @extend_schema(responses=TeamOutputSerializer, summary="One team")
    def get(self, request: Request, team_id: int) -> Response:
        team = access_team(actor_of(request), team_id)
        return Response(TeamOutputSerializer(team).data)


class APIKeyOutputSerializer(serializers.ModelSerializer[APIKey]):
    is_active = serializers.BooleanField()
    successor_id = serializers.SerializerMethodField()

    class Meta:
        model = APIKey
        fields = [
            "id", "name", "prefix", "team_id", "user_id", "scopes", "created_at",
            "expires_at", "revoked_at", "last_used_at", "rotated_from_id", "successor_id",
            "is_active",
        ]  # fmt: skip

    def get_successor_id(self, key: APIKey) -> int | None:
        successor = getattr(key, "successor", None)
        return successor.pk if successor is not None else None


class APIKeyCreatedSerializer(APIKeyOutputSerializer):
    secret = serializers.CharField(help_text="The full key. Shown once; store it now.")

    class Meta(APIKeyOutputSerializer.Meta):
        fields = [*APIKeyOutputSerializer.Meta.fields, "secret"]


def _created_response(key: APIKey, secret: str) -> Response:
    data = {**APIKeyOutputSerializer(key).data, "secret": secret}
    return Response(data, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


class APIKeyListApi(APIView):
    class InputSerializer(serializers.Serializer[Any]):
        class Meta:
            ref_name = "APIKeyListInput"  # nested serializers need unique schema names

        name = serializers.CharField(max_length=100)
        scopes = serializers.ListField(
            child=serializers.ChoiceField(choices=Scope.choices), required=False, allow_empty=False
        )
        expires_at = serializers.DateTimeField(required=False, allow_null=True)
        for_me = serializers.BooleanField(
            default=True, help_text="Attribute the key's usage to me (default) or to no one."
        )

    @extend_schema(
        responses=APIKeyOutputSerializer(many=True),
        summary="A team's API keys (never their secrets)",
    )
    def get(self, request: Request, team_id: int) -> Response:
        keys = selectors.api_key_list(actor=actor_of(request), team_id=team_id)
        return Response(APIKeyOutputSerializer(keys, many=True).data)

    @extend_schema(
        request=InputSerializer,
        responses={201: APIKeyCreatedSerializer},
        summary="Create an API key",
    )
    def post(self, request: Request, team_id: int) -> Response:
        actor = actor_of(request)
        team = access_team(actor, team_id, manage=True)
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        key, secret = services.api_key_create(
            actor=actor,
            team=team,
            name=data["name"],
            scopes=data.get("scopes"),
            expires_at=data.get("expires_at"),
            user=actor.user if data["for_me"] and actor.key is None else None,
            ip_address=client_ip(request._request),
        )
        return _created_response(key, secret)


class APIKeyRevokeApi(APIView):
    @extend_schema(
        request=None,
        responses=APIKeyOutputSerializer,
        summary="Revoke a key (takes effect at once)",
    )
    def post(self, request: Request, team_id: int, key_id: int) -> Response:
        actor = actor_of(request)
        key = access_api_key(actor, team_id, key_id, manage=True)
        key = services.api_key_revoke(
            actor=actor, api_key=key, ip_address=client_ip(request._request)
        )
        return Response(APIKeyOutputSerializer(key).data)


class APIKeyRotateApi(APIView):
    class InputSerializer(serializers.Serializer[Any]):
        class Meta:
            ref_name = "APIKeyRotateInput"  # nested serializers need unique schema names

        grace_hours = serializers.IntegerField(
            required=False, min_value=0, max_value=24 * 30,
            help_text="How long the old key keeps working (default from settings).",
        )  # fmt: skip

    @extend_schema(
        request=InputSerializer, responses={201: APIKeyCreatedSerializer}, summary="Rotate a key"
    )
    def post(self, request: Request, team_id: int, key_id: int) -> Response:
        actor = actor_of(request)
        key = access_api_key(actor, team_id, key_id, manage=True)
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        hours = payload.validated_data.get("grace_hours")
        new_key, secret = services.api_key_rotate(
            actor=actor,
            api_key=key,
            grace=timedelta(hours=hours) if hours is not None else None,
            ip_address=client_ip(request._request),
        )
        return _created_response(new_key, secret)
