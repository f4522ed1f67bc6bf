from config.env import env

# DATABASE_URL set: use that server. Unset: the embedded PostgreSQL + pgvector under var/,
# started on first connection by core.db.embedded_postgresql.
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
    EMBEDDED_POSTGRES = False
else:
    DATABASES = {
        "default": {
            "ENGINE": "core.db.embedded_postgresql",
            "NAME": "genai",
            "USER": "postgres",
            "HOST": "",
            "PORT": "",
        }
    }
    EMBEDDED_POSTGRES = True

# A connection pool per process (psycopg_pool, built into Django 5.1+). Async views run
# their ORM calls in per-request threads; without a pool each concurrent request would
# open its own connection and a burst would exhaust the server's max_connections. With it,
# requests borrow from a bounded pool and wait briefly when it is busy.
DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
    "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=1),
    "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=20),
    "timeout": env.float("DATABASE_POOL_TIMEOUT_SECONDS", default=10.0),
}
# See core/asyncdb.py; only tests turn this on.
ASYNC_ORM_IN_CALLER_THREAD = False
DATABASES["default"]["CONN_MAX_AGE"] = 0  # required with a pool: the pool keeps connections
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
