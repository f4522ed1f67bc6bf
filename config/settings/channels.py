"""Channels: the Redis channel layer for WebSockets (the chat issue owns this module).

Any process can serve any socket: the chat's consumers and the Celery workers that report
ingestion progress meet in Redis, never in process memory. The layer uses the same Redis
as everything else (REDIS_URL, or the embedded server's unix socket; channels_redis hands
the URL to redis-py's ``from_url``, which understands ``unix:///path.sock?db=N``).
"""

from typing import Any

from config.env import env
from config.settings.redis import REDIS_URL

# Seconds a message waits in a channel before it is dropped (a closed tab's backlog).
CHANNEL_LAYER_EXPIRY_SECONDS = env.int("CHANNEL_LAYER_EXPIRY_SECONDS", default=60)
# Messages a single channel may hold before sends to it fail (a stuck socket).
CHANNEL_LAYER_CAPACITY = env.int("CHANNEL_LAYER_CAPACITY", default=1000)

CHANNEL_LAYERS: dict[str, dict[str, Any]] = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # redis-py's default 5 s read timeout equals the layer's 5 s blocking pop:
            # an idle socket's listener would time out (and its consumer die) at random.
            "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
            "prefix": "asgi",
            "expiry": CHANNEL_LAYER_EXPIRY_SECONDS,
            "capacity": CHANNEL_LAYER_CAPACITY,
        },
    }
}
