# syntax=docker/dockerfile:1
# One image for every process: the manifests pick the command (`spillway api` under Knative,
# `spillway worker` under KEDA, `spillway sender` beside the workers).
# Build: docker build -t spillway:0.1.0 .
#
# Base images are pinned to exact versions. Pin them by digest too when you build for production
# (`docker buildx imagetools inspect python:3.12.11-slim-bookworm` prints it); this repository
# cannot resolve digests because it is built and tested without network access to registries.
# Build and runtime stages must use the same Python image: the virtualenv's interpreter is a
# symlink to the base image's /usr/local/bin/python3.12.

# uv, copied in as a binary, so the final image carries neither uv nor any build tool.
FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

# ---- build: resolve from uv.lock into /app/.venv, compile bytecode ------------------------------
FROM python:3.12.11-slim-bookworm AS build
COPY --from=uv /uv /usr/local/bin/uv
# Compile .pyc at build time (the runtime filesystem is read-only, and a cold start should not
# pay for compilation); copy instead of hard-linking from the cache mount; never download a
# Python: use the base image's.
# Ref: https://docs.astral.sh/uv/guides/integration/docker/
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=0 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# Dependencies first, from the lock file alone, so code changes reuse this layer.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --locked --no-dev --no-install-project
# Then the project itself, installed as a regular (non-editable) package: the runtime stage
# needs only /app/.venv, not the source tree. README.md is the package's readme (pyproject.toml).
COPY pyproject.toml uv.lock README.md ./
COPY functions ./functions
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-editable

# ---- runtime: the base image, the virtualenv, a fixed non-root user ------------------------------
FROM python:3.12.11-slim-bookworm AS runtime
# Fixed uid/gid above 10000 (the manifests set runAsUser/runAsGroup to the same numbers, and a
# high uid cannot collide with a host account). No home directory, no login shell.
RUN groupadd --system --gid 10001 spillway \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin spillway
# Owned by root and not writable by the app user: code cannot be modified at run time.
COPY --from=build /app/.venv /app/.venv
ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
USER 10001:10001
# 8080: API (Knative injects PORT=8080); 9102: worker /healthz and /metrics; 9103: the sender's.
EXPOSE 8080 9102 9103
# Kubernetes probes (/healthz, /readyz) decide health; a Docker HEALTHCHECK would be ignored
# there and could not serve the API, the worker and the sender from one image.
# checkov:skip=CKV_DOCKER_2:health is probed by Kubernetes (see knative/ and keda/), not Docker
# Exec form: `spillway` is PID 1 and receives SIGTERM itself (a shell would swallow it, and the
# worker's soft shutdown would never start).
ENTRYPOINT ["spillway"]
CMD ["api"]
