# syntax=docker/dockerfile:1
# Signoff's image: `docker compose up` runs it (compose.yaml); docs/operating.md explains both.
# Stage 1 builds a venv from the hash-pinned lock file; stage 2 copies only that venv into a
# slim image and runs it as an unprivileged user.
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/signoff
COPY requirements.lock ./
RUN /opt/signoff/bin/pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md manifest.yml ./
COPY bot ./bot
COPY handlers ./handlers
COPY policies ./policies
RUN /opt/signoff/bin/pip install --no-deps .

FROM python:${PYTHON_VERSION}-slim
ENV PATH=/opt/signoff/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LOG_FORMAT=json \
    HOST=0.0.0.0 \
    PORT=3000
RUN groupadd --system --gid 10001 signoff \
    && useradd --system --uid 10001 --gid signoff --home-dir /app --create-home signoff
COPY --from=build /opt/signoff /opt/signoff
WORKDIR /app
USER 10001:10001
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '3000') + '/readyz', timeout=4)"]
CMD ["python", "-m", "bot", "serve"]
