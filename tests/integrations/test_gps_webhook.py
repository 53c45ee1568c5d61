"""The signed GPS webhook and the team's webhook secret, through real HTTP.

Deliveries are signed here with ``hmac`` directly (not with the service's helper), so a
mistake in the service's signing scheme cannot cancel itself out. After a delivery is
acknowledged, the inbox job is run by hand and its effect read back through the API.
"""

import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.models import ExternalLoad, InboxStatus, Team, WebhookEvent
from app.services.integrations import jobs, registry
from app.services.integrations.context import VendorContext, new_http_client
from tests.fixtures.actors import Squad

REF = "CAT-0009"
Process = Callable[[], Awaitable[int]]


def signed(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {
        "X-Loadline-Signature": f"sha256={mac}",
        "X-Loadline-Timestamp": stamp,
        "Content-Type": "application/json",
    }


def days_ago(n: int) -> str:
    return (datetime.now(UTC).date() - timedelta(days=n)).isoformat()


def delivery(*events: dict[str, Any]) -> bytes:
    return json.dumps({"events": list(events)}).encode()


def event(
    event_id: str, player_load: float, day: str, ref: str = REF, **extra: Any
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "athlete_ref": ref,
        "date": day,
        "player_load": player_load,
    } | extra


@pytest.fixture
async def secret(client: httpx.AsyncClient, squad: Squad) -> str:
    """The team's webhook secret; the player's external_ref is REF."""
    response = await client.post(
        f"/teams/{squad.team['id']}/webhook-secret", headers=squad.owner.headers
    )
    assert response.status_code == 201, response.text
    patched = await client.patch(
        f"/teams/{squad.team['id']}/members/{squad.player_membership['id']}",
        json={"external_ref": REF},
        headers=squad.coach.headers,
    )
    assert patched.status_code == 200, patched.text
    value: str = response.json()["secret"]
    return value


@pytest.fixture
async def process(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> AsyncIterator[Process]:
    """Run the inbox job once, as the scheduler would."""
    http = new_http_client()
    ctx = VendorContext(settings, http)

    async def run() -> int:
        # The handler map the scheduler uses (the registry), so the wiring is tested too.
        return await jobs.process_due(sessionmaker, registry.inbox_handlers(ctx))

    yield run
    await http.aclose()


async def post(
    client: httpx.AsyncClient, team_id: int, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    return await client.post(f"/webhooks/gps/{team_id}", content=body, headers=headers)


async def external(
    client: httpx.AsyncClient, squad: Squad, start: str, end: str
) -> dict[str, float]:
    response = await client.get(
        f"/performance/members/{squad.player_membership['id']}/daily-loads",
        params={"from": start, "to": end},
        headers=squad.player.headers,
    )
    assert response.status_code == 200, response.text
    return {d["date"]: d["external_load_pl"] for d in response.json() if d["external_load_pl"]}


async def inbox_rows(sessionmaker: async_sessionmaker[AsyncSession]) -> list[WebhookEvent]:
    async with sessionmaker() as session:
        return list(
            await session.scalars(
                select(WebhookEvent).where(WebhookEvent.provider == "gps").order_by(WebhookEvent.id)
            )
        )


async def test_a_signed_delivery_is_stored_then_becomes_external_load(
    client: httpx.AsyncClient,
    squad: Squad,
    secret: str,
    process: Process,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    body = delivery(
        event("act-1", 412.5, days_ago(2), distance_m=6120.4, hsr_m=410.2, sprints=9),
        event("act-2", 118.25, days_ago(2)),
        event("act-3", 380.0, days_ago(1), max_speed_ms=8.9),  # an unknown field is ignored
    )

    response = await post(client, squad.team["id"], body, signed(secret, body))

    assert response.status_code == 202, response.text
    assert response.json() == {"received": 3}
    [stored] = await inbox_rows(sessionmaker)
    assert (stored.status, stored.team_id, stored.body) == (
        InboxStatus.PENDING,
        squad.team["id"],
        body,
    )
    assert await external(client, squad, days_ago(3), days_ago(0)) == {}

    assert await process() == 1

    assert await external(client, squad, days_ago(3), days_ago(0)) == {
        days_ago(2): 530.75,
        days_ago(1): 380.0,
    }
    [done] = await inbox_rows(sessionmaker)
    assert done.status == InboxStatus.DONE
    acwr = await client.get(
        f"/performance/members/{squad.player_membership['id']}/acwr",
        params={"source": "EXTERNAL", "from": days_ago(3), "to": days_ago(0)},
        headers=squad.coach.headers,
    )
    assert acwr.status_code == 200, acwr.text
    loads = {p["date"]: p["load"] for p in acwr.json()["points"]}
    assert loads == {days_ago(3): 0.0, days_ago(2): 530.75, days_ago(1): 380.0, days_ago(0): 0.0}
    assert acwr.json()["points"][-1]["acute_ewma"] > 0
    internal = await client.get(
        f"/performance/members/{squad.player_membership['id']}/acwr",
        params={"source": "INTERNAL", "from": days_ago(3), "to": days_ago(0)},
        headers=squad.coach.headers,
    )
    assert {p["load"] for p in internal.json()["points"]} == {0.0}


async def test_the_stored_row_keeps_every_figure(
    client: httpx.AsyncClient,
    squad: Squad,
    secret: str,
    process: Process,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    body = delivery(event("act-9", 412.5, days_ago(2), distance_m=6120.4, hsr_m=410.2, sprints=9))
    await post(client, squad.team["id"], body, signed(secret, body))
    await process()

    async with sessionmaker() as session:
        row = await session.scalar(select(ExternalLoad).where(ExternalLoad.event_key == "act-9"))
    assert row is not None
    assert (row.membership_id, row.date, row.source) == (
        squad.player_membership["id"],
        date.fromisoformat(days_ago(2)),
        "WEBHOOK",
    )
    assert (row.player_load, row.distance_m, row.hsr_m, row.sprints) == (412.5, 6120.4, 410.2, 9)


@pytest.mark.parametrize(
    "tamper",
    [
        "bad signature",
        "signed with another secret",
        "body changed after signing",
        "missing signature",
        "missing timestamp",
        "timestamp not a number",
        "stale timestamp (6 min)",
        "future timestamp (6 min)",
    ],
)
async def test_unauthenticated_deliveries_are_401(
    client: httpx.AsyncClient,
    squad: Squad,
    secret: str,
    process: Process,
    sessionmaker: async_sessionmaker[AsyncSession],
    tamper: str,
) -> None:
    body = delivery(event("act-1", 100.0, days_ago(1)))
    now = int(time.time())
    headers = signed(secret, body)
    sent = body
    match tamper:
        case "bad signature":
            headers["X-Loadline-Signature"] = "sha256=" + "0" * 64
        case "signed with another secret":
            headers = signed("not-the-secret", body)
        case "body changed after signing":
            sent = body.replace(b"100.0", b"900.0")
        case "missing signature":
            del headers["X-Loadline-Signature"]
        case "missing timestamp":
            del headers["X-Loadline-Timestamp"]
        case "timestamp not a number":
            headers = signed(secret, body) | {"X-Loadline-Timestamp": "soon"}
        case "stale timestamp (6 min)":
            headers = signed(secret, body, now - 360)
        case "future timestamp (6 min)":
            headers = signed(secret, body, now + 360)

    response = await post(client, squad.team["id"], sent, headers)

    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert await inbox_rows(sessionmaker) == []
    assert await process() == 0


async def test_a_timestamp_within_five_minutes_is_accepted(
    client: httpx.AsyncClient, squad: Squad, secret: str
) -> None:
    body = delivery(event("act-1", 100.0, days_ago(1)))
    headers = signed(secret, body, int(time.time()) - 240)
    headers["X-Loadline-Signature"] = (
        headers["X-Loadline-Signature"].upper().replace("SHA256=", "sha256=")
    )

    assert (await post(client, squad.team["id"], body, headers)).status_code == 202


async def test_unknown_team_and_team_without_secret_look_alike(
    client: httpx.AsyncClient, squad: Squad, secret: str, api: Any
) -> None:
    other = await api.team(squad.outsider)  # has no webhook secret
    body = delivery(event("act-1", 100.0, days_ago(1)))

    unknown = await post(client, 999_999, body, signed(secret, body))
    no_secret = await post(client, other["id"], body, signed(secret, body))
    wrong_team = await post(client, other["id"], body, signed("", body))

    assert unknown.status_code == no_secret.status_code == wrong_team.status_code == 401
    assert unknown.json() == no_secret.json() == wrong_team.json()


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"",
        b"[]",
        b'{"event": []}',
        b'{"events": {}}',
        delivery({"event_id": "a", "athlete_ref": REF, "date": "2026-11-01"}),
        delivery(event("a", -1.0, "2026-11-01")),
        delivery(event("a", "12", "2026-11-01")),  # type: ignore[arg-type]
        delivery(event("a", 12.0, "01/11/2026")),
        delivery(event("a", 12.0, "2026-11-01", sprints=2.5)),
        delivery(event("", 12.0, "2026-11-01")),
        delivery(*[event(f"e{i}", 1.0, "2026-11-01") for i in range(1001)]),
    ],
)
async def test_a_body_that_is_not_a_gps_delivery_is_400(
    client: httpx.AsyncClient,
    squad: Squad,
    secret: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    body: bytes,
) -> None:
    response = await post(client, squad.team["id"], body, signed(secret, body))

    assert response.status_code == 400, response.text
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert (problem["status"], problem["title"]) == (400, "Malformed body")
    assert await inbox_rows(sessionmaker) == []


async def test_an_empty_delivery_is_acknowledged_and_not_stored(
    client: httpx.AsyncClient,
    squad: Squad,
    secret: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    body = delivery()

    response = await post(client, squad.team["id"], body, signed(secret, body))

    assert (response.status_code, response.json()) == (202, {"received": 0})
    assert await inbox_rows(sessionmaker) == []


async def test_a_delivery_over_1_mb_is_413(
    client: httpx.AsyncClient, squad: Squad, secret: str
) -> None:
    body = b'{"events": [], "padding": "' + b"x" * (1024 * 1024) + b'"}'

    response = await post(client, squad.team["id"], body, signed(secret, body))

    assert response.status_code == 413


async def test_duplicate_deliveries_and_event_ids_count_once(
    client: httpx.AsyncClient,
    squad: Squad,
    secret: str,
    process: Process,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    first = delivery(event("act-1", 200.0, days_ago(1)), event("act-2", 50.0, days_ago(1)))
    headers = signed(secret, first)
    assert (await post(client, squad.team["id"], first, headers)).status_code == 202
    assert (await post(client, squad.team["id"], first, headers)).status_code == 202
    assert len(await inbox_rows(sessionmaker)) == 1
    # The bridge resends act-1 (with a changed figure) in a new delivery beside act-3;
    # the same event_id twice in one delivery counts once too.
    second = delivery(
        event("act-1", 999.0, days_ago(1)),
        event("act-3", 25.5, days_ago(1)),
        event("act-3", 25.5, days_ago(1)),
    )
    assert (await post(client, squad.team["id"], second, signed(secret, second))).status_code == 202

    assert await process() == 2
    assert await process() == 0

    assert await external(client, squad, days_ago(2), days_ago(0)) == {days_ago(1): 275.5}
    async with sessionmaker() as session:
        count = await session.scalar(select(func.count()).select_from(ExternalLoad))
    assert count == 3


async def test_unknown_athlete_refs_are_skipped_and_reported(
    client: httpx.AsyncClient,
    squad: Squad,
    secret: str,
    process: Process,
    sessionmaker: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = delivery(
        event("act-1", 300.0, days_ago(1)),
        event("act-2", 150.0, days_ago(1), ref="CAT-4040"),
        event("act-3", 10.0, days_ago(-3)),  # a future day: skipped too
    )
    await post(client, squad.team["id"], body, signed(secret, body))
    caplog.set_level(logging.WARNING, logger="loadline.gps")

    await process()

    assert await external(client, squad, days_ago(2), days_ago(0)) == {days_ago(1): 300.0}
    [done] = await inbox_rows(sessionmaker)
    assert done.status == InboxStatus.DONE
    [record] = [r for r in caplog.records if r.name == "loadline.gps"]
    logged = json.loads(record.getMessage())
    assert logged["event"] == "gps_events_skipped"
    assert logged["team_id"] == squad.team["id"]
    assert logged["skipped"][0] == "event 'act-2': unknown athlete_ref 'CAT-4040'"
    assert "in the future" in logged["skipped"][1]


async def test_an_inactive_members_ref_is_unknown(
    client: httpx.AsyncClient,
    squad: Squad,
    secret: str,
    process: Process,
) -> None:
    deactivated = await client.patch(
        f"/teams/{squad.team['id']}/members/{squad.player_membership['id']}",
        json={"active": False},
        headers=squad.owner.headers,
    )
    assert deactivated.status_code == 200
    body = delivery(event("act-1", 300.0, days_ago(1)))
    await post(client, squad.team["id"], body, signed(secret, body))

    await process()

    response = await client.get(
        f"/performance/members/{squad.player_membership['id']}/daily-loads",
        params={"from": days_ago(2), "to": days_ago(0)},
        headers=squad.coach.headers,
    )
    assert {d["external_load_pl"] for d in response.json()} == {0.0}


async def test_webhook_secret_is_for_owners_only(client: httpx.AsyncClient, squad: Squad) -> None:
    url = f"/teams/{squad.team['id']}/webhook-secret"

    assert (await client.post(url)).status_code == 401
    assert (await client.post(url, headers=squad.player.headers)).status_code == 403
    assert (await client.post(url, headers=squad.coach.headers)).status_code == 403
    assert (await client.post(url, headers=squad.outsider.headers)).status_code == 404
    assert (await client.post(url, headers=squad.admin.headers)).status_code == 201
    response = await client.post(url, headers=squad.owner.headers)
    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    assert len(response.json()["secret"]) >= 32


async def test_a_new_secret_replaces_the_old(
    client: httpx.AsyncClient, squad: Squad, secret: str
) -> None:
    response = await client.post(
        f"/teams/{squad.team['id']}/webhook-secret", headers=squad.owner.headers
    )
    new = response.json()["secret"]
    assert new != secret
    body = delivery(event("act-1", 100.0, days_ago(1)))

    assert (await post(client, squad.team["id"], body, signed(secret, body))).status_code == 401
    assert (await post(client, squad.team["id"], body, signed(new, body))).status_code == 202


async def test_the_secret_is_stored_encrypted_and_shown_nowhere_else(
    client: httpx.AsyncClient,
    squad: Squad,
    secret: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        team = await session.get_one(Team, squad.team["id"])
    assert team.gps_webhook_secret_enc is not None
    assert secret not in team.gps_webhook_secret_enc

    team_id = squad.team["id"]
    for actor in (squad.owner, squad.coach, squad.admin):
        for path in ("/teams", f"/teams/{team_id}", f"/teams/{team_id}/members", "/auth/me"):
            response = await client.get(path, headers=actor.headers)
            assert response.status_code == 200, (path, response.text)
            assert secret not in response.text, path
    patched = await client.patch(
        f"/teams/{team_id}", json={"name": "Harbour RFC 1st XV"}, headers=squad.owner.headers
    )
    assert patched.status_code == 200 and secret not in patched.text
    assert secret not in (await client.get("/openapi.json")).text
