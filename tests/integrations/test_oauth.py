"""Connecting Whoop and Oura accounts (OAuth2), listing and unlinking them, token refresh."""

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import scheduler
from app.config import Settings
from app.main import create_app
from app.models import (
    DeviceStatus,
    LinkedDevice,
    Provider,
    Role,
    SpentOAuthState,
    Team,
    TeamMembership,
    User,
)
from app.services.integrations import devices, jobs, oauth
from app.services.integrations.context import VendorContext, new_http_client
from app.services.integrations.errors import DeviceUnusable
from app.services.platform import crypto
from tests.fixtures import fake_vendor as fv
from tests.fixtures.actors import Squad

PROVIDERS = ["whoop", "oura"]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_connect_end_to_end(
    client: httpx.AsyncClient,
    fake: fv.FakeVendors,
    squad: Squad,
    provider: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    member_id = squad.player_membership["id"]
    response = await fv.connect(client, fake, provider, squad.player, member_id)

    assert response.status_code == 200, response.text
    device = response.json()
    assert set(device) == {"id", "provider", "external_user_id", "status", "linked_at"}
    assert device["provider"] == provider.upper()
    assert device["external_user_id"] == fake.vendor(provider).user_id
    assert device["status"] == "active"
    listed = await client.get(
        f"/performance/members/{member_id}/devices", headers=squad.coach.headers
    )
    assert listed.status_code == 200
    assert listed.json() == [device]
    for secret in fake.secrets_issued:
        assert secret not in response.text and secret not in listed.text
        assert secret not in caplog.text
    assert any("device_linked" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_authorize_url_carries_the_vendor_parameters(
    client: httpx.AsyncClient, squad: Squad, provider: str
) -> None:
    response = await client.get(
        f"/integrations/{provider}/authorize",
        params={"membership_id": squad.player_membership["id"]},
        headers=squad.player.headers,
    )
    url = urlsplit(response.json()["authorization_url"])
    params = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert url.netloc == f"{provider}.test"
    assert params["response_type"] == "code"
    assert params["client_id"] == f"{provider}-client-id"
    assert params["redirect_uri"] == f"http://testserver/integrations/{provider}/callback"
    assert len(params["state"]) >= 8  # Whoop requires eight characters or more
    if provider == "whoop":
        assert {"offline", "read:recovery", "read:sleep"} <= set(params["scope"].split())
    else:
        assert set(params["scope"].split()) == {"personal", "daily"}
    assert "secret" not in response.text


async def test_whoop_refresh_token_needs_offline_scope(
    client: httpx.AsyncClient,
    fake: fv.FakeVendors,
    squad: Squad,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await fv.connect(client, fake, "whoop", squad.player, squad.player_membership["id"])
    device_id = (await _devices(sessionmaker))[0].id
    row = await fv.device_row(sessionmaker, device_id)
    assert row.refresh_token_enc is not None  # the fake only issues one for ``offline``
    assert "offline" in row.scopes.split()


async def test_who_may_start_linking(client: httpx.AsyncClient, squad: Squad) -> None:
    url = "/integrations/whoop/authorize"
    member = {"membership_id": squad.player_membership["id"]}
    assert (await client.get(url, params=member)).status_code == 401
    assert (await client.get(url, params=member, headers=squad.teammate.headers)).status_code == 403
    assert (await client.get(url, params=member, headers=squad.outsider.headers)).status_code == 404
    assert (await client.get(url, params=member, headers=squad.coach.headers)).status_code == 200
    # A device feeds HRV, which only a PLAYER membership takes (Roles): the coach's own
    # COACH membership is a 422 naming membership_id (it was a 200 before issue 10).
    coach_member = {"membership_id": squad.coach_membership["id"]}
    own = await client.get(url, params=coach_member, headers=squad.coach.headers)
    assert own.status_code == 422
    assert own.json()["errors"][0]["loc"] == ["query", "membership_id"]
    unknown = await client.get(
        "/integrations/fitbit/authorize", params=member, headers=squad.player.headers
    )
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    missing = await client.get(url, headers=squad.player.headers)
    assert missing.status_code == 422


async def test_unconfigured_vendor_is_not_found(
    squad: Squad, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    app = fv.build_app(settings, sessionmaker, fv.FakeVendors())  # no client ids at all
    async for bare in fv.app_client(app):
        response = await bare.get(
            "/integrations/oura/authorize",
            params={"membership_id": squad.player_membership["id"]},
            headers=squad.player.headers,
        )
        assert response.status_code == 404


async def test_bad_or_expired_state_is_400(
    client: httpx.AsyncClient,
    squad: Squad,
    app_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    link = oauth.LinkState(Provider.WHOOP, squad.player_membership["id"], squad.player.id)
    good = oauth.sign_state(app_settings, link)
    forged = oauth.sign_state(
        app_settings.model_copy(update={"secret_key": "another-secret-key-entirely"}), link
    )
    monkeypatch.setattr(oauth, "STATE_LIFETIME", timedelta(seconds=-1))
    expired = oauth.sign_state(app_settings, link)
    monkeypatch.undo()
    cases = {
        "no state": {"code": "abc"},
        "garbage": {"code": "abc", "state": "not-a-state"},
        "forged": {"code": "abc", "state": forged},
        "expired": {"code": "abc", "state": expired},
        "tampered": {"code": "abc", "state": good[:-2] + ("AA" if good[-2:] != "AA" else "BB")},
    }
    for name, params in cases.items():
        response = await client.get("/integrations/whoop/callback", params=params)
        assert response.status_code == 400, (name, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    other_vendor = await client.get(
        "/integrations/oura/callback", params={"code": "a", "state": good}
    )
    assert other_vendor.status_code == 400


async def test_declined_or_refused_code_is_400(
    client: httpx.AsyncClient, squad: Squad, app_settings: Settings, fake: fv.FakeVendors
) -> None:
    link = oauth.LinkState(Provider.OURA, squad.player_membership["id"], squad.player.id)
    state = oauth.sign_state(app_settings, link)
    declined = await client.get(
        "/integrations/oura/callback", params={"error": "access_denied", "state": state}
    )
    assert declined.status_code == 400
    refused = await client.get(
        "/integrations/oura/callback", params={"code": "never-issued", "state": state}
    )
    assert refused.status_code == 400
    assert "invalid_grant" in refused.json()["detail"]


async def test_vendor_down_during_link_is_502(
    client: httpx.AsyncClient, squad: Squad, fake: fv.FakeVendors
) -> None:
    fake.oura.fail("/oauth/token", 503)
    response = await fv.connect(client, fake, "oura", squad.player, squad.player_membership["id"])
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/problem+json"


async def _authorization_url(
    client: httpx.AsyncClient, provider: str, squad: Squad, member_id: int
) -> str:
    response = await client.get(
        f"/integrations/{provider}/authorize",
        params={"membership_id": member_id},
        headers=squad.player.headers,
    )
    assert response.status_code == 200, response.text
    url: str = response.json()["authorization_url"]
    return url


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_replayed_state_is_400_and_keeps_the_link(
    client: httpx.AsyncClient,
    fake: fv.FakeVendors,
    squad: Squad,
    sessionmaker: async_sessionmaker[AsyncSession],
    app_settings: Settings,
    provider: str,
) -> None:
    """Someone who got hold of the consent URL goes through it with their own vendor
    account, within the state's ten minutes and after the athlete linked: the callback
    with that state again is refused and the athlete's link stays as it was."""
    vendor = fake.vendor(provider)
    member_id = squad.player_membership["id"]
    url = await _authorization_url(client, provider, squad, member_id)
    linked = await client.get(await fv.consent(fake, url))
    assert linked.status_code == 200, linked.text

    vendor.user_id = "90417"  # another account at the vendor consents, same URL and state
    replay = await client.get(await fv.consent(fake, url))

    assert replay.status_code == 400, replay.text
    assert replay.headers["content-type"] == "application/problem+json"
    assert "state" in replay.json()["detail"]
    listed = await client.get(
        f"/performance/members/{member_id}/devices", headers=squad.player.headers
    )
    assert listed.json() == [linked.json()]
    assert linked.json()["external_user_id"] != "90417"
    row = await fv.device_row(sessionmaker, linked.json()["id"])
    assert crypto.decrypt(app_settings, row.access_token_enc) == vendor.issued[0]["access_token"]
    assert vendor.calls("/token") == 1  # the second code was never traded


async def test_failed_callback_leaves_the_state_usable(
    client: httpx.AsyncClient, fake: fv.FakeVendors, squad: Squad
) -> None:
    """A state is spent only by the callback that links: when the vendor fails the code
    exchange (502), consenting again through the same URL (the browser's back button)
    still links, since nothing was linked with that state."""
    member_id = squad.player_membership["id"]
    url = await _authorization_url(client, "oura", squad, member_id)
    fake.oura.fail("/oauth/token", 503)
    failed = await client.get(await fv.consent(fake, url))
    assert failed.status_code == 502, failed.text

    again = await client.get(await fv.consent(fake, url))

    assert again.status_code == 200, again.text
    replay = await client.get(await fv.consent(fake, url))
    assert replay.status_code == 400


async def test_hourly_purge_forgets_only_expired_states(
    client: httpx.AsyncClient,
    fake: fv.FakeVendors,
    squad: Squad,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Spent states do not pile up, and one still inside its lifetime stays refused."""
    url = await _authorization_url(client, "oura", squad, squad.player_membership["id"])
    assert (await client.get(await fv.consent(fake, url))).status_code == 200
    async with sessionmaker.begin() as session:
        session.add(
            SpentOAuthState(jti="old-state", expires_at=datetime.now(UTC) - timedelta(hours=1))
        )

    assert await scheduler.purge_spent_states(sessionmaker) == 1

    async with sessionmaker() as session:
        left = list(await session.scalars(select(SpentOAuthState.jti)))
    assert len(left) == 1 and left != ["old-state"]
    assert (await client.get(await fv.consent(fake, url))).status_code == 400


async def test_relinking_replaces_the_link(
    client: httpx.AsyncClient,
    fake: fv.FakeVendors,
    squad: Squad,
    sessionmaker: async_sessionmaker[AsyncSession],
    app_settings: Settings,
) -> None:
    member_id = squad.player_membership["id"]
    first = (await fv.connect(client, fake, "oura", squad.player, member_id)).json()
    second = (await fv.connect(client, fake, "oura", squad.player, member_id)).json()
    assert first["id"] == second["id"]
    row = await fv.device_row(sessionmaker, first["id"])
    assert (
        crypto.decrypt(app_settings, row.access_token_enc) == fake.oura.issued[-1]["access_token"]
    )


async def test_unlinking(client: httpx.AsyncClient, fake: fv.FakeVendors, squad: Squad) -> None:
    member_id = squad.player_membership["id"]
    device = (await fv.connect(client, fake, "whoop", squad.player, member_id)).json()
    url = f"/performance/members/{member_id}/devices/{device['id']}"
    assert (await client.delete(url, headers=squad.teammate.headers)).status_code == 403
    assert (await client.delete(url)).status_code == 401
    other = f"/performance/members/{squad.teammate_membership['id']}/devices/{device['id']}"
    assert (await client.delete(other, headers=squad.coach.headers)).status_code == 404
    assert (await client.delete(url, headers=squad.player.headers)).status_code == 204
    assert (await client.delete(url, headers=squad.player.headers)).status_code == 404
    listed = await client.get(
        f"/performance/members/{member_id}/devices", headers=squad.player.headers
    )
    assert listed.json() == []


async def test_listing_needs_read_access(client: httpx.AsyncClient, squad: Squad) -> None:
    url = f"/performance/members/{squad.player_membership['id']}/devices"
    assert (await client.get(url)).status_code == 401
    assert (await client.get(url, headers=squad.teammate.headers)).status_code == 403
    assert (await client.get(url, headers=squad.outsider.headers)).status_code == 404
    assert (await client.get(url, headers=squad.player.headers)).json() == []


# --- refresh ---------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_refresh_rotates_the_pair(
    client: httpx.AsyncClient,
    fake: fv.FakeVendors,
    squad: Squad,
    sessionmaker: async_sessionmaker[AsyncSession],
    ctx: VendorContext,
    app_settings: Settings,
    provider: str,
) -> None:
    vendor = fake.vendor(provider)
    device_id = (
        await fv.connect(client, fake, provider, squad.player, squad.player_membership["id"])
    ).json()["id"]
    old = vendor.issued[-1]
    await fv.expire_device(sessionmaker, device_id)
    vendor.expire_access_tokens()

    async with sessionmaker.begin() as session:
        token = await devices.access_token(ctx, session, device_id)

    new = vendor.issued[-1]
    assert token == new["access_token"] != old["access_token"]
    row = await fv.device_row(sessionmaker, device_id)
    assert crypto.decrypt(app_settings, row.access_token_enc) == new["access_token"]
    assert crypto.decrypt(app_settings, row.refresh_token_enc or "") == new["refresh_token"]
    assert row.expires_at is not None and row.expires_at > datetime.now(UTC) + timedelta(minutes=50)
    refresh_requests = [r for r in vendor.requests if r.url.path.endswith("/token")]
    # The old refresh token was single-use: the vendor refuses it from now on.
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as http:
        again = await http.post(
            app_settings.whoop_token_url if provider == "whoop" else app_settings.oura_token_url,
            data={
                "grant_type": "refresh_token",
                "refresh_token": old["refresh_token"],
                "client_id": vendor.client_id,
                "client_secret": vendor.client_secret,
            },
        )
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")
    if provider == "whoop":
        assert parse_qs(refresh_requests[-1].content.decode())["scope"] == ["offline"]


async def test_refused_refresh_marks_reauth_required(
    client: httpx.AsyncClient,
    fake: fv.FakeVendors,
    squad: Squad,
    sessionmaker: async_sessionmaker[AsyncSession],
    ctx: VendorContext,
) -> None:
    member_id = squad.player_membership["id"]
    device_id = (await fv.connect(client, fake, "oura", squad.player, member_id)).json()["id"]
    await fv.expire_device(sessionmaker, device_id)
    fake.oura.refuse_refresh = True

    async with sessionmaker.begin() as session:
        with pytest.raises(DeviceUnusable) as raised:
            await devices.access_token(ctx, session, device_id)
    for secret in fake.secrets_issued:
        assert secret not in str(raised.value)

    listed = await client.get(
        f"/performance/members/{member_id}/devices", headers=squad.player.headers
    )
    assert listed.json()[0]["status"] == "reauth_required"
    linked_again = await fv.connect(client, fake, "oura", squad.player, member_id)
    assert linked_again.json()["status"] == "active"


async def test_refresh_job_commits_each_device_on_its_own(
    client: httpx.AsyncClient,
    fake: fv.FakeVendors,
    squad: Squad,
    sessionmaker: async_sessionmaker[AsyncSession],
    ctx: VendorContext,
) -> None:
    whoop_id = (
        await fv.connect(client, fake, "whoop", squad.player, squad.player_membership["id"])
    ).json()["id"]
    oura_id = (
        await fv.connect(client, fake, "oura", squad.teammate, squad.teammate_membership["id"])
    ).json()["id"]
    await fv.expire_device(sessionmaker, whoop_id)
    await fv.expire_device(sessionmaker, oura_id)
    fake.oura.refuse_refresh = True
    fake.whoop.fail("/oauth/oauth2/token", 503)

    assert await jobs.refresh_expiring(sessionmaker, ctx) == 0
    assert (await fv.device_row(sessionmaker, oura_id)).status == DeviceStatus.REAUTH_REQUIRED
    assert (await fv.device_row(sessionmaker, whoop_id)).status == DeviceStatus.ACTIVE

    assert await jobs.refresh_expiring(sessionmaker, ctx) == 1  # Whoop is back
    assert await jobs.refresh_expiring(sessionmaker, ctx) == 0  # nothing expiring now


async def test_concurrent_refreshes_spend_the_refresh_token_once(
    committed_db: async_sessionmaker[AsyncSession], app_settings: Settings
) -> None:
    """Two workers find the same expired token: the row lock lets one refresh, the other
    then sees the new pair. Oura's single-use refresh tokens would fail the second one."""
    fake = fv.FakeVendors()
    ctx = VendorContext(app_settings, new_http_client(httpx.MockTransport(fake)))
    pair = fake.oura.issue("personal daily")
    async with committed_db.begin() as session:
        device_id = await _seed_device(session, app_settings, pair)

    async def worker() -> str:
        async with committed_db.begin() as session:
            return await devices.access_token(ctx, session, device_id)

    first, second = await asyncio.gather(worker(), worker())

    assert first == second == fake.oura.issued[-1]["access_token"]
    assert len(fake.oura.issued) == 2  # the link's pair and exactly one refresh
    assert fake.oura.calls("/oauth/token") == 1


async def test_concurrent_callbacks_with_one_state_link_once(
    committed_db: async_sessionmaker[AsyncSession], app_settings: Settings
) -> None:
    """The same state arrives twice at once (codes of two vendor accounts), both callbacks
    inside their transactions together: exactly one links, the other is a 400 and its
    code is never traded."""
    fake = fv.FakeVendors()

    async def slow_vendor(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            await asyncio.sleep(0.3)  # both callbacks are running by the time one answers
        return fake(request)

    app = create_app(app_settings, committed_db, vendor_transport=httpx.MockTransport(slow_vendor))
    async with committed_db.begin() as session:
        membership = await _seed_member(session)
    link = oauth.LinkState(Provider.OURA, membership.id, membership.user_id)
    url = oauth.authorization_url(app.state.vendors, link)
    callbacks = [await fv.consent(fake, url)]
    fake.oura.user_id = "second-oura-account"
    callbacks.append(await fv.consent(fake, url))

    async for client in fv.app_client(app):
        answers = await asyncio.gather(*(client.get(callback) for callback in callbacks))

    assert sorted(a.status_code for a in answers) == [200, 400], [a.text for a in answers]
    [won] = [a.json() for a in answers if a.status_code == 200]
    [device] = await fv.devices_of(committed_db, membership.id)
    assert (device.id, device.external_user_id) == (won["id"], won["external_user_id"])
    assert fake.oura.calls("/oauth/token") == 1
    [pair] = fake.oura.issued
    assert crypto.decrypt(app_settings, device.access_token_enc) == pair["access_token"]
    assert fake.oura.accounts[pair["access_token"]] == won["external_user_id"]


async def _seed_member(session: AsyncSession) -> TeamMembership:
    user = User(email="racer@example.com", full_name="Racer", password_hash="x")
    team = Team(name="Racers", timezone="UTC")
    session.add_all([user, team])
    await session.flush()
    membership = TeamMembership(team_id=team.id, user_id=user.id, role=Role.PLAYER)
    session.add(membership)
    await session.flush()
    return membership


async def _seed_device(session: AsyncSession, settings: Settings, pair: dict[str, str]) -> int:
    membership = await _seed_member(session)
    device = LinkedDevice(
        team_id=membership.team_id,
        membership_id=membership.id,
        provider=Provider.OURA,
        external_user_id=fv.OURA_USER_ID,
        access_token_enc=crypto.encrypt(settings, pair["access_token"]),
        refresh_token_enc=crypto.encrypt(settings, pair["refresh_token"]),
        expires_at=datetime.now(UTC) - timedelta(minutes=5),
    )
    session.add(device)
    await session.flush()
    return device.id


async def _devices(sessionmaker: async_sessionmaker[AsyncSession]) -> list[LinkedDevice]:
    async with sessionmaker() as session:
        return list(await session.scalars(select(LinkedDevice).order_by(LinkedDevice.id)))


async def test_a_callback_for_a_membership_no_longer_a_players_is_422(
    client: httpx.AsyncClient, fake: fv.FakeVendors, squad: Squad
) -> None:
    """Found by the review: the PLAYER rule is checked again at the callback. A player
    made a coach within the state's ten minutes does not get a device (and so HRV) linked
    to their COACH membership; nothing is traded with the vendor."""
    member_id = squad.player_membership["id"]
    url = await _authorization_url(client, "whoop", squad, member_id)
    promoted = await client.patch(
        f"/teams/{squad.team['id']}/members/{member_id}",
        json={"role": "COACH"},
        headers=squad.owner.headers,
    )
    assert promoted.status_code == 200, promoted.text
    answer = await client.get(await fv.consent(fake, url))
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["loc"] == ["query", "state"]
    assert fake.vendor("whoop").calls("/token") == 0
    listed = await client.get(
        f"/performance/members/{member_id}/devices", headers=squad.player.headers
    )
    assert listed.json() == []
