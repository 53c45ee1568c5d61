"""Erasure (contract: Privacy): afterwards no table holds the person, the audit trail
stays, team figures are right without them, and who may erase what."""

import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import LargeBinary, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.models import AuditEntry, Base, LinkedDevice, Reminder, ReminderKind, WebhookEvent
from app.models.users import LoginThrottle
from app.services.accounts import throttles
from tests.fixtures import fake_vendor as fv
from tests.fixtures.actors import PASSWORD, Actor, Api, Squad
from tests.privacy.conftest import History, post_ok

# Where the contract keeps the membership's id after an erasure: the membership row itself
# (inactive, the audit log's reference) and the audit entries (the record that it happened).
KEPT = {("team_memberships", "id"), ("audit_entries", "membership_id")}
# The account's id stays on its (anonymised) row and on its memberships' rows.
KEPT_USER = {("users", "id"), ("team_memberships", "user_id")}


def _refers_to(column: Any, table_name: str, column_name: str) -> bool:
    return column.name == column_name or any(
        fk.column.table.name == table_name for fk in column.foreign_keys
    )


async def traces(
    sessionmaker: async_sessionmaker[AsyncSession],
    texts: list[str],
    membership_id: int,
    user_id: int | None = None,
) -> list[str]:
    """Every cell of every table that still holds one of ``texts`` (string, binary and
    JSON columns), the membership id (integer columns that refer to a membership, and
    ``membership_id`` keys of JSON payloads and stored answers) or the account's id
    (columns that refer to a user), except where the contract keeps it."""
    keys = [f'"membership_id": {membership_id}', f'"membership_id":{membership_id}']
    texts = [*texts, *keys]
    found = []
    async with sessionmaker() as db:
        for table in Base.metadata.sorted_tables:
            for row in await db.execute(select(table)):
                for column, value in zip(table.columns, row, strict=True):
                    where = f"{table.name}.{column.name}={value!r}"
                    if isinstance(column.type, String | Text) and isinstance(value, str):
                        hit = any(text in value for text in texts)
                    elif isinstance(column.type, LargeBinary) and value is not None:
                        hit = any(text.encode() in value for text in texts)
                    elif isinstance(value, dict | list):
                        dumped = json.dumps(value)
                        hit = any(text in dumped for text in texts)
                    elif isinstance(value, int) and not isinstance(value, bool):
                        place = (table.name, column.name)
                        hit = (
                            value == membership_id
                            and _refers_to(column, "team_memberships", "membership_id")
                            and place not in KEPT
                        ) or (
                            value == user_id
                            and _refers_to(column, "users", "user_id")
                            and place not in KEPT_USER
                        )
                    else:
                        hit = False
                    if hit:
                        found.append(where)
    return found


async def _gps_secret(client: httpx.AsyncClient, owner: Actor, team_id: int) -> str:
    response = await client.post(f"/teams/{team_id}/webhook-secret", headers=owner.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["secret"])


