"""Outbound webhooks: owners subscribe, alerts and status changes fill a durable outbox,
and the job delivers signed POSTs with retries and backoff for at most 24 hours."""

import hashlib
import hmac
import json
import ssl
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.main import create_app
from app.models import AlertKind, DeliveryStatus, OutboundDelivery, Severity, TeamMembership
from app.services.alerts import service as alerts
from app.services.coach import jobs as coach_jobs
from app.services.integrations.context import new_http_client
from app.services.outbound import deliveries, subscriptions
from app.services.outbound import jobs as outbound
from tests.fixtures.actors import Actor, Api, Squad

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
        # Issue 10, item 5: not private, not global either, and accepted before.
        "http://100.100.100.200/",  # shared address space (CGNAT), a cloud metadata service
        "http://100.64.0.1/",
        "http://[2002:7f00:1::]/",  # 6to4 form of 127.0.0.1
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 form of 169.254.169.254
        "http://[::ffff:100.64.0.1]/",  # IPv4-mapped form of a shared address
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",  # Teredo
        "http://[fec0::1]/",  # site-local
        "http://239.1.2.3/",  # multicast
        # Found by the review: "global" in Python 3.11's tables, though not globally reachable.
        "http://[::7f00:1]/",  # IPv4-compatible form of 127.0.0.1
        "http://[::ffff:0:7f00:1]/",  # IPv4-translated form of 127.0.0.1
        "http://[64:ff9b:1::a9fe:a9fe]/",  # local-use NAT64 form of 169.254.169.254
        "http://192.0.0.8/",  # IETF protocol assignments
        "http://[3fff::1]/",  # documentation
        "http://[5f00::1]/",  # SRv6 segment identifiers
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


@pytest.mark.parametrize(
    "url",
    [
        TARGET,
        "http://[2606:2800:220:1:248:1893:25c8:1946]/hook",
        "http://[::ffff:93.184.216.34]/hook",  # the IPv4-mapped form of TARGET's address
        "http://[2002:5db8:d822::1]/hook",  # its 6to4 form
        "http://[64:ff9b::5db8:d822]/hook",  # its NAT64 form
    ],
)
async def test_targets_on_global_addresses_are_accepted(
    client: httpx.AsyncClient, squad: Squad, url: str
) -> None:
    """Literal addresses, so no DNS; subscribing never connects to the target."""
    response = await _create(client, squad, url=url)
    assert response.status_code == 201, response.text
    assert response.json()["url"] == url


async def test_allow_private_lets_local_targets_through(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, squad: Squad
) -> None:
    allowed = settings.model_copy(update={"outbound_allow_private": True})
    async with _allowed_client(allowed, sessionmaker) as local:
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
    waits = [deliveries.backoff(n) for n in range(1, 12)]
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
    await coach_jobs.track_status_changes(sessionmaker, team_ids=team_ids)  # first look: no_data
    assert await _deliveries(sessionmaker) == []
    await _red_wellness(client, squad)
    await coach_jobs.track_status_changes(sessionmaker, team_ids=team_ids)
    await coach_jobs.track_status_changes(sessionmaker, team_ids=team_ids)  # unchanged: no repeat
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
    await coach_jobs.track_status_changes(sessionmaker, team_ids=team_ids)
    newcomer = await api.user("newcomer")
    membership = await api.join(squad.team, squad.coach, newcomer)
    await _red_wellness(client, squad, newcomer, membership)
    await coach_jobs.track_status_changes(sessionmaker, team_ids=team_ids)
    await coach_jobs.track_status_changes(sessionmaker, team_ids=team_ids)  # unchanged: no repeat
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
    await coach_jobs.track_status_changes(sessionmaker, team_ids=team_ids)
    await coach_jobs.track_status_changes(sessionmaker, team_ids=team_ids)
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


# --- the address checked is the address connected to (issue 10, item 5) -------------------


