from pathlib import Path

from config.env import BASE_DIR, env
from core.secrets import local_fernet_key

# Comma-separated Fernet keys; the first encrypts, all decrypt (rotation: see core/encryption.py).
# Development generates one into var/secrets/ on first use; production must set it.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[]) or [
    local_fernet_key(Path(env.str("VAR_DIR", default=str(BASE_DIR / "var"))))
]
