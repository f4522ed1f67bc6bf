from pathlib import Path

from config.env import BASE_DIR, env
from core.embedded import redis_url

_var_dir = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

# REDIS_URL set: use that server. Unset: the embedded Redis under var/ (core.apps starts it).
REDIS_URL = env.str("REDIS_URL", default="")
EMBEDDED_REDIS = not REDIS_URL
if EMBEDDED_REDIS:
    REDIS_URL = redis_url(_var_dir)

# reject (default): Redis down means 503, nothing bypasses limits or budgets.
# allow: development only, requests pass through unmetered and it is logged loudly.
REDIS_FAILURE_POLICY = env.str("REDIS_FAILURE_POLICY", default="reject")
if REDIS_FAILURE_POLICY not in {"reject", "allow"}:
    raise ValueError("REDIS_FAILURE_POLICY must be 'reject' or 'allow'")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "djcache",
    }
}

# Connections one process's asyncio Redis client may open (redis-py's default, 100, is
# reached by ~100 requests in flight, and the next one failed with "Too many connections").
REDIS_MAX_CONNECTIONS = env.int("REDIS_MAX_CONNECTIONS", default=2000)
