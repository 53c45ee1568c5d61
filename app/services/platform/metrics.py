"""Prometheus metrics: requests, scheduled jobs and the webhook inbox.

This module defines every metric and depends on no domain: the inbox gauges are set by
``app.services.integrations.inbox_metrics`` when /metrics is scraped.

Everything lives in prometheus-client's process-wide default registry. That is the whole
picture because a container runs one process (``loadline serve`` with one uvicorn
worker); several workers in one container would each count alone and a scrape would see
one of them. Labels are bounded: route templates (never raw paths), status classes,
a fixed set of methods and job ids without their team number.
"""

import hmac
import re
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram
from prometheus_client import generate_latest as _generate_latest

from app.config import Settings
from app.errors import Unauthorized

CONTENT_TYPE = CONTENT_TYPE_LATEST
UNMATCHED = "<unmatched>"  # the route label of a request that reached no route
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS = Counter(
    "loadline_http_requests",
    "HTTP requests answered, by method, route template and status class.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "loadline_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by method, route template "
    "and status class.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
JOB_RUNS = Counter("loadline_job_runs", "Scheduled job runs in this process, by job.", ["job"])
JOB_FAILURES = Counter("loadline_job_failures", "Scheduled job runs that raised, by job.", ["job"])
# Set by their reader at scrape time (see above), by the API's /metrics only: the
# worker's own metrics endpoint never reads the inbox, so there they are never set.
INBOX_EVENTS = Gauge(
    "loadline_webhook_inbox_events",
    "Webhook inbox events waiting (pending) or given up (failed), read at scrape time; "
    "NaN when the database did not answer.",
    ["status"],
)
INBOX_LAG = Gauge(
    "loadline_webhook_inbox_oldest_pending_seconds",
    "Age of the oldest pending webhook event (0 when none waits), read at scrape time.",
)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered request. Unknown methods are ``OTHER`` so a client cannot mint
    label values; ``route`` must be a template or ``UNMATCHED``."""
    labels = (method if method in METHODS else "OTHER", route, f"{status // 100}xx")
    REQUESTS.labels(*labels).inc()
    LATENCY.labels(*labels).observe(seconds)


def job_label(job_id: str) -> str:
    """``acwr.advance.42`` -> ``acwr.advance``: one series per kind of job, not per team."""
    return re.sub(r"\.\d+$", "", job_id)


def _on_job_event(event: JobExecutionEvent) -> None:
    job = job_label(str(event.job_id))
    JOB_RUNS.labels(job).inc()
    if event.code == EVENT_JOB_ERROR:
        JOB_FAILURES.labels(job).inc()


def watch_jobs(scheduler: Any) -> None:
    """Count every run and failure of ``scheduler``'s jobs through its event listeners.

    A job counts as failed when it raises out of APScheduler (``EVENT_JOB_ERROR``).
    """
    scheduler.add_listener(_on_job_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)


def check_scraper(settings: Settings, presented: str | None) -> None:
    """Let the scrape through when no metrics token is configured (the endpoint is then
    meant to be reachable only inside the cluster), else only with that token."""
    if not settings.metrics_token:
        return
    if presented is None or not hmac.compare_digest(
        presented.encode(), settings.metrics_token.encode()
    ):
        raise Unauthorized("A valid metrics token is required")


def exposition() -> bytes:
    """The text exposition of every metric. The inbox gauges are set by their reader
    (``app.services.integrations.inbox_metrics.observe``) just before."""
    return _generate_latest(REGISTRY)