async def test_a_name_that_rebinds_never_gets_a_request_at_an_unchecked_address(
    client: httpx.AsyncClient,
    squad: Squad,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS rebinding: the name answers a public address to the checks, then 127.0.0.1. A
    delivery looks the name up once and sends to that checked address (the name goes in
    Host and SNI); before, the request carried the name, for the connection to look it up
    again. Once the name answers 127.0.0.1 at send time, nothing is sent."""
    answers = [["93.184.216.34"], ["93.184.216.34"]]  # the subscription, the first delivery
    lookups: list[str] = []

    async def rebinding(host: str) -> list[str]:
        lookups.append(host)
        return answers.pop(0) if answers else ["127.0.0.1"]

    monkeypatch.setattr(subscriptions, "resolve", rebinding)
    url = "https://hooks.example.com/in"
    assert (await _create(client, squad, url=url)).status_code == 201
    await _red_wellness(client, squad)
    receiver = Receiver(200)
    async with receiver.client() as http:
        assert await outbound.deliver_due(sessionmaker, http, settings) == 1
        [request] = receiver.requests
        assert lookups == ["hooks.example.com"] * 2  # one lookup per check, none after
        assert request.url.host == "93.184.216.34"  # what the transport connects to
        assert str(request.url) == "https://93.184.216.34/in"
        assert request.headers["Host"] == "hooks.example.com"
        assert request.extensions["sni_hostname"] == "hooks.example.com"

        await _red_wellness(client, squad, squad.teammate, squad.teammate_membership)
        assert await outbound.deliver_due(sessionmaker, http, settings) == 1
    assert len(receiver.requests) == 1
    last = (await _deliveries(sessionmaker))[-1]
    assert last.status == DeliveryStatus.PENDING and last.last_status is None
    assert last.last_error is not None and last.last_error.startswith("target refused")


async def test_a_name_with_one_private_address_among_public_ones_is_refused(
    client: httpx.AsyncClient, squad: Squad, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def mixed(host: str) -> list[str]:
        return ["93.184.216.34", "2002:7f00:1::"]

    monkeypatch.setattr(subscriptions, "resolve", mixed)
    response = await _create(client, squad, url="https://hooks.example.com/in")
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body", "url"]


@contextmanager
def _local_receiver(
    address: str, tls: ssl.SSLContext | None = None
) -> Iterator[tuple[int, list[str]]]:
    """A real HTTP(S) server on a loopback ``address``; yields its port and the Host header
    of each request it answered (204)."""
    hosts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keeps connections open unless asked to close

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            hosts.append(self.headers["Host"])
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer((address, 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], hosts
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _only_at_127_0_0_2(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``localhost`` resolves to 127.0.0.2 for the outbound service alone. The system says
    127.0.0.1 (from /etc/hosts, so no DNS query leaves the machine), where nothing
    listens: a receiver on 127.0.0.2 is reached only through the address looked up."""
    lookups: list[str] = []

    async def pinned(host: str) -> list[str]:
        lookups.append(host)
        return ["127.0.0.2"]

    monkeypatch.setattr(subscriptions, "resolve", pinned)
    return lookups


async def test_a_delivery_connects_to_the_address_looked_up_with_the_original_host(
    squad: Squad,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    allowed = settings.model_copy(update={"outbound_allow_private": True})
    lookups = _only_at_127_0_0_2(monkeypatch)
    with _local_receiver("127.0.0.2") as (port, hosts):
        async with _allowed_client(allowed, sessionmaker) as local:
            url = f"http://localhost:{port}/in"
            assert (await _create(local, squad, url=url)).status_code == 201
            await _red_wellness(local, squad)
        async with new_http_client() as http:
            assert await outbound.deliver_due(sessionmaker, http, allowed) == 1
    [delivered] = await _deliveries(sessionmaker)
    assert delivered.status == DeliveryStatus.DELIVERED, delivered.last_error
    assert hosts == [f"localhost:{port}"]
    assert lookups == ["localhost"]  # private targets allowed: looked up at send time only


async def test_https_to_the_address_looked_up_checks_the_certificate_of_the_name(
    squad: Squad,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The receiver's certificate names ``localhost`` only, not 127.0.0.2: the delivery
    succeeds only if SNI and the certificate check use the name from the URL."""
    allowed = settings.model_copy(update={"outbound_allow_private": True})
    server_tls, client_tls = _tls_for("localhost", tmp_path)
    names: list[str | None] = []
    server_tls.sni_callback = lambda _socket, name, _context: names.append(name)
    _only_at_127_0_0_2(monkeypatch)
    with _local_receiver("127.0.0.2", server_tls) as (port, hosts):
        async with _allowed_client(allowed, sessionmaker) as local:
            url = f"https://localhost:{port}/in"
            assert (await _create(local, squad, url=url)).status_code == 201
            await _red_wellness(local, squad)
        async with httpx.AsyncClient(verify=client_tls) as http:
            assert await outbound.deliver_due(sessionmaker, http, allowed) == 1
    [delivered] = await _deliveries(sessionmaker)
    assert delivered.status == DeliveryStatus.DELIVERED, delivered.last_error
    assert hosts == [f"localhost:{port}"]
    assert names == ["localhost"]


async def test_an_https_connection_verified_for_one_name_is_not_reused_for_another(
    squad: Squad,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Two names on one address: connections are pooled by address, so a delivery to
    ``other.test`` must not ride on the connection whose certificate was checked for
    ``localhost``; on a connection of its own the certificate does not match."""
    allowed = settings.model_copy(update={"outbound_allow_private": True})
    server_tls, client_tls = _tls_for("localhost", tmp_path)
    _only_at_127_0_0_2(monkeypatch)
    with _local_receiver("127.0.0.2", server_tls) as (port, hosts):
        async with (
            _allowed_client(allowed, sessionmaker) as local,
            httpx.AsyncClient(verify=client_tls) as http,
        ):
            path = f"/teams/{squad.team['id']}/outbound-webhooks"
            first = await _create(local, squad, url=f"https://localhost:{port}/in")
            await _red_wellness(local, squad)
            assert await outbound.deliver_due(sessionmaker, http, allowed) == 1
            deleted = await local.delete(
                f"{path}/{first.json()['id']}", headers=squad.owner.headers
            )
            assert deleted.status_code == 204
            await _create(local, squad, url=f"https://other.test:{port}/in")
            await _red_wellness(local, squad, squad.teammate, squad.teammate_membership)
            assert await outbound.deliver_due(sessionmaker, http, allowed) == 1
    assert hosts == [f"localhost:{port}"]
    delivered, refused = await _deliveries(sessionmaker)
    assert delivered.status == DeliveryStatus.DELIVERED
    assert refused.status == DeliveryStatus.PENDING
    assert refused.last_error is not None and "CERTIFICATE_VERIFY_FAILED" in refused.last_error


@asynccontextmanager
async def _allowed_client(
    allowed: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app that lets private targets through."""
    transport = httpx.ASGITransport(app=create_app(allowed, sessionmaker))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as local:
        yield local


def _tls_for(name: str, directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a self-signed certificate for the DNS name ``name`` alone,
    and a client context that trusts exactly that certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    (directory / "cert.pem").write_bytes(pem)
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return server, ssl.create_default_context(cadata=pem.decode())
