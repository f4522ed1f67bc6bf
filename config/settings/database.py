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

DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
