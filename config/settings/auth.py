from datetime import timedelta

from config.env import env

# Browser logins (django-axes): lock an account+IP pair after repeated failures.
AXES_FAILURE_LIMIT = env.int("LOGIN_LOCKOUT_FAILURES", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "accounts.lockout.axes_username"
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_IPWARE_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]

# How many reverse proxies (load balancer, Cloud Run front end) sit in front of us; the
# client IP is read that many hops from the right of X-Forwarded-For.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# API keys.
API_KEY_PREFIX = "sk-"
API_KEY_CACHE_SECONDS = env.int("API_KEY_CACHE_SECONDS", default=15 * 60)
API_KEY_ROTATION_GRACE_HOURS = env.int("API_KEY_ROTATION_GRACE_HOURS", default=24)
API_KEY_LOCKOUT_FAILURES = env.int("API_KEY_LOCKOUT_FAILURES", default=20)
API_KEY_LOCKOUT_SECONDS = env.int("API_KEY_LOCKOUT_SECONDS", default=15 * 60)
# last_used_at is written at most this often per key, off the request's critical path.
API_KEY_LAST_USED_RESOLUTION_SECONDS = env.int("API_KEY_LAST_USED_RESOLUTION_SECONDS", default=60)
