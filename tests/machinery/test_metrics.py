"""Work-queue metrics (MACHINERY.md #7) under client-go's names with label ``name``: depth, adds,
queue latency (first add → get), work duration (get → done), unfinished work and longest running
processor (computed at scrape time), retries — all on a fake clock and a private registry; watch
events counted by resource and type; ``labelled``, which remembers a family's children."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from zenflow.machinery.clock import FakeClock
from zenflow.machinery.metrics import labelled, machinery_metrics
from zenflow.machinery.ratelimiting import RateLimitingQueue


def _sample(registry: CollectorRegistry, metric: str) -> float | None:
    return registry.get_sample_value(metric, {"name": "q"})


async def test_client_go_workqueue_metrics() -> None:
    registry = CollectorRegistry()
    clock = FakeClock()
    q: RateLimitingQueue[str] = RateLimitingQueue(
        "q", clock=clock, metrics=machinery_metrics(registry).queue("q", clock=clock)
    )
    q.add("a")
    clock.advance(1.0)
    q.add("a")  # dedup: the latency counts from the first add
    q.add("b")
    assert _sample(registry, "workqueue_adds_total") == 2
    assert _sample(registry, "workqueue_depth") == 2
    clock.advance(2.0)
    assert await q.get() == "a"
    assert _sample(registry, "workqueue_depth") == 1
    assert _sample(registry, "workqueue_queue_duration_seconds_sum") == 3.0
    assert _sample(registry, "workqueue_queue_duration_seconds_count") == 1
    clock.advance(4.0)
    assert _sample(registry, "workqueue_unfinished_work_seconds") == 4.0
    assert _sample(registry, "workqueue_longest_running_processor_seconds") == 4.0
    assert await q.get() == "b"
    clock.advance(1.0)
    assert _sample(registry, "workqueue_unfinished_work_seconds") == 6.0
    assert _sample(registry, "workqueue_longest_running_processor_seconds") == 5.0
    q.done("a")
    assert _sample(registry, "workqueue_work_duration_seconds_sum") == 5.0
    assert _sample(registry, "workqueue_longest_running_processor_seconds") == 1.0
    q.add_rate_limited("b")
    assert _sample(registry, "workqueue_retries_total") == 1


def test_families_are_created_once_per_registry() -> None:
    registry = CollectorRegistry()
    assert machinery_metrics(registry) is machinery_metrics(registry)
    assert machinery_metrics(CollectorRegistry()) is not machinery_metrics(registry)


def test_labelled_children_are_the_exported_ones_and_appear_on_first_use() -> None:
    registry = CollectorRegistry()
    requests = machinery_metrics(registry).api_requests
    by_verb = labelled(requests)
    assert registry.get_sample_value("zenflow_api_requests_total", {"verb": "GET"}) is None
    by_verb("GET").inc()
    by_verb("GET").inc()
    requests.labels("GET").inc()  # the family's own lookup reaches the same child
    by_verb("POST").inc()
    assert by_verb("GET") is requests.labels("GET")
    assert registry.get_sample_value("zenflow_api_requests_total", {"verb": "GET"}) == 3
    assert registry.get_sample_value("zenflow_api_requests_total", {"verb": "POST"}) == 1


def test_informer_events_are_counted_by_resource_and_type() -> None:
    registry = CollectorRegistry()
    metrics = machinery_metrics(registry)
    for event_type in ("ADDED", "MODIFIED", "MODIFIED"):
        metrics.informer_event("jobs", event_type)
    metrics.informer_event("pods", "MODIFIED")

    def count(resource: str, event_type: str) -> float | None:
        labels = {"resource": resource, "type": event_type}
        return registry.get_sample_value("zenflow_informer_events_total", labels)

    assert (count("jobs", "ADDED"), count("jobs", "MODIFIED")) == (1, 2)
    assert (count("pods", "MODIFIED"), count("pods", "ADDED")) == (1, None)
