"""Where uploaded documents are kept.

Development and tests: Django's default storage (the file system under ``MEDIA_ROOT``),
or a directory of its own (``KNOWLEDGE_FILE_ROOT``, e.g. a volume shared with workers).
Production: a Google Cloud Storage bucket through django-storages when
``KNOWLEDGE_GCS_BUCKET`` is set, because Cloud Run's disk is neither durable nor shared
with the Celery workers that read the files.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, default_storage


def document_storage() -> Storage:
    if settings.KNOWLEDGE_FILE_ROOT:
        return FileSystemStorage(location=settings.KNOWLEDGE_FILE_ROOT)
    if settings.KNOWLEDGE_GCS_BUCKET:
        from storages.backends.gcloud import GoogleCloudStorage  # type: ignore[import-untyped]

        # Credentials come from the runtime's service account (or
        # GOOGLE_APPLICATION_CREDENTIALS); objects stay private.
        bucket: Storage = GoogleCloudStorage(
            bucket_name=settings.KNOWLEDGE_GCS_BUCKET,
            default_acl=None,
            querystring_auth=True,
            file_overwrite=False,
        )
        return bucket
    return default_storage
