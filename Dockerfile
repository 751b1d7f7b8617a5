# syntax=docker/dockerfile:1
# One image for all four kitflow services; the command picks the service:
#   docker run kitflow:local python -m kitflow_stock    (or kitflow_needs / kitflow_distribution /
#   kitflow_gateway; `python -m kitflow_shared.topics create` creates the Kafka topics)
# Built from the lock file only (`uv sync --frozen --no-dev`): what runs is what CI tested.
#
#   docker build -t kitflow:local .

ARG PYTHON_IMAGE=python:3.11-slim
# Keep in step with UV_VERSION in the Makefile.
ARG UV_VERSION=0.13.9

FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv

# --- build: resolve nothing, install exactly uv.lock into a self-contained virtualenv ----------
FROM ${PYTHON_IMAGE} AS builder

COPY --from=uv /uv /uvx /bin/

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=python3.11 \
    UV_PROJECT_ENVIRONMENT=/opt/kitflow/venv

WORKDIR /src

# 1. Third-party dependencies only: this layer is rebuilt only when the lock or a pyproject changes.
#    Every workspace member's pyproject.toml must be here (the contract test checks the list).
COPY pyproject.toml uv.lock README.md ./
COPY shared/pyproject.toml shared/pyproject.toml
COPY services/stock/pyproject.toml services/stock/pyproject.toml
COPY services/needs/pyproject.toml services/needs/pyproject.toml
COPY services/distribution/pyproject.toml services/distribution/pyproject.toml
COPY services/gateway/pyproject.toml services/gateway/pyproject.toml
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace

# 2. kitflow's own packages, installed as wheels (not editable): the runtime needs no source tree.
COPY shared/ shared/
COPY services/ services/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable

# --- runtime: the virtualenv on a clean slim Python, no uv, no build tools, no source ----------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="kitflow" \
      org.opencontainers.image.description="kitflow services: stock, needs, distribution, gateway" \
      org.opencontainers.image.licenses="Apache-2.0"

# A fixed numeric uid/gid so that Kubernetes can verify runAsNonRoot (deploy/k8s uses 10001).
RUN groupadd --system --gid 10001 kitflow \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin kitflow

# Owned by root and read-only for the service user: the code cannot be changed at run time.
COPY --from=builder /opt/kitflow/venv /opt/kitflow/venv

# KITFLOW_ENV=production: refuse the built-in development secret unless someone deliberately
# says development. *_HOST=0.0.0.0: listen on every interface (the code's default is 127.0.0.1).
ENV PATH=/opt/kitflow/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    KITFLOW_ENV=production \
    KITFLOW_GATEWAY_HOST=0.0.0.0 \
    KITFLOW_STOCK_HOST=0.0.0.0 \
    KITFLOW_NEEDS_HOST=0.0.0.0 \
    KITFLOW_DISTRIBUTION_HOST=0.0.0.0

WORKDIR /app
USER 10001:10001

# gateway, stock, needs, distribution
EXPOSE 8000 8001 8002 8003

CMD ["python", "-m", "kitflow_gateway"]
