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

# RAG pipeline (gateway/pipelines/rag.py): passages retrieved per question, and the most
# UTF-8 bytes of one passage handed to the model (longer chunks are cut; the budget
# reservation is made for this size).
GATEWAY_RAG_TOP_K = env.int("GATEWAY_RAG_TOP_K", default=5)
GATEWAY_RAG_MAX_PASSAGE_BYTES = env.int("GATEWAY_RAG_MAX_PASSAGE_BYTES", default=2400)
# Semantic cache (gateway/semantic_cache.py): off unless a team (or this default) turns it
# on, and only where the team's cache TTL is above 0.
GATEWAY_SEMANTIC_CACHE_DEFAULT_ENABLED = env.bool(
    "GATEWAY_SEMANTIC_CACHE_DEFAULT_ENABLED", default=False
)
GATEWAY_SEMANTIC_CACHE_DEFAULT_THRESHOLD = env.float(
    "GATEWAY_SEMANTIC_CACHE_DEFAULT_THRESHOLD", default=0.95
)
# Requests sampled hotter than this are creative on purpose: never answered from memory.
GATEWAY_SEMANTIC_CACHE_MAX_TEMPERATURE = env.float(
    "GATEWAY_SEMANTIC_CACHE_MAX_TEMPERATURE", default=0.5
)
GATEWAY_SEMANTIC_CACHE_MAX_ENTRIES_PER_TEAM = env.int(
    "GATEWAY_SEMANTIC_CACHE_MAX_ENTRIES_PER_TEAM", default=10_000
)
# POST /v1/embeddings input limits.
GATEWAY_EMBEDDINGS_MAX_INPUTS = env.int("GATEWAY_EMBEDDINGS_MAX_INPUTS", default=256)
GATEWAY_EMBEDDINGS_MAX_INPUT_CHARS = env.int("GATEWAY_EMBEDDINGS_MAX_INPUT_CHARS", default=32_000)

# The ledger stream (gateway/ledger.py, decision 0023): the API answers first and settles
# after; rows reach PostgreSQL through a Redis stream, in batches of at most this many,
# waiting this long between batches under load; entries a crashed drainer held are taken
# over by another after this many seconds.
GATEWAY_LEDGER_BATCH_ROWS = env.int("GATEWAY_LEDGER_BATCH_ROWS", default=500)
GATEWAY_LEDGER_LINGER_MS = env.int("GATEWAY_LEDGER_LINGER_MS", default=50)
GATEWAY_LEDGER_RECLAIM_SECONDS = env.float("GATEWAY_LEDGER_RECLAIM_SECONDS", default=30.0)
