"""Prometheus metrics of the service, in its own registry (two apps in one process never share counters)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, float("inf"))
LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, float("inf"))


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("leakscan_requests", "HTTP requests by route, method and status",
                                ["route", "method", "status"], registry=r)
        self.latency = Histogram("leakscan_request_duration_seconds", "request duration by route", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.decisions = Counter("leakscan_decisions", "decisions answered, by decision and source (scan, cache)",
                                 ["decision", "source"], registry=r)
        self.cache_hits = Counter("leakscan_cache_hits", "answers served from the cache or store", registry=r)
        self.scans_in_flight = Gauge("leakscan_scans_in_flight", "uploads waiting for a batch or being scanned",
                                     registry=r)
        self.queue_depth = Gauge("leakscan_queue_depth", "uploads waiting for a batch (all workers busy)", registry=r)
        self.batch_size = Histogram("leakscan_batch_size", "uploads per batch sent to a worker", buckets=BATCH_BUCKETS,
                                    registry=r)
        self.jobs_in_flight = Gauge("leakscan_jobs_in_flight", "jobs queued or running", registry=r)
        self.webhooks = Counter("leakscan_webhook_attempts", "webhook delivery attempts by outcome", ["outcome"],
                                registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
