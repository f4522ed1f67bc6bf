import logging
from pathlib import Path

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger(__name__)


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Platform core"

    def ready(self) -> None:
        if settings.EMBEDDED_REDIS:
            from core.embedded import ensure_redis

            ensure_redis(Path(settings.VAR_DIR))
