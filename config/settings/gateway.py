from config.env import env

# Input limits on /v1 (each refusal names the limit it hit).
GATEWAY_MAX_BODY_BYTES = env.int("GATEWAY_MAX_BODY_BYTES", default=4 * 1024 * 1024)
GATEWAY_MAX_MESSAGES = env.int("GATEWAY_MAX_MESSAGES", default=500)
GATEWAY_MAX_PROMPT_CHARS = env.int("GATEWAY_MAX_PROMPT_CHARS", default=1_000_000)
GATEWAY_MAX_TOKENS_CEILING = env.int("GATEWAY_MAX_TOKENS_CEILING", default=32_768)
GATEWAY_DEFAULT_MAX_TOKENS = env.int("GATEWAY_DEFAULT_MAX_TOKENS", default=1024)
# The model (or route) /v1/generate uses when the request names none.
GATEWAY_DEFAULT_MODEL = env.str("GATEWAY_DEFAULT_MODEL", default="chat-default")
# Django refuses bodies over this before our own check can answer 413; keep it above.
DATA_UPLOAD_MAX_MEMORY_SIZE = GATEWAY_MAX_BODY_BYTES + 1024

# Failover: retries per model on retryable errors, with exponential backoff and full jitter.
GATEWAY_RETRIES = env.int("GATEWAY_RETRIES", default=1)
GATEWAY_BACKOFF_BASE_MS = env.int("GATEWAY_BACKOFF_BASE_MS", default=100)
GATEWAY_BACKOFF_MAX_MS = env.int("GATEWAY_BACKOFF_MAX_MS", default=2000)

# Circuit breakers, per provider deployment, shared through Redis.
BREAKER_FAILURE_THRESHOLD = env.int("BREAKER_FAILURE_THRESHOLD", default=5)
BREAKER_COOLDOWN_SECONDS = env.float("BREAKER_COOLDOWN_SECONDS", default=30.0)

# Providers, models and routes declared in a YAML file, applied at start-up.
GATEWAY_CONFIG = env.str("GATEWAY_CONFIG", default="")

# The local extractive model answers instantly; a small pause per token makes it stream
# visibly in a browser. 0 = as fast as possible.
LOCAL_MODEL_TOKEN_DELAY_MS = env.int("LOCAL_MODEL_TOKEN_DELAY_MS", default=0)

# Management commands `make run` (manage.py serve) runs after migrating, before serving.
# Production runs the same ones in its migrate job.
STARTUP_COMMANDS = ["gateway_apply_config"]

# Team limits when a team has none of its own (0 = unlimited). Keys may override per key.
GATEWAY_DEFAULT_TEAM_RPM = env.int("GATEWAY_DEFAULT_TEAM_RPM", default=600)
GATEWAY_DEFAULT_TEAM_TPM = env.int("GATEWAY_DEFAULT_TEAM_TPM", default=2_000_000)
# Exact-match response cache TTL when a team sets none (0 = off).
GATEWAY_DEFAULT_CACHE_TTL_SECONDS = env.int("GATEWAY_DEFAULT_CACHE_TTL_SECONDS", default=0)
