"""Browser forms for accounts. They only check the shape of input; the services decide."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib.auth import authenticate, password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import DEFAULT_SCOPES, Scope, User, normalize_email_address


class EmailAuthenticationForm(AuthenticationForm):
    """Django's login form, but posting and authenticating with ``email``.

    django-axes reads the attempted username from the credentials under
    AXES_USERNAME_FORM_FIELD, which defaults to the user model's USERNAME_FIELD ("email").
    Django's stock form sends ``username=``, which axes would record as None, so failures
    for every account from one address would share a counter while the per-account
    lock never engaged. The address is also normalised the way it is stored, so
    "Alice@Example.com" finds "alice@example.com" and counts against the same lock.
    """

    email = forms.EmailField(
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )

    def __init__(self, request: HttpRequest | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        del self.fields["username"]
        self.order_fields(["email", "password"])

    def clean_email(self) -> str:
        return normalize_email_address(self.cleaned_data["email"])

    def clean(self) -> dict[str, Any]:
        email = self.cleaned_data.get("email")
        password = self.cleaned_data.get("password")
        if email and password:
            self.user_cache = authenticate(self.request, email=email, password=password)
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class SignupForm(forms.Form):
    email = forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )
    full_name = forms.CharField(
        max_length=150,
        required=False,
        label="Full name (optional)",
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Confirm password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_email(self) -> str:
        return normalize_email_address(self.cleaned_data["email"])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", "The two passwords do not match.")
        elif password2:
            # An unsaved user lets the similarity validator compare against email and name.
            candidate = User(
                email=cleaned.get("email") or "", full_name=cleaned.get("full_name", "")
            )
            try:
                password_validation.validate_password(password2, user=candidate)
            except forms.ValidationError as error:
                self.add_error("password2", error)
        return cleaned


class OrganizationCreateForm(forms.Form):
    name = forms.CharField(max_length=120, label="Organization name")


class TeamCreateForm(forms.Form):
    organization = forms.TypedChoiceField(coerce=int, label="Organization")
    name = forms.CharField(max_length=120, label="Team name")

    def __init__(self, *args: Any, organizations: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only the organizations the user administers are offered; the service re-checks.
        self.fields["organization"].choices = organizations  # type: ignore[attr-defined]


class APIKeyCreateForm(forms.Form):
    name = forms.CharField(max_length=100, label="Key name", help_text="E.g. where it is used.")
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices,
        initial=DEFAULT_SCOPES,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one scope."},
    )
    expires_on = forms.DateField(
        required=False,
        label="Expires on (optional)",
        help_text="The key stops working at 00:00 UTC on this date. Leave empty for no expiry.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    for_me = forms.BooleanField(
        required=False,
        initial=True,
        label="Attribute this key's usage to me",
    )

    def clean_expires_on(self) -> dt.date | None:
        expires_on: dt.date | None = self.cleaned_data.get("expires_on")
        if expires_on is not None and expires_on <= timezone.now().date():
            raise forms.ValidationError("Choose a date after today.")
        return expires_on

    @property
    def expires_at(self) -> dt.datetime | None:
        expires_on: dt.date | None = self.cleaned_data.get("expires_on")
        if expires_on is None:
            return None
        return dt.datetime.combine(expires_on, dt.time.min, tzinfo=dt.UTC)
