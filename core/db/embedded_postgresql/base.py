"""PostgreSQL backend that starts the embedded server on first connection.

Used only when ``DATABASE_URL`` is unset. Starting lazily (rather than at settings import)
means commands that never touch the database, and tools such as mypy's Django plugin,
never start a server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.backends.postgresql import base as postgresql

from core.embedded import ensure_postgres


class DatabaseWrapper(postgresql.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        server = ensure_postgres(Path(settings.VAR_DIR))
        self.settings_dict["HOST"] = server.host
        self.settings_dict["PORT"] = str(server.port)
        self.settings_dict["USER"] = server.user
        return super().get_connection_params()
