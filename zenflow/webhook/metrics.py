"""The webhook's Prometheus metrics, with bounded labels.

Labels take values from closed sets only: ``kind`` ∈ {JobFlow, CronJobFlow, unknown},
``operation`` ∈ {CREATE, UPDATE, other, unknown}, ``result`` ∈ {allowed, denied, forbidden,
rejected, error, busy, timeout} (``zenflow.webhook.admission.Result``), ``lane`` ∈ {fast, slow},
``reason`` of a worker restart ∈ {lost, cancelled, memory}, of a refused connection ∈
{connections, header_timeout}.
Names, namespaces and users never become labels. Families are created once per registry
(``webhook_metrics``) so tests can use private registries.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Admission answers are expected in milliseconds; the apiserver gives up at timeoutSeconds.
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)


class WebhookMetrics:
    """The metric families of one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "zenflow_webhook_requests",
            "Admission requests answered, by kind, operation and result",
            ["kind", "operation", "result"],
            registry=registry,
        )
        self.latency = Histogram(
            "zenflow_webhook_request_duration_seconds",
            "Time to answer an admission request, from body read to response written",
            ["kind"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.in_flight = Gauge(
            "zenflow_webhook_requests_in_flight",
            "Admission requests being answered",
            registry=registry,
        )
        self.mutations = Counter(
            "zenflow_webhook_mutations",
            "Mutating admission requests (created-by) answered, by kind, operation and result",
            ["kind", "operation", "result"],
            registry=registry,
        )
        self.open_connections = Gauge(
            "zenflow_webhook_open_connections",
            "TLS connections open to the webhook",
            registry=registry,
        )
        self.connections_refused = Counter(
            "zenflow_webhook_connections_closed_by_guard",
            "Connections closed by the webhook: over the cap, or headers too slow (slowloris)",
            ["reason"],
            registry=registry,
        )
        self.worker_restarts = Counter(
            "zenflow_webhook_worker_restarts",
            "Review worker processes replaced: lost (died or overran), cancelled, memory",
            ["lane", "reason"],
            registry=registry,
        )
        self.cert_expiry = Gauge(
            "zenflow_webhook_certificate_expiry_timestamp_seconds",
            "Unix time at which the serving certificate in use expires",
            registry=registry,
        )


_BY_REGISTRY: dict[int, WebhookMetrics] = {}


def webhook_metrics(registry: CollectorRegistry) -> WebhookMetrics:
    """The families registered in ``registry`` (created on first use)."""
    found = _BY_REGISTRY.get(id(registry))
    if found is None or found.registry is not registry:
        found = WebhookMetrics(registry)
        _BY_REGISTRY[id(registry)] = found
    return found
