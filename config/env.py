"""One place that reads the environment; settings modules import ``env`` from here."""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env is a convenience for development only; production sets real variables.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