def _signed(secret: str, body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {
        "X-Loadline-Signature": f"sha256={mac}",
        "X-Loadline-Timestamp": stamp,
        "Content-Type": "application/json",
    }


async def _registered(api: Api, squad: Squad, name: str) -> tuple[Actor, str, int]:
    """A person the squad's owner invited, who claimed the account through the API and
    signed in (a refresh token, a sign-in throttle mark): their name and email appear
    nowhere else. Returns them, their refresh token and their membership id."""
    email = f"zq-{uuid.uuid4().hex[:10]}@example.com"
    added = await api.client.post(
        f"/teams/{squad.team['id']}/members",
        json={"email": email, "full_name": name, "role": "PLAYER", "external_ref": "CAT-ERASE-1"},
        headers=squad.owner.headers,
    )
    assert added.status_code == 201, added.text
    response = await api.client.post(
        "/auth/register",
        json={
            "email": email,
            "password": PASSWORD,
            "full_name": name,
            "invitation_token": added.json()["invitation"]["token"],
        },
    )
    assert response.status_code == 201, response.text
    token = await api.client.post("/auth/token", data={"username": email, "password": PASSWORD})
    assert token.status_code == 200, token.text
    actor = Actor(response.json()["id"], email)
    actor.headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    return actor, token.json()["refresh_token"], added.json()["id"]


async def _everything(
    api: Api, history: History, fake: fv.FakeVendors, person: Actor, m: int
) -> None:
    """The person (membership ``m`` of the squad's team) gets data of every kind, some
    through routes that store it about them elsewhere (an outbound delivery, the webhook
    inboxes, an idempotent answer, a reminder)."""
    squad, client = history.squad, api.client
    team_id = squad.team["id"]
    response = await client.patch(
        f"/teams/{team_id}/members/{history.mate_m}",
        json={"external_ref": "CAT-MATE-2"},
        headers=squad.coach.headers,
    )
    assert response.status_code == 200, response.text
    response = await client.post(
        f"/teams/{team_id}/outbound-webhooks",
        json={"url": "https://93.184.215.14/hooks", "events": ["alert.created"]},
        headers=squad.owner.headers,
    )
    assert response.status_code == 201, response.text
    for session_id in history.sessions:
        await post_ok(
            client,
            squad.coach,
            f"/performance/sessions/{session_id}/attendance",
            [{"membership_id": m, "status": "PRESENT", "minutes_participated": 60}],
        )
        url = f"/performance/sessions/{session_id}/srpe"
        await post_ok(client, person, url, {"membership_id": m, "rpe_0_10": 8})
    response = await client.post(
        "/performance/wellness",
        json={"membership_id": m, "sleep_quality": 1, "mood": 1, "soreness": 1, "notes": "bad"},
        headers=person.headers | {"Idempotency-Key": f"morning-{m}"},
    )
    assert response.status_code == 201, response.text  # red: an alert, and its delivery
    await post_ok(
        client,
        person,
        f"/performance/members/{m}/hrv",
        {"date": datetime.now(UTC).date().isoformat(), "rmssd_ms": 55.0, "source": "MANUAL"},
    )
    iso = datetime.now(UTC).date().isocalendar()
    await post_ok(
        client,
        person,
        f"/performance/members/{m}/ostrc",
        {
            "week": f"{iso.year}-W{iso.week:02d}",
            "q1": 3,
            "q2": 4,
            "q3": 4,
            "q4": 3,
            "new_problem": {"kind": "ILLNESS"},
        },
    )
    day = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    await post_ok(
        client,
        history.medic,
        f"/performance/members/{m}/health-problems",
        {"kind": "INJURY", "onset_date": day, "context": "TRAINING", "diagnosis": "x"},
    )
    csv = f"athlete_ref,date,player_load\nCAT-ERASE-1,{day},410.5\nCAT-MATE-2,{day},300\n"
    response = await client.post(
        f"/teams/{team_id}/external-load/import",
        files={"file": ("gps.csv", csv.encode(), "text/csv")},
        headers=squad.coach.headers,
    )
    assert response.status_code == 200 and response.json()["imported"] == 2, response.text
    secret = await _gps_secret(client, squad.owner, team_id)
    for events in (["CAT-ERASE-1", "CAT-MATE-2"], ["CAT-ERASE-1"]):
        body = json.dumps(
            {
                "events": [
                    {
                        "event_id": f"{ref}-{len(events)}",
                        "athlete_ref": ref,
                        "date": day,
                        "player_load": 100,
                    }
                    for ref in events
                ]
            }
        ).encode()
        response = await client.post(
            f"/webhooks/gps/{team_id}", content=body, headers=_signed(secret, body)
        )
        assert response.status_code in (200, 202), response.text
    fake.whoop.user_id = "77123-erase"
    linked = await fv.connect(client, fake, "whoop", person, m)
    assert linked.status_code == 200, linked.text
    body = json.dumps(
        {"user_id": 77123, "id": "sleep-9", "type": "recovery.updated", "trace_id": "t"}
    ).encode()
    body = body.replace(b"77123", b'"77123-erase"')
    response = await client.post("/webhooks/whoop", content=body, headers=fv.whoop_headers(body))
    assert response.status_code in (200, 202, 204), response.text
    async with api.sessionmaker.begin() as db:  # a wellness reminder the job sent them
        today = datetime.now(UTC).date()
        db.add(
            Reminder(
                team_id=team_id,
                membership_id=m,
                kind=ReminderKind.WELLNESS,
                occasion=today.isoformat(),
                day=today,
                due_at=datetime.now(UTC),
            )
        )


async def _acwr(client: httpx.AsyncClient, actor: Actor, m: int) -> Any:
    first = (datetime.now(UTC).date() - timedelta(days=10)).isoformat()
    response = await client.get(
        f"/performance/members/{m}/acwr", params={"from": first}, headers=actor.headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_after_an_erasure_no_table_holds_the_person(
    api: Api,
    history: History,
    fake: fv.FakeVendors,
    sessionmaker: async_sessionmaker[AsyncSession],
    app_settings: Settings,
) -> None:
    name = f"Zoë Quistgaard-{uuid.uuid4().hex[:6]}"
    person, refresh_token, m = await _registered(api, history.squad, name)
    await _everything(api, history, fake, person, m)
    squad, client = history.squad, api.client
    needles = [name, person.email, "77123-erase", "CAT-ERASE-1"]
    await _acwr(client, person, m)  # the snapshots are computed
    before = {where.split("=")[0] for where in await traces(sessionmaker, needles, m, person.id)}
    assert {
        "users.email",
        "users.full_name",
        "webhook_inbox.body",
        "wellness_logs.membership_id",
        "outbound_deliveries.payload",
        "idempotency_keys.user_id",  # its stored answer is encrypted: found by its user
        "refresh_tokens.user_id",
        "linked_devices.external_user_id",
        "team_memberships.external_ref",
        "external_loads.membership_id",
        "load_acwr.membership_id",
        "reminders.membership_id",
    } <= before
    mate_acwr = await _acwr(client, squad.coach, history.mate_m)
    async with sessionmaker() as db:
        devices = list(
            await db.scalars(select(LinkedDevice).where(LinkedDevice.membership_id == m))
        )
    assert len(devices) == 1

    url = f"/teams/{squad.team['id']}/members/{m}/erase"
    response = await client.post(url, headers=squad.owner.headers)
    assert response.status_code == 204, response.text

    assert await traces(sessionmaker, needles, m, person.id) == []
    async with sessionmaker() as db:
        keys = [
            throttles.email_key(app_settings, person.email),
            throttles.known_key(app_settings, person.email, "127.0.0.1"),
        ]
        assert (
            list(await db.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys)))) == []
        )
        inbox = list(await db.scalars(select(WebhookEvent).order_by(WebhookEvent.id)))
        entries = list(await db.scalars(select(AuditEntry).where(AuditEntry.membership_id == m)))
    # The GPS delivery shared with the teammate keeps the teammate's event; the one that was
    # the person's alone is gone, and so is the vendor's notification about their account.
    assert [(e.provider, json.loads(e.body)["events"]) for e in inbox] == [
        (
            "gps",
            [
                {
                    "event_id": "CAT-MATE-2-2",
                    "athlete_ref": "CAT-MATE-2",
                    "date": (datetime.now(UTC).date() - timedelta(days=1)).isoformat(),
                    "player_load": 100,
                }
            ],
        )
    ]
    # Audit entries stay; the erasure is the last one.
    assert entries[-1].action == "erase" and entries[-1].actor_user_id == squad.owner.id
    # The account is gone with it (no other team): no sign-in, no refresh, no old token.
    token = await client.post("/auth/token", data={"username": person.email, "password": PASSWORD})
    assert token.status_code == 401
    assert (
        await client.post("/auth/refresh", json={"refresh_token": refresh_token})
    ).status_code == 401
    assert (await client.get("/auth/me", headers=person.headers)).status_code == 401
    # Team figures without them: the roster, the weekly report; the teammate's ACWR as before.
    roster = (
        await client.get(f"/teams/{squad.team['id']}/roster", headers=squad.coach.headers)
    ).json()
    assert sorted(r["membership_id"] for r in roster) == sorted([history.player_m, history.mate_m])
    weekly = await client.get(
        f"/teams/{squad.team['id']}/reports/weekly.csv", headers=squad.coach.headers
    )
    assert weekly.status_code == 200 and name not in weekly.text
    lines = weekly.text.strip().splitlines()
    assert len(lines) == 1 + 7 * 2  # a header, then seven days of each remaining player
    assert await _acwr(client, squad.coach, history.mate_m) == mate_acwr
    members = (
        await client.get(f"/teams/{squad.team['id']}/members", headers=squad.owner.headers)
    ).json()
    erased = next(x for x in members if x["id"] == m)
    assert erased["active"] is False and erased["user"]["full_name"].startswith("Erased member ")
    assert erased["user"]["email"].endswith("@erased.invalid") and erased["external_ref"] is None
    # Later writes for the erased membership are refused; erasing again answers alike.
    response = await client.post(
        "/performance/wellness",
        json={"membership_id": m, "sleep_quality": 3, "mood": 3, "soreness": 3},
        headers=squad.coach.headers,
    )
    assert response.status_code == 409, response.text
    assert (await client.post(url, headers=squad.owner.headers)).status_code == 204
    assert await traces(sessionmaker, needles, m, person.id) == []


