"""Tests: the same real servers as development, with a Redis database of their own."""

import os

from config.django.base import *  # noqa: F403
from config.django.base import REDIS_URL
from config.settings.celery import celery_broker_url

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed; never in prod
# Organizations without a billing account are unmetered in tests (production puts them on
# Free); billing tests give their organizations an account (decision 0020).
BILLING_DEFAULT_PLAN = ""
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Keep async code's ORM calls on the test's connection, inside its transaction. Server
# processes started by tests (DATABASE_URL set by the fixture) run the production way.
ASYNC_ORM_IN_CALLER_THREAD = os.environ.get("GENAI_TEST_SERVER_PROCESS") != "1"

# Each pytest-xdist worker gets its own Redis logical database, so workers can flush
# theirs between tests without touching each other's (or the dev server's db 0).
# TEST_SLOT (0-6, two xdist workers each) lets separate pytest runs share one machine
# without sharing state: Redis has 16 databases and db 0 belongs to the dev server.
_slot = int(os.environ.get("TEST_SLOT", "0"))
_worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
if not (0 <= _slot <= 6 and _worker <= 1):
    raise ValueError("TEST_SLOT must be 0-6, with at most two xdist workers (-n 2)")
_redis_db = 1 + _slot * 2 + _worker
if _slot:
    DATABASES["default"]["TEST"] = {"NAME": f"test_genai_slot{_slot}"}  # noqa: F405
REDIS_URL = f"{REDIS_URL}{'&' if '?' in REDIS_URL else '?'}db={_redis_db}"
# WebSocket groups live in the same per-worker Redis database.
CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"] = REDIS_URL  # noqa: F405
# Celery's broker is this worker's Redis database too. Tasks run inline (eagerly) in tests
# unless a test starts real worker processes (knowledge/tests/test_worker.py does).
CELERY_BROKER_URL = celery_broker_url(REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = os.environ.get("GENAI_CELERY_EAGER", "1") == "1"
CELERY_TASK_EAGER_PROPAGATES = True
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "djcache",
    }
}
