# zenflow controller image: `zenflow controller` (the controller and its admission webhook).
# Build: docker build -t zenflow/zenflow:0.1.0 .
# The builder stage turns the source into a wheel and installs it, with its runtime dependencies
# only, into a virtualenv; the final stage gets that virtualenv and nothing else (no build tools,
# no source tree, no caches) and runs as a numeric non-root user.

FROM python:3.12-slim AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY zenflow ./zenflow
RUN python -m venv /opt/zenflow \
    && pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
    && /opt/zenflow/bin/pip install --no-cache-dir /wheels/zenflow-*.whl

FROM python:3.12-slim
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