async def test_an_account_active_in_another_team_stays_its_owners(
    api: Api, history: History, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    squad, client = history.squad, api.client
    second = await api.team(squad.outsider)
    elsewhere = await api.join(second, squad.outsider, squad.player)
    url = f"/teams/{squad.team['id']}/members/{history.player_m}/erase"
    assert (await client.post(url, headers=squad.owner.headers)).status_code == 204
    me = (await client.get("/auth/me", headers=squad.player.headers)).json()
    assert me["email"] == squad.player.email
    assert [x["id"] for x in me["memberships"]] == [elsewhere["id"]]
    token = await client.post(
        "/auth/token", data={"username": squad.player.email, "password": PASSWORD}
    )
    assert token.status_code == 200
    members = (
        await client.get(f"/teams/{squad.team['id']}/members", headers=squad.owner.headers)
    ).json()
    erased = next(x for x in members if x["id"] == history.player_m)
    assert erased["user"]["email"] != squad.player.email
    assert erased["user"]["full_name"] == f"Erased member {erased['user']['id']}"
    assert [x["user"]["email"] for x in members].count(squad.player.email) == 0
    # The other team's data and membership are untouched.
    other = (
        await client.get(f"/teams/{second['id']}/members", headers=squad.outsider.headers)
    ).json()
    assert [x["user"]["email"] for x in other if x["id"] == elsewhere["id"]] == [squad.player.email]


async def test_deleting_ones_account(
    api: Api, history: History, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    squad, client = history.squad, api.client
    wrong = await client.request(
        "DELETE", "/auth/me", json={"password": "not the password"}, headers=squad.player.headers
    )
    assert wrong.status_code == 403, wrong.text
    assert wrong.json()["errors"][0]["loc"] == ["body", "password"]
    assert (await client.get("/auth/me", headers=squad.player.headers)).status_code == 200
    mate_acwr = await _acwr(client, squad.coach, history.mate_m)
    response = await client.request(
        "DELETE", "/auth/me", json={"password": PASSWORD}, headers=squad.player.headers
    )
    assert response.status_code == 204, response.text
    assert (await client.get("/auth/me", headers=squad.player.headers)).status_code == 401
    again = await client.request(
        "DELETE", "/auth/me", json={"password": PASSWORD}, headers=squad.player.headers
    )
    assert again.status_code == 401  # no account is left to sign in with
    assert await traces(sessionmaker, [squad.player.email], history.player_m, squad.player.id) == []
    assert await _acwr(client, squad.coach, history.mate_m) == mate_acwr
    roster = (
        await client.get(f"/teams/{squad.team['id']}/roster", headers=squad.coach.headers)
    ).json()
    assert [r["membership_id"] for r in roster] == [history.mate_m]
    async with sessionmaker() as db:
        erase = await db.scalar(
            select(AuditEntry).where(
                AuditEntry.membership_id == history.player_m, AuditEntry.action == "erase"
            )
        )
    assert erase is not None and erase.actor_user_id == squad.player.id


async def test_the_only_owner_cannot_be_erased(
    api: Api, history: History, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    squad, client = history.squad, api.client
    response = await client.request(
        "DELETE", "/auth/me", json={"password": PASSWORD}, headers=squad.owner.headers
    )
    assert response.status_code == 409, response.text
    me = (await client.get("/auth/me", headers=squad.owner.headers)).json()
    owner_m = me["memberships"][0]["id"]
    url = f"/teams/{squad.team['id']}/members/{owner_m}/erase"
    assert (await client.post(url, headers=squad.owner.headers)).status_code == 409
    # With a second owner, the first may go.
    response = await client.patch(
        f"/teams/{squad.team['id']}/members/{squad.coach_membership['id']}",
        json={"role": "OWNER"},
        headers=squad.owner.headers,
    )
    assert response.status_code == 200, response.text
    response = await client.request(
        "DELETE", "/auth/me", json={"password": PASSWORD}, headers=squad.owner.headers
    )
    assert response.status_code == 204, response.text


async def test_who_may_erase_a_member(api: Api, history: History) -> None:
    squad, client = history.squad, api.client
    url = f"/teams/{squad.team['id']}/members/{history.player_m}/erase"
    for actor, status in (
        (squad.outsider, 404),
        (squad.coach, 403),
        (history.medic, 403),
        (squad.player, 403),
        (squad.teammate, 403),
    ):
        response = await client.post(url, headers=actor.headers)
        assert response.status_code == status, (actor, response.text)
    other_team = (await client.get("/teams", headers=squad.outsider.headers)).json()[0]
    response = await client.post(
        f"/teams/{other_team['id']}/members/{history.player_m}/erase",
        headers=squad.outsider.headers,
    )
    assert response.status_code == 404
    wellness = await client.get(
        f"/performance/members/{history.player_m}/wellness", headers=squad.player.headers
    )
    assert len(wellness.json()) == 2  # nothing was erased by the refused attempts


async def test_an_owner_cannot_close_an_account_that_did_not_come_with_the_team(
    api: Api, history: History
) -> None:
    """Anyone can create a team and add a registered email: erasing that membership moves
    it to a placeholder and leaves the person's account (an administrator's here) alone."""
    squad, client = history.squad, api.client
    rogue = await api.user("rogue")
    team = await api.team(rogue)
    added = await api.join(team, rogue, squad.admin, role="COACH")
    erased = await client.post(
        f"/teams/{team['id']}/members/{added['id']}/erase", headers=rogue.headers
    )
    assert erased.status_code == 204, erased.text
    token = await client.post(
        "/auth/token", data={"username": squad.admin.email, "password": PASSWORD}
    )
    assert token.status_code == 200
    me = (await client.get("/auth/me", headers=squad.admin.headers)).json()
    assert me["is_admin"] is True and me["email"] == squad.admin.email
    members = (await client.get(f"/teams/{team['id']}/members", headers=rogue.headers)).json()
    placeholder = next(x for x in members if x["id"] == added["id"])
    assert placeholder["user"]["email"].endswith("@erased.invalid")


async def test_the_teams_audit_log_no_longer_names_an_erased_member(
    api: Api, history: History
) -> None:
    """After the erasure moved the membership to a placeholder, the person (still in
    another team) is no longer named as an actor in this team's log."""
    squad, client = history.squad, api.client
    second = await api.team(squad.outsider)
    await api.join(second, squad.outsider, squad.player)
    member = f"/performance/members/{history.player_m}/health-problems"
    assert (await client.get(member, headers=squad.player.headers)).status_code == 200
    url = f"/teams/{squad.team['id']}/members/{history.player_m}/erase"
    assert (await client.post(url, headers=squad.owner.headers)).status_code == 204
    log = await client.get(f"/teams/{squad.team['id']}/audit", headers=squad.owner.headers)
    assert log.status_code == 200
    theirs = [e for e in log.json() if e["actor_user_id"] == squad.player.id]
    assert theirs and {e["actor_full_name"] for e in theirs} == {None}
