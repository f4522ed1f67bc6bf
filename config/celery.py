"""The Celery app: ``celery -A config worker`` / ``celery -A config beat``.

Configuration comes from Django settings (``CELERY_*``, config/settings/celery.py);
tasks are found in each app's ``tasks.py``.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.django.base")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
