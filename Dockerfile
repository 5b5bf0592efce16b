# zenflow controller image: `zenflow controller` (the controller and its admission webhook).
# Build: docker build -t zenflow/zenflow:0.1.0 .
# The builder stage installs the runtime dependencies from requirements/runtime.lock (exact
# versions, every file checked against its sha256: pip --require-hashes), builds zenflow's wheel
# with the build backend from requirements/build.lock (no build isolation, so no unpinned
# download), and installs it without dependencies into a virtualenv; the final stage gets that
# virtualenv and nothing else (no build tools, no source tree, no caches) and runs as a numeric
# non-root user.
#
# Base image: the official python:3.13-slim, pinned by the digest of its multi-platform index as
# recorded by two independent public sources (a Dependabot-maintained Dockerfile and a build log
# of 2026-09-28, Python 3.13.15); it was not pulled here (no container engine in this project's
# workspace). To move to a newer patch release, bump tag and digest together:
#   docker buildx imagetools inspect python:3.13-slim --format '{{json .Manifest.Digest}}'
# The locks are regenerated with the command at the top of each (uv pip compile ...).

FROM python:3.13-slim@sha256:7c61056e61ac89e852de05f3dc6fa51a6dd2181797bceed46aa725dd7cb2cd3b AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY requirements/runtime.lock requirements/build.lock ./requirements/
RUN python -m venv /opt/zenflow \
    && /opt/zenflow/bin/pip install --no-cache-dir --require-hashes --only-binary=:all: \
        -r requirements/runtime.lock \
    && python -m venv /opt/build \
    && /opt/build/bin/pip install --no-cache-dir --require-hashes --only-binary=:all: \
        -r requirements/build.lock
COPY pyproject.toml README.md ./
COPY zenflow ./zenflow
RUN /opt/build/bin/pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /wheels . \
    && /opt/zenflow/bin/pip install --no-cache-dir --no-deps /wheels/zenflow-*.whl

FROM python:3.13-slim@sha256:7c61056e61ac89e852de05f3dc6fa51a6dd2181797bceed46aa725dd7cb2cd3b
LABEL org.opencontainers.image.title="zenflow" \
      org.opencontainers.image.description="Kubernetes-native orchestrator for DAGs of Jobs" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/zenflow/bin:$PATH
COPY --from=builder /opt/zenflow /opt/zenflow
# 65532 is the conventional "nonroot" UID; the Deployment's securityContext uses the same.
USER 65532:65532
WORKDIR /tmp
EXPOSE 9443 8081
ENTRYPOINT ["zenflow", "controller"]
