"""Webhook receiver benchmark on PostgreSQL: ``python -m bench.webhooks_bench``.

Vendors give up on slow endpoints, so the receiver must verify, store and acknowledge at
once. This posts 1,000 signed Whoop webhooks in a row (distinct events, real HMAC
signatures) to the real app over ``httpx.ASGITransport`` and reports the acknowledgement
latency (p50, p99), then checks that every event is in the inbox. It creates and drops a
database of its own (``loadline_bench_<random>``) on ``LOADLINE_BENCH_PG_URL``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import secrets
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from app.config import Settings
from app.db import create_engine, create_sessionmaker, migrate
from app.main import create_app
from app.models import WebhookEvent
from bench.seed import create_database, drop_database, log

DEFAULT_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
RESULTS = Path(__file__).resolve().parent / "results" / "webhooks.json"
TARGET_P99_MS = 50.0
CLIENT_SECRET = "bench-whoop-client-secret"  # noqa: S105 - a throwaway bench value


def signed(body: bytes) -> dict[str, str]:
    """Whoop's scheme: base64(HMAC-SHA256(secret, timestamp_ms + raw body))."""
    stamp = str(int(time.time() * 1000))
    digest = hmac.new(CLIENT_SECRET.encode(), stamp.encode() + body, hashlib.sha256).digest()
    return {
        "X-WHOOP-Signature": base64.b64encode(digest).decode(),
        "X-WHOOP-Signature-Timestamp": stamp,
        "content-type": "application/json",
    }


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


async def run(count: int, admin_url: str) -> dict[str, Any]:
    name, url = await create_database(admin_url)
    try:
        await migrate(url)
        engine = create_engine(url)
        settings = Settings(
            database_url=url,
            secret_key=secrets.token_urlsafe(32),
            scheduler="off",
            whoop_client_id="bench",
            whoop_client_secret=CLIENT_SECRET,
        )
        app = create_app(settings, create_sessionmaker(engine))
        timings: list[float] = []
        statuses: dict[int, int] = {}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for n in range(count + 20):
                body = json.dumps(
                    {
                        "user_id": 10_000 + n % 50,
                        "id": f"sleep-{n}",
                        "type": "recovery.updated",
                        "trace_id": secrets.token_hex(8),
                    }
                ).encode()
                began = time.perf_counter()
                response = await client.post("/webhooks/whoop", content=body, headers=signed(body))
                elapsed = 1000 * (time.perf_counter() - began)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if n >= 20:  # warm-up excluded
                    timings.append(elapsed)
        async with create_sessionmaker(engine)() as session:
            stored = await session.scalar(select(func.count()).select_from(WebhookEvent))
        await engine.dispose()
    finally:
        await drop_database(admin_url, name)
        log(f"database {name} dropped")
    return {
        "requests": len(timings),
        "statuses": statuses,
        "stored": stored,
        "p50_ms": round(statistics.median(timings), 2),
        "p99_ms": round(percentile(timings, 99), 2),
        "target_p99_ms": TARGET_P99_MS,
        "met": percentile(timings, 99) < TARGET_P99_MS and stored == count + 20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    admin_url = os.environ.get("LOADLINE_BENCH_PG_URL", DEFAULT_ADMIN_URL)
    result = asyncio.run(run(args.count, admin_url))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    verdict = "met" if result["met"] else "MISSED"
    print(
        f"webhook acknowledgement, {result['requests']} signed Whoop events: "
        f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms "
        f"(target p99 < {TARGET_P99_MS:.0f} ms) {verdict}; stored {result['stored']}, "
        f"statuses {result['statuses']}"
    )


if __name__ == "__main__":
    main()
