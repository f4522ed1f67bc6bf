"""Celery: broker on Redis, worker and beat (the knowledge issue owns this module)."""
