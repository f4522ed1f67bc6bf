# syntax=docker/dockerfile:1.7-labs
# Production image: the ASGI web app (uvicorn), and the same image for the migrate job and,
# later, the Celery worker and beat (they override the command).
#
#   docker build --platform linux/amd64 -t IMAGE:TAG .
#
# Cloud Run runs linux/amd64; building on an ARM laptop needs the --platform flag.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------------------
# build: resolve the locked dependencies into /opt/venv
# ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build

# uv from PyPI, pinned to the version uv.lock records, so every build resolves alike.
ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir "uv==${UV_VERSION}"

# The venv lives outside /app so the runtime stage can copy it alone. Bytecode is compiled
# now rather than on each cold start; uv must use this image's Python, never download one.
ENV UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11

WORKDIR /app
COPY pyproject.toml uv.lock ./
# uv.lock takes PyTorch's CPU build from /opt/wheels (decision 0011); `make image-context`
# copies it from the build machine into wheels/ beside this file.
COPY wheels/ /opt/wheels/

# --frozen: install exactly what uv.lock says and fail if it is out of date with
# pyproject.toml, never re-resolve. --no-dev: no test or lint tools in production.
# ([tool.uv] package = false, so only the dependencies are installed, not the project.)
RUN uv sync --frozen --no-dev

# ---------------------------------------------------------------------------------------
# runtime
# ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PATH="/opt/venv/bin:${PATH}" \
    VIRTUAL_ENV=/opt/venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=config.django.production \
    VAR_DIR=/app/var \
    PORT=8080

# A fixed numeric uid/gid, so platforms that check "runs as non-root" can verify it.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin app

WORKDIR /app
COPY --from=build /opt/venv /opt/venv
# wheels/ served the build stage only.
COPY --exclude=wheels . .

# collectstatic imports the production settings, which insist on a secret key and allowed
# hosts; DATABASE_URL and REDIS_URL are set so that the embedded development servers are
# not started. These values exist for this one RUN step only: they are not in the image's
# environment, and the real ones come from Secret Manager at run time. Nothing connects.
#
# Static files (and the code) stay owned by root and read-only for the app user; only
# var/media, where uploads go until django-storages writes to GCS, is the app's to write.
RUN DJANGO_SECRET_KEY=collectstatic-only-not-a-secret \
    DJANGO_ALLOWED_HOSTS=localhost \
    DATABASE_URL=postgres://collectstatic@localhost:5432/collectstatic \
    REDIS_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --noinput \
 && python -m compileall -q -j 0 /app \
 && mkdir -p /app/var/media \
 && chown app:app /app/var/media

USER 10001:10001

EXPOSE 8080

# uvicorn on Cloud Run's $PORT.
# --proxy-headers --forwarded-allow-ips='*': requests only ever arrive through Cloud Run's
#   front end, which terminates TLS and sets X-Forwarded-Proto/For, so trust it. Django's
#   own client-IP logic counts proxies with TRUSTED_PROXY_COUNT and does not rely on this.
# --lifespan off: Django's ASGI handler does not implement the lifespan protocol.
# --timeout-graceful-shutdown 8: Cloud Run allows 10 s between SIGTERM and SIGKILL.
# --no-access-log: Cloud Run already logs every request.
# Worker processes: one per instance by default; uvicorn reads WEB_CONCURRENCY for more.
CMD ["sh", "-c", "exec uvicorn config.asgi:application --host 0.0.0.0 --port \"${PORT:-8080}\" --proxy-headers --forwarded-allow-ips='*' --lifespan off --timeout-graceful-shutdown 8 --no-server-header --no-access-log"]
