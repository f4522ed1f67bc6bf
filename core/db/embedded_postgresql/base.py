"""PostgreSQL backend that starts the embedded server on first connection.

Used only when ``DATABASE_URL`` is unset. Starting lazily (rather than at settings import)
means commands that never touch the database, and tools such as mypy's Django plugin,
never start a server.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.backends.postgresql import base as postgresql

from core.embedded import EmbeddedPostgres, ensure_postgres


@functools.cache
def _server(var_dir: str) -> EmbeddedPostgres:
    # Once per process: Django asks for connection parameters on every (pooled) connect,
    # and the check takes a file lock.
    return ensure_postgres(Path(var_dir))


class DatabaseWrapper(postgresql.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        server = _server(str(settings.VAR_DIR))
        self.settings_dict["HOST"] = server.host
        self.settings_dict["PORT"] = str(server.port)
        self.settings_dict["USER"] = server.user
        return super().get_connection_params()
