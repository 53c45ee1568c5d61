"""Outbound webhooks: owners subscribe, alerts and status changes fill a durable outbox,
and the job delivers signed POSTs with retries and backoff for at most 24 hours."""

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.main import create_app
from app.models import AlertKind, DeliveryStatus, OutboundDelivery, Severity, TeamMembership
from app.services import alerts, outbound
from tests.conftest import Actor, Api, Squad

TARGET = "https://93.184.216.34/hooks/loadline"  # a public address: no DNS needed


async def _create(
    client: httpx.AsyncClient,
    squad: Squad,
    url: str = TARGET,
    events: list[str] | None = None,
) -> httpx.Response:
    return await client.post(
        f"/teams/{squad.team['id']}/outbound-webhooks",
        json={"url": url, "events": events or ["alert.created"]},
        headers=squad.owner.headers,
    )


async def _red_wellness(
    client: httpx.AsyncClient,
    squad: Squad,
    player: Actor | None = None,
    membership: dict[str, Any] | None = None,
) -> httpx.Response:
    """A wellness with an item at 1 (red), by the squad's player unless another is given."""
    body = {"sleep_quality": 1, "mood": 3, "soreness": 3, "stress": 3, "fatigue": 3}
    membership = membership or squad.player_membership
    response = await client.post(
        "/performance/wellness",
        json={"membership_id": membership["id"], **body},
        headers=(player or squad.player).headers,
    )
    assert response.status_code in (200, 201), response.text
    return response


async def _deliveries(
    sessionmaker: async_sessionmaker[AsyncSession], event: str | None = None
) -> list[OutboundDelivery]:
    async with sessionmaker() as session:
        query = select(OutboundDelivery).order_by(OutboundDelivery.id)
        if event is not None:
            query = query.where(OutboundDelivery.event == event)
        return list(await session.scalars(query))


class Receiver:
    """A fake receiver: answers the given statuses in turn (the last one repeats)."""

    def __init__(self, *statuses: int, down: bool = False) -> None:
        self.statuses = list(statuses) or [200]
        self.down = down
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return httpx.Response(status)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self))


async def test_owner_creates_a_webhook_and_sees_the_secret_once(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    response = await _create(client, squad, events=["alert.created", "status.changed"])
    assert response.status_code == 201, response.text
    created = response.json()
    assert set(created) == {"id", "url", "events", "secret"}
    assert created["url"] == TARGET
    assert sorted(created["events"]) == ["alert.created", "status.changed"]
    assert len(created["secret"]) >= 32

    listed = await client.get(
        f"/teams/{squad.team['id']}/outbound-webhooks", headers=squad.owner.headers
    )
    assert listed.status_code == 200
    assert [hook["id"] for hook in listed.json()] == [created["id"]]
    assert "secret" not in listed.json()[0]
    assert created["secret"] not in listed.text

    deleted = await client.delete(
        f"/teams/{squad.team['id']}/outbound-webhooks/{created['id']}",
        headers=squad.owner.headers,
    )
    assert deleted.status_code == 204
    listed = await client.get(
        f"/teams/{squad.team['id']}/outbound-webhooks", headers=squad.owner.headers
    )
    assert listed.json() == []


async def test_only_owners_of_the_team_manage_webhooks(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    path = f"/teams/{squad.team['id']}/outbound-webhooks"
    body = {"url": TARGET, "events": ["alert.created"]}
    coach = await client.post(path, json=body, headers=squad.coach.headers)
    assert coach.status_code == 403
    outsider = await client.post(path, json=body, headers=squad.outsider.headers)
    assert outsider.status_code == 404
    assert (await client.get(path, headers=squad.coach.headers)).status_code == 403
    assert (await client.get(path, headers=squad.outsider.headers)).status_code == 404
    unknown = await client.post(
        path, json={"url": TARGET, "events": ["nope"]}, headers=squad.owner.headers
    )
    assert unknown.status_code == 422


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "ftp://93.184.216.34/hook",
        "not a url",
    ],
)
async def test_private_and_loopback_targets_are_refused(
    client: httpx.AsyncClient, squad: Squad, url: str
) -> None:
    response = await _create(client, squad, url=url)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["loc"] == ["body", "url"]


async def test_allow_private_lets_local_targets_through(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, squad: Squad
) -> None:
    allowed = settings.model_copy(update={"outbound_allow_private": True})
    app = create_app(allowed, sessionmaker)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as local:
        response = await _create(local, squad, url="http://127.0.0.1:9000/hook")
    assert response.status_code == 201, response.text


