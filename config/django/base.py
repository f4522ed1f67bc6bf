"""Base settings: Django itself. Integrations live in ``config/settings/*`` and are imported
at the bottom, one module per integration (HackSoft style)."""

from pathlib import Path

import django_stubs_ext

from config.env import BASE_DIR, env
from core.secrets import local_secret

# Lets admin and queryset classes be subscripted at runtime (ModelAdmin[Team]) for mypy.
django_stubs_ext.monkeypatch()

VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# Development generates a random key into var/ on first use; production must set it.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="") or local_secret(VAR_DIR, "django-secret-key")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "django_celery_beat",
    "channels",
    "core",
    "accounts",
    "billing",
    "djstripe",
    "knowledge",
    "gateway",
    "chat",
]

MIDDLEWARE = [
    "core.middleware.RequestIdMiddleware",
    "core.middleware.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Axes last: it answers locked-out login attempts before any view runs.
    "axes.middleware.AxesMiddleware",
]

# The inference API (/v1, see config/asgi.py) runs with only these.
API_MIDDLEWARE = ["core.middleware.RequestIdMiddleware"]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "accounts.firebase.FirebaseBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:dashboard"
LOGOUT_REDIRECT_URL = "accounts:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
# WhiteNoise serves from STATIC_ROOT (after collectstatic) and, in DEBUG, from the finders;
# it warns at every start-up if the root is missing, so make sure it exists.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "media/"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="GenAI Platform <noreply@localhost>")

from config.settings.auth import *  # noqa: E402,F403
from config.settings.billing import *  # noqa: E402,F403
from config.settings.celery import *  # noqa: E402,F403
from config.settings.channels import *  # noqa: E402,F403
from config.settings.chat import *  # noqa: E402,F403
from config.settings.database import *  # noqa: E402,F403
from config.settings.drf import *  # noqa: E402,F403
from config.settings.encryption import *  # noqa: E402,F403
from config.settings.firebase import *  # noqa: E402,F403
from config.settings.gateway import *  # noqa: E402,F403
from config.settings.knowledge import *  # noqa: E402,F403
from config.settings.logging import *  # noqa: E402,F403
from config.settings.redis import *  # noqa: E402,F403
