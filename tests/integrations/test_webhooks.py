"""Whoop and Oura webhooks: signatures, the inbox, the job that fetches and stores HRV.

The end-to-end tests read HRV through ``GET /performance/members/{m}/hrv``; the others
read ``daily_hrv`` directly, which also shows the source (WHOOP, OURA).
"""

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.models import InboxStatus
from app.services.integrations import inbox, jobs, oura
from app.services.integrations.context import VendorContext
from app.services.platform import crypto
from tests.fixtures import fake_vendor as fv
from tests.fixtures.actors import Api, Squad


@pytest.fixture
async def linked(
    api: Api, client: httpx.AsyncClient, fake: fv.FakeVendors, squad: Squad
) -> dict[str, Any]:
    """A player of a team in Auckland (UTC+13 in March) with Whoop and Oura linked."""
    team = await api.team(squad.owner, timezone="Pacific/Auckland")
    membership = await api.join(team, squad.owner, squad.player)
    for provider in ("whoop", "oura"):
        response = await fv.connect(client, fake, provider, squad.player, membership["id"])
        assert response.status_code == 200, response.text
    return membership


async def post(
    client: httpx.AsyncClient, provider: str, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    return await client.post(f"/webhooks/{provider}", content=body, headers=headers)


# --- delivery and processing -------------------------------------------------------------------


async def test_whoop_recovery_becomes_hrv_on_the_local_wake_day(
    client: httpx.AsyncClient,
    fake: fv.FakeVendors,
    squad: Squad,
    linked: dict[str, Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    ctx: VendorContext,
) -> None:
    # Woke 08:30 on 10 March in Auckland, which is still 9 March in UTC.
    fake.whoop.add_night(
        "ecfc6a15-4661-442f-a9a4-f160dd7afae8", end="2026-03-09T19:30:00.000Z", rmssd=31.8
    )
    body = fv.whoop_body("ecfc6a15-4661-442f-a9a4-f160dd7afae8")
    api_calls_before = len(fake.whoop.requests)

    started = time.perf_counter()
    response = await post(client, "whoop", body, fv.whoop_headers(body))
    elapsed = time.perf_counter() - started

    assert (response.status_code, response.json()) == (202, {"status": "queued"})
    assert elapsed < 1.0
    assert len(fake.whoop.requests) == api_calls_before  # nothing fetched before the answer
    [event] = await fv.events(sessionmaker)
    assert (event.provider, event.status, event.body) == ("whoop", InboxStatus.PENDING, body)

    assert await fv.run_inbox(sessionmaker, ctx) == 1

    assert await fv.hrv_rows(sessionmaker, linked["id"]) == [("2026-03-10", 31.8, "WHOOP")]
    seen = await fv.hrv_via_api(client, squad.owner, linked["id"], "2026-03-01", "2026-03-31")
    assert seen == {"2026-03-10": 31.8}
    [event] = await fv.events(sessionmaker)
    assert event.status == InboxStatus.DONE
    assert fake.whoop.calls("/v2/activity/sleep/") == 1
    assert fake.whoop.calls("/v2/cycle/93845/recovery") == 1


async def test_oura_sleep_becomes_hrv_on_the_record_day(
    client: httpx.AsyncClient,
    fake: fv.FakeVendors,
    squad: Squad,
    linked: dict[str, Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    ctx: VendorContext,
) -> None:
    fake.oura.add_sleep("sleep-doc-1", day="2026-03-11", average_hrv=48)
    body = fv.oura_body("sleep-doc-1")

    response = await post(client, "oura", body, fv.oura_headers(body))

    assert (response.status_code, response.json()) == (202, {"status": "queued"})
    await fv.run_inbox(sessionmaker, ctx)
    assert await fv.hrv_rows(sessionmaker, linked["id"]) == [("2026-03-11", 48.0, "OURA")]
    seen = await fv.hrv_via_api(client, squad.player, linked["id"], "2026-03-01", "2026-03-31")
    assert seen == {"2026-03-11": 48.0}


async def test_oura_naps_and_other_data_types_store_nothing(
    client: httpx.AsyncClient,
    fake: fv.FakeVendors,
    linked: dict[str, Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    ctx: VendorContext,
) -> None:
    fake.oura.add_sleep("nap-1", day="2026-03-11", average_hrv=60, kind="late_nap")
    for body in (fv.oura_body("nap-1"), fv.oura_body("x", data_type="daily_activity")):
        assert (await post(client, "oura", body, fv.oura_headers(body))).status_code == 202
    await fv.run_inbox(sessionmaker, ctx)
    assert await fv.hrv_rows(sessionmaker, linked["id"]) == []
    assert {e.status for e in await fv.events(sessionmaker)} == {InboxStatus.DONE}
    assert fake.oura.calls("/v2/usercollection/sleep/x") == 0


@pytest.mark.parametrize("state", ["PENDING_SCORE", "UNSCORABLE"])
async def test_whoop_unscored_recovery_stores_nothing(
    client: httpx.AsyncClient,
    fake: fv.FakeVendors,
    linked: dict[str, Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    ctx: VendorContext,
    state: str,
) -> None:
    fake.whoop.add_night("s-1", end="2026-03-09T19:30:00.000Z", rmssd=40, score_state=state)
    body = fv.whoop_body("s-1")
    await post(client, "whoop", body, fv.whoop_headers(body))

    await fv.run_inbox(sessionmaker, ctx)

    assert await fv.hrv_rows(sessionmaker, linked["id"]) == []
    [event] = await fv.events(sessionmaker)
    assert event.status == InboxStatus.DONE


async def test_whoop_other_event_types_are_acknowledged_and_ignored(
    client: httpx.AsyncClient,
    fake: fv.FakeVendors,
    linked: dict[str, Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    ctx: VendorContext,
) -> None:
    body = fv.whoop_body("w-1", kind="workout.updated")
    assert (await post(client, "whoop", body, fv.whoop_headers(body))).status_code == 202
    await fv.run_inbox(sessionmaker, ctx)
    assert fake.whoop.calls("/v2/") == 1  # the profile read while linking, nothing since
    [event] = await fv.events(sessionmaker)
    assert event.status == InboxStatus.DONE


async def test_an_unknown_vendor_account_is_done_without_calls(
    client: httpx.AsyncClient,
    fake: fv.FakeVendors,
    sessionmaker: async_sessionmaker[AsyncSession],
    ctx: VendorContext,
) -> None:
    body = fv.whoop_body("s-unknown")
    assert (await post(client, "whoop", body, fv.whoop_headers(body))).status_code == 202
    await fv.run_inbox(sessionmaker, ctx)
    [event] = await fv.events(sessionmaker)
    assert event.status == InboxStatus.DONE
    assert fake.whoop.requests == []


async def test_a_stopping_worker_ends_between_events(
    client: httpx.AsyncClient,
    fake: fv.FakeVendors,
    sessionmaker: async_sessionmaker[AsyncSession],
    ctx: VendorContext,
) -> None:
    """On shutdown the inbox job is asked before each event: the rest stays pending."""
    for record in ("s-stop-1", "s-stop-2"):
        body = fv.whoop_body(record)
        assert (await post(client, "whoop", body, fv.whoop_headers(body))).status_code == 202
    done: list[int] = []

    def stop() -> bool:
        done.append(1)
        return len(done) > 1  # let the first event through, then stop

    assert await jobs.process_due(sessionmaker, fv.handlers(ctx), stop=stop) == 1
    statuses = sorted(e.status for e in await fv.events(sessionmaker))
    assert statuses == sorted([InboxStatus.DONE, InboxStatus.PENDING])
    assert await fv.run_inbox(sessionmaker, ctx) == 1


async def test_duplicate_delivery_is_processed_once(
    client: httpx.AsyncClient,
    fake: fv.FakeVendors,
    linked: dict[str, Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    ctx: VendorContext,
) -> None:
    fake.whoop.add_night("s-dup", end="2026-03-09T19:30:00.000Z", rmssd=55)
    fake.oura.add_sleep("o-dup", day="2026-03-12", average_hrv=47)
    whoop_body, oura_body = fv.whoop_body("s-dup"), fv.oura_body("o-dup")

    answers = []
    for _ in range(2):  # redelivered with fresh signatures, as the vendors retry
        answers.append(
            (await post(client, "whoop", whoop_body, fv.whoop_headers(whoop_body))).json()
        )
        answers.append((await post(client, "oura", oura_body, fv.oura_headers(oura_body))).json())
        await fv.run_inbox(sessionmaker, ctx)

    assert [a["status"] for a in answers] == ["queued", "queued", "duplicate", "duplicate"]
    assert len(await fv.events(sessionmaker)) == 2
    assert fake.whoop.calls("/v2/activity/sleep/s-dup") == 1
    assert fake.oura.calls("/v2/usercollection/sleep/o-dup") == 1
    assert await fv.hrv_rows(sessionmaker, linked["id"]) == [
        ("2026-03-10", 55.0, "WHOOP"),
        ("2026-03-12", 47.0, "OURA"),
    ]


async def test_oura_events_of_one_record_at_different_times_are_distinct(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    first = fv.oura_body("o-1", event_type="create")
    update = fv.oura_body("o-1", event_type="update")
    for body in (first, update):
        assert (await post(client, "oura", body, fv.oura_headers(body))).json()[
            "status"
        ] == "queued"
    assert len(await fv.events(sessionmaker)) == 2


async def test_oura_redelivery_without_event_time_is_queued_once(
    client: httpx.AsyncClient,
    fake: fv.FakeVendors,
    linked: dict[str, Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    ctx: VendorContext,
) -> None:
    """The contract's Oura body has no ``event_time``: a redelivery, signed anew a minute
    later, is still the same event; another record's notification is another one."""
    fake.oura.add_sleep("o-again", day="2026-03-14", average_hrv=49)
    fake.oura.add_sleep("o-other", day="2026-03-15", average_hrv=52)
    body = fv.oura_body("o-again", event_time=None)
    other = fv.oura_body("o-other", event_time=None)
    now = datetime.now(UTC)
    deliveries = [
        (body, now - timedelta(seconds=90)),
        (body, now),  # Oura retries: fresh timestamp and signature, same bytes
        (other, now),
    ]

    answers = []
    for content, at in deliveries:
        response = await post(client, "oura", content, fv.oura_headers(content, at=at))
        answers.append(response.json()["status"])
    await fv.run_inbox(sessionmaker, ctx)

    assert answers == ["queued", "duplicate", "queued"]
    assert len(await fv.events(sessionmaker)) == 2
    assert fake.oura.calls("/v2/usercollection/sleep/o-again") == 1
    assert await fv.hrv_rows(sessionmaker, linked["id"]) == [
        ("2026-03-14", 49.0, "OURA"),
        ("2026-03-15", 52.0, "OURA"),
    ]


async def test_oura_keys_of_long_ids_fit_the_inbox(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Ids and types as long as the body allows still make one inbox row each (no 5xx)."""
    bodies = [
        json.dumps(
            {
                "event_type": "u" * 64,
                "data_type": "d" * 64,
                "object_id": f"{n}" * 100,
                "user_id": "x" * 100,
                "event_time": "t" * 64,
            }
        ).encode()
        for n in (1, 2)
    ]
    for body in (*bodies, bodies[0]):
        response = await post(client, "oura", body, fv.oura_headers(body))
        assert response.status_code == 202, response.text
    assert len(await fv.events(sessionmaker)) == 2


# --- vendor failures ---------------------------------------------------------------------------


async def test_vendor_429_is_retried_after_retry_after(
    client: httpx.AsyncClient,
    fake: fv.FakeVendors,
    linked: dict[str, Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    ctx: VendorContext,
) -> None:
    fake.whoop.add_night("s-429", end="2026-03-09T19:30:00.000Z", rmssd=42)
    fake.whoop.fail("/v2/cycle/", 429, headers={"Retry-After": "120"})
    body = fv.whoop_body("s-429")
    await post(client, "whoop", body, fv.whoop_headers(body))

    await fv.run_inbox(sessionmaker, ctx)

    [event] = await fv.events(sessionmaker)
    assert (event.status, event.attempts) == (InboxStatus.PENDING, 1)
    assert "429" in (event.last_error or "")
    wait = event.next_attempt_at - datetime.now(UTC)
    assert timedelta(seconds=110) < wait <= timedelta(seconds=120)
    assert await fv.run_inbox(sessionmaker, ctx) == 0  # not due yet
    assert await fv.hrv_rows(sessionmaker, linked["id"]) == []

    await fv.make_due(sessionmaker)
    await fv.run_inbox(sessionmaker, ctx)

    [event] = await fv.events(sessionmaker)
    assert (event.status, event.attempts, event.last_error) == (InboxStatus.DONE, 2, None)
    assert await fv.hrv_rows(sessionmaker, linked["id"]) == [("2026-03-10", 42.0, "WHOOP")]


async def test_vendor_down_past_all_retries_ends_failed_and_kept(
    client: httpx.AsyncClient,
    fake: fv.FakeVendors,
    linked: dict[str, Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    ctx: VendorContext,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.oura.add_sleep("o-down", day="2026-03-11", average_hrv=50)
    fake.oura.fail("/v2/usercollection/sleep/", 503, times=1000)
    body = fv.oura_body("o-down")
    await post(client, "oura", body, fv.oura_headers(body))

    for _ in range(inbox.MAX_ATTEMPTS):
        await fv.make_due(sessionmaker)
        await fv.run_inbox(sessionmaker, ctx)

    [event] = await fv.events(sessionmaker)
    assert (event.status, event.attempts) == (InboxStatus.FAILED, inbox.MAX_ATTEMPTS)
    assert event.last_error == "Oura GET /v2/usercollection/sleep/o-down: HTTP 503"
    assert event.body == body  # the notification is kept, to replay once Oura is back
    assert await fv.hrv_rows(sessionmaker, linked["id"]) == []
    await fv.make_due(sessionmaker)
    assert await fv.run_inbox(sessionmaker, ctx) == 0  # failed is final, not retried forever
    for secret in fake.secrets_issued:
        assert secret not in caplog.text


async def test_expired_token_is_refreshed_before_the_fetch(
    client: httpx.AsyncClient,
    fake: fv.FakeVendors,
    linked: dict[str, Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    ctx: VendorContext,
) -> None:
    fake.oura.add_sleep("o-exp", day="2026-03-13", average_hrv=51)
    [_, oura_device] = await fv.devices_of(sessionmaker, linked["id"])
    await fv.expire_device(sessionmaker, oura_device.id)
    fake.oura.expire_access_tokens()
    spent = fake.oura.issued[-1]["refresh_token"]
    body = fv.oura_body("o-exp")
    await post(client, "oura", body, fv.oura_headers(body))

    await fv.run_inbox(sessionmaker, ctx)

    assert await fv.hrv_rows(sessionmaker, linked["id"]) == [("2026-03-13", 51.0, "OURA")]
    assert spent in fake.oura.spent_refresh_tokens
    assert fake.oura.calls("/oauth/token") == 2  # the link, then one refresh


async def test_refused_refresh_marks_the_device_not_the_job(
    client: httpx.AsyncClient,
    fake: fv.FakeVendors,
    linked: dict[str, Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    ctx: VendorContext,
) -> None:
    fake.whoop.add_night("s-reauth", end="2026-03-09T19:30:00.000Z", rmssd=42)
    [whoop_device, _] = await fv.devices_of(sessionmaker, linked["id"])
    await fv.expire_device(sessionmaker, whoop_device.id)
    fake.whoop.refuse_refresh = True
    body = fv.whoop_body("s-reauth")
    await post(client, "whoop", body, fv.whoop_headers(body))

    await fv.run_inbox(sessionmaker, ctx)

    [event] = await fv.events(sessionmaker)
    assert event.status == InboxStatus.DONE
    assert (await fv.device_row(sessionmaker, whoop_device.id)).status == "reauth_required"
    assert await fv.hrv_rows(sessionmaker, linked["id"]) == []


async def test_an_athlete_in_two_teams_gets_the_value_in_both(
    api: Api,
    client: httpx.AsyncClient,
    fake: fv.FakeVendors,
    squad: Squad,
    linked: dict[str, Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    ctx: VendorContext,
) -> None:
    response = await fv.connect(client, fake, "whoop", squad.player, squad.player_membership["id"])
    assert response.status_code == 200
    fake.whoop.add_night("s-two", end="2026-03-09T19:30:00.000Z", rmssd=38)
    body = fv.whoop_body("s-two")
    await post(client, "whoop", body, fv.whoop_headers(body))

    await fv.run_inbox(sessionmaker, ctx)

    # Auckland woke on 10 March; the squad's team is in UTC, where it was still 9 March.
    assert await fv.hrv_rows(sessionmaker, linked["id"]) == [("2026-03-10", 38.0, "WHOOP")]
    assert await fv.hrv_rows(sessionmaker, squad.player_membership["id"]) == [
        ("2026-03-09", 38.0, "WHOOP")
    ]


# --- refused deliveries ------------------------------------------------------------------------


async def test_bad_or_missing_signature_is_401(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    whoop_body, oura_body = fv.whoop_body("s-1"), fv.oura_body("o-1")
    cases = [
        ("whoop", whoop_body, {}),
        ("whoop", whoop_body, fv.whoop_headers(whoop_body, secret="not-the-secret")),
        ("whoop", whoop_body + b" ", fv.whoop_headers(whoop_body)),  # body changed after signing
        ("oura", oura_body, {}),
        ("oura", oura_body, fv.oura_headers(oura_body, secret="not-the-secret")),
        ("oura", oura_body.replace(b"o-1", b"o-2"), fv.oura_headers(oura_body)),
    ]
    for provider, body, headers in cases:
        response = await post(client, provider, body, headers)
        assert response.status_code == 401, (provider, headers, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert await fv.events(sessionmaker) == []


async def test_a_stale_or_future_timestamp_is_401(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    now = datetime.now(UTC)
    whoop_body, oura_body = fv.whoop_body("s-1"), fv.oura_body("o-1")
    for offset in (timedelta(minutes=-6), timedelta(minutes=6)):
        stale = await post(
            client, "whoop", whoop_body, fv.whoop_headers(whoop_body, at=now + offset)
        )
        assert stale.status_code == 401
        stale = await post(client, "oura", oura_body, fv.oura_headers(oura_body, at=now + offset))
        assert stale.status_code == 401
    assert await fv.events(sessionmaker) == []
    recent = now - timedelta(minutes=4)
    assert (
        await post(client, "whoop", whoop_body, fv.whoop_headers(whoop_body, at=recent))
    ).status_code == 202


async def test_oura_signature_case_and_millisecond_timestamps(client: httpx.AsyncClient) -> None:
    body = fv.oura_body("o-case")
    headers = fv.oura_headers(body)
    headers["x-oura-signature"] = headers["x-oura-signature"].upper()
    assert (await post(client, "oura", body, headers)).status_code == 202
    body = fv.oura_body("o-ms")
    assert (
        await post(client, "oura", body, fv.oura_headers(body, milliseconds=True))
    ).status_code == 202


async def test_a_body_that_is_not_the_vendors_json_is_400(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    bodies = [
        b"not json",
        b"[1, 2]",
        b'{"user_id": 10129, "type": "recovery.updated"}',  # no id
        b'{"user_id": 10129, "id": "", "type": "recovery.updated"}',
    ]
    for body in bodies:
        response = await post(client, "whoop", body, fv.whoop_headers(body))
        assert response.status_code == 400, (body, response.text)
        response = await post(client, "oura", body, fv.oura_headers(body))
        assert response.status_code == 400, (body, response.text)
    assert await fv.events(sessionmaker) == []


async def test_unknown_provider_is_404_and_gps_is_not_ours(client: httpx.AsyncClient) -> None:
    body = fv.whoop_body("s-1")
    assert (await post(client, "fitbit", body, fv.whoop_headers(body))).status_code == 404
    assert (await post(client, "gps", body, fv.whoop_headers(body))).status_code == 404


async def test_an_unconfigured_secret_verifies_nothing(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """An empty client secret is no key: a body 'signed' with it is refused."""
    app = fv.build_app(settings, sessionmaker, fv.FakeVendors())
    body = fv.whoop_body("s-1")
    async for bare in fv.app_client(app):
        assert (
            await post(bare, "whoop", body, fv.whoop_headers(body, secret=""))
        ).status_code == 401
        assert (await post(bare, "oura", body, fv.oura_headers(body, secret=""))).status_code == 401


# --- Oura verification and subscriptions -------------------------------------------------------


async def test_oura_verification_get(client: httpx.AsyncClient) -> None:
    good = {"verification_token": fv.OURA_VERIFICATION_TOKEN, "challenge": "c-123"}
    response = await client.get("/webhooks/oura", params=good)
    assert (response.status_code, response.json()) == (200, {"challenge": "c-123"})
    wrong = await client.get("/webhooks/oura", params={**good, "verification_token": "nope"})
    assert wrong.status_code == 401
    missing = await client.get("/webhooks/oura", params={"challenge": "c-123"})
    assert missing.status_code == 401


async def test_oura_subscriptions_are_created_then_renewed(
    fake: fv.FakeVendors, ctx: VendorContext
) -> None:
    created = await oura.ensure_subscriptions(ctx)
    assert (created.created, created.renewed, created.kept) == (2, 0, 0)
    subscribed = {(s["data_type"], s["event_type"]) for s in fake.oura.subscriptions.values()}
    assert subscribed == {("sleep", "create"), ("sleep", "update")}
    assert {s["callback_url"] for s in fake.oura.subscriptions.values()} == {
        "http://testserver/webhooks/oura"
    }

    again = await oura.ensure_subscriptions(ctx)
    assert (again.created, again.renewed, again.kept) == (0, 0, 2)

    soon = next(iter(fake.oura.subscriptions.values()))
    soon["expiration_time"] = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    renewed = await oura.ensure_subscriptions(ctx)
    assert (renewed.created, renewed.renewed, renewed.kept) == (0, 1, 1)
    assert datetime.fromisoformat(soon["expiration_time"]) > datetime.now(UTC) + timedelta(days=80)
    assert len(fake.oura.subscriptions) == 2
    for request in fake.oura.requests:
        assert request.headers["x-client-id"] == "oura-client-id"
        assert "authorization" not in request.headers


async def test_a_pair_refreshed_ahead_of_the_job_survives_a_failed_attempt(
    client: httpx.AsyncClient,
    fake: fv.FakeVendors,
    linked: dict[str, Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    ctx: VendorContext,
    app_settings: Settings,
) -> None:
    """The inbox rolls a failed attempt back; Oura's old refresh token is spent by then.
    Refreshed by ``refresh_for_inbox`` in its own transaction, the new pair is kept."""
    [whoop_device, oura_device] = await fv.devices_of(sessionmaker, linked["id"])
    for device in (whoop_device, oura_device):
        await fv.expire_device(sessionmaker, device.id)
    fake.oura.add_sleep("o-keep", day="2026-03-14", average_hrv=49)
    fake.oura.fail("/v2/usercollection/sleep/", 503)
    body = fv.oura_body("o-keep")
    await post(client, "oura", body, fv.oura_headers(body))

    assert await jobs.refresh_for_inbox(sessionmaker, ctx) == 1  # Oura's only: no Whoop event
    await fv.run_inbox(sessionmaker, ctx)

    [event] = await fv.events(sessionmaker)
    assert (event.status, event.attempts) == (InboxStatus.PENDING, 1)
    stored = await fv.device_row(sessionmaker, oura_device.id)
    refresh = crypto.decrypt(app_settings, stored.refresh_token_enc or "")
    assert refresh == fake.oura.issued[-1]["refresh_token"]
    assert refresh in fake.oura.refresh_tokens  # still live at the vendor
    assert fake.whoop.calls("/oauth/oauth2/token") == 1  # the link only: no Whoop event due

    await fv.make_due(sessionmaker)
    assert await jobs.refresh_for_inbox(sessionmaker, ctx) == 0
    await fv.run_inbox(sessionmaker, ctx)
    assert await fv.hrv_rows(sessionmaker, linked["id"]) == [("2026-03-14", 49.0, "OURA")]
    assert fake.oura.calls("/oauth/token") == 2  # the link and one refresh