async def test_an_alert_enqueues_a_signed_delivery(
    client: httpx.AsyncClient,
    squad: Squad,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    secret = (await _create(client, squad)).json()["secret"]
    await _red_wellness(client, squad)
    [queued] = await _deliveries(sessionmaker)
    assert queued.status == DeliveryStatus.PENDING and queued.attempts == 0
    assert queued.event == "alert.created"
    assert queued.payload["kind"] == "WELLNESS_RED"

    receiver = Receiver(200)
    async with receiver.client() as http:
        assert await outbound.deliver_due(sessionmaker, http, settings) == 1
    [request] = receiver.requests
    assert str(request.url) == TARGET
    assert request.method == "POST"
    assert request.headers["X-Loadline-Event"] == "alert.created"
    assert request.headers["content-type"] == "application/json"
    timestamp = request.headers["X-Loadline-Timestamp"]
    assert abs(int(timestamp) - time.time()) < 60
    body = request.content
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert request.headers["X-Loadline-Signature"] == f"sha256={expected}"
    payload = json.loads(body)
    assert set(payload) == {"id", "event", "team_id", "created_at", "data"}
    assert payload["event"] == "alert.created"
    assert payload["team_id"] == squad.team["id"]
    assert datetime.fromisoformat(payload["created_at"]).tzinfo is not None
    data = payload["data"]
    assert data["kind"] == "WELLNESS_RED"
    assert data["membership_id"] == squad.player_membership["id"]
    assert data["evidence"]["rule"] == "wellness_red"

    [done] = await _deliveries(sessionmaker)
    assert done.status == DeliveryStatus.DELIVERED
    assert done.attempts == 1 and done.last_status == 200 and done.delivered_at is not None
    async with receiver.client() as http:  # nothing left to send
        assert await outbound.deliver_due(sessionmaker, http, settings) == 0


async def test_raise_alert_enqueues_only_for_subscribed_webhooks(
    client: httpx.AsyncClient, squad: Squad, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _create(client, squad, events=["alert.created"])
    await _create(client, squad, events=["status.changed"])
    async with sessionmaker.begin() as session:
        membership = await session.get_one(TeamMembership, squad.player_membership["id"])
        alert = await alerts.raise_alert(
            session,
            membership,
            AlertKind.HRV_DROP,
            datetime.now(UTC).date(),
            Severity.AMBER,
            "drop",
            {"rule": "r", "params": {}, "inputs": {}},
        )
        assert alert is not None
    [queued] = await _deliveries(sessionmaker)
    assert queued.event == "alert.created" and queued.payload["id"] == alert.id


async def test_a_failed_delivery_is_retried_with_backoff_until_delivered(
    client: httpx.AsyncClient,
    squad: Squad,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    await _create(client, squad)
    await _red_wellness(client, squad)
    receiver = Receiver(500, 200)
    now = datetime.now(UTC)
    async with receiver.client() as http:
        assert await outbound.deliver_due(sessionmaker, http, settings, now=now) == 1
        [first] = await _deliveries(sessionmaker)
        assert first.status == DeliveryStatus.PENDING
        assert first.attempts == 1 and first.last_status == 500
        assert now < first.next_attempt_at <= now + timedelta(minutes=1)
        # Not yet due: nothing is sent.
        assert await outbound.deliver_due(sessionmaker, http, settings, now=now) == 0
        later = first.next_attempt_at
        assert await outbound.deliver_due(sessionmaker, http, settings, now=later) == 1
    [second] = await _deliveries(sessionmaker)
    assert second.status == DeliveryStatus.DELIVERED
    assert second.attempts == 2 and second.last_status == 200
    assert len(receiver.requests) == 2
    # A retry carries the same event id.
    ids = {json.loads(r.content)["id"] for r in receiver.requests}
    assert ids == {second.id}


def test_backoff_grows_from_30_seconds_to_an_hour() -> None:
    waits = [outbound.backoff(n) for n in range(1, 12)]
    assert waits[0] == timedelta(seconds=30)
    assert waits[1] == timedelta(minutes=1)
    assert waits[2] == timedelta(minutes=2)
    assert waits[3] == timedelta(minutes=4)
    assert waits[-1] == timedelta(hours=1)
    assert waits == sorted(waits)


async def test_a_receiver_down_for_a_day_ends_failed(
    client: httpx.AsyncClient,
    squad: Squad,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    await _create(client, squad)
    await _red_wellness(client, squad)
    [queued] = await _deliveries(sessionmaker)
    receiver = Receiver(down=True)
    moment = datetime.now(UTC)
    async with receiver.client() as http:
        for _ in range(100):
            await outbound.deliver_due(sessionmaker, http, settings, now=moment)
            [row] = await _deliveries(sessionmaker)
            if row.status != DeliveryStatus.PENDING:
                break
            moment = row.next_attempt_at
    assert row.status == DeliveryStatus.FAILED
    assert row.last_error is not None and "ConnectError" in row.last_error
    assert row.last_status is None
    assert moment - queued.created_at <= timedelta(hours=24)
    assert moment - queued.created_at > timedelta(hours=22)
    assert row.attempts == len(receiver.requests)
    assert 20 < row.attempts < 40  # backoff, not hammering
    async with receiver.client() as http:
        later = moment + timedelta(days=2)
        assert await outbound.deliver_due(sessionmaker, http, settings, now=later) == 0


async def test_a_receiver_that_is_down_never_blocks_the_request(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, squad: Squad
) -> None:
    """The app's outgoing HTTP client hangs; the request that raises the alert only
    enqueues, so it answers at once."""

    async def hang(request: httpx.Request) -> httpx.Response:
        raise AssertionError("a request must never call a webhook receiver")

    app = create_app(settings, sessionmaker, vendor_transport=httpx.MockTransport(hang))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as local:
        assert (await _create(local, squad)).status_code == 201
        started = time.monotonic()
        await _red_wellness(local, squad)
        assert time.monotonic() - started < 5
    [queued] = await _deliveries(sessionmaker)
    assert queued.status == DeliveryStatus.PENDING and queued.attempts == 0


async def test_a_status_change_is_sent_once(
    client: httpx.AsyncClient,
    squad: Squad,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await _create(client, squad, events=["status.changed"])
    team_ids = [squad.team["id"]]
    await alerts.raise_due_alerts(sessionmaker, team_ids=team_ids)  # first look: no_data
    assert await _deliveries(sessionmaker) == []
    await _red_wellness(client, squad)
    await alerts.raise_due_alerts(sessionmaker, team_ids=team_ids)
    await alerts.raise_due_alerts(sessionmaker, team_ids=team_ids)  # unchanged: no repeat
    [change] = await _deliveries(sessionmaker)
    assert change.event == "status.changed"
    data: dict[str, Any] = change.payload
    assert data["membership_id"] == squad.player_membership["id"]
    assert data["previous_status"] == "no_data"
    assert data["status"] == "red"


async def test_a_member_who_joins_later_and_turns_red_is_reported_from_no_data(
    api: Api,
    client: httpx.AsyncClient,
    squad: Squad,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Issue 10, item 3: a member's first status counts as a change from ``no_data``; it
    used to be stored silently, so a newcomer red before the next job run was never sent."""
    await _create(client, squad, events=["status.changed"])
    team_ids = [squad.team["id"]]
    await alerts.raise_due_alerts(sessionmaker, team_ids=team_ids)
    newcomer = await api.user("newcomer")
    membership = await api.join(squad.team, squad.coach, newcomer)
    await _red_wellness(client, squad, newcomer, membership)
    await alerts.raise_due_alerts(sessionmaker, team_ids=team_ids)
    await alerts.raise_due_alerts(sessionmaker, team_ids=team_ids)  # unchanged: no repeat
    [change] = await _deliveries(sessionmaker, "status.changed")
    assert change.payload["membership_id"] == membership["id"]
    assert change.payload["user_id"] == newcomer.id
    assert change.payload["previous_status"] == "no_data"
    assert change.payload["status"] == "red"


async def test_members_already_red_when_the_webhook_is_registered_are_reported_once(
    client: httpx.AsyncClient,
    squad: Squad,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The first look after registering counts too: the receiver starts from ``no_data``
    for everyone, so it hears of every member whose status is something else."""
    await _red_wellness(client, squad)
    await _create(client, squad, events=["status.changed"])
    team_ids = [squad.team["id"]]
    await alerts.raise_due_alerts(sessionmaker, team_ids=team_ids)
    await alerts.raise_due_alerts(sessionmaker, team_ids=team_ids)
    [change] = await _deliveries(sessionmaker, "status.changed")
    assert change.payload["membership_id"] == squad.player_membership["id"]
    assert (change.payload["previous_status"], change.payload["status"]) == ("no_data", "red")


async def test_a_stopping_worker_ends_between_deliveries(
    client: httpx.AsyncClient,
    squad: Squad,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    """On shutdown the job is asked before each delivery: what is left stays pending, sent
    by the next worker, never cut off mid-call."""
    assert (await _create(client, squad)).status_code == 201
    assert (await _create(client, squad, url=TARGET + "/second")).status_code == 201
    await _red_wellness(client, squad)
    assert len(await _deliveries(sessionmaker)) == 2

    receiver = Receiver(200)
    async with receiver.client() as http:
        tried = await outbound.deliver_due(
            sessionmaker, http, settings, stop=lambda: len(receiver.requests) >= 1
        )
        assert (tried, len(receiver.requests)) == (1, 1)
        statuses = sorted(d.status for d in await _deliveries(sessionmaker))
        assert statuses == sorted([DeliveryStatus.DELIVERED, DeliveryStatus.PENDING])
        assert await outbound.deliver_due(sessionmaker, http, settings) == 1
    assert len(receiver.requests) == 2
