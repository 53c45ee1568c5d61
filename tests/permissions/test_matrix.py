"""Who may call what: every route of the contract's core sections, as every kind of caller.

One table, one test. Each row is a route, the request it sends, and the status each actor
must get, in the column order of ``ACTORS``:

- ``anon`` (``ano``): no credentials;
- ``player`` (``ply``): the PLAYER whose data the route touches (membership ``{player_m}``);
- ``mate``: another PLAYER of the same team;
- ``coach`` and ``owner``: coaching staff of the team;
- ``medical`` (``med``): a MEDICAL member of the team (a physiotherapist): staff for reads
  and for writing athletes' data, but not coaching staff (no sessions, attendance, members);
- ``other``: the owner of ANOTHER team (staff, but not of this one);
- ``admin``: a user with ``is_admin`` (staff and owner of every team).

A status with a ``c`` (``200c``) says the answer carries the clinical fields of the
player's health problem (diagnosis, OSIICS code, clinical notes: ``CLINICAL``); in every
other cell none of those values may appear anywhere in the answer (JSON, CSV, PDF, error
details, alerts' evidence). Only the team's MEDICAL staff and the athlete read them.

The world is built once; each case runs inside a SAVEPOINT that is rolled back, so a write
by one actor never changes the answer another actor gets. Every 4xx must be problem+json.
"""

import hashlib
import io
import uuid
import zipfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.config import Settings
from app.main import create_app
from app.models import OutboundDelivery, PasswordReset, User
from app.services.accounts import service as accounts
from app.services.accounts import tokens
from tests.fixtures.actors import PASSWORD, Actor, Api, Squad
from tests.fixtures.databases import rolled_back

# The clinical fields of the player's problem: values no other field of the world holds.
CLINICAL = {
    "diagnosis": "Grade 1 soleus strain (US-4K9)",
    "osiics_code": "LMCX",
    "clinical_notes": "Tender medial soleus; see US-4K9",
}
ACTORS = (
    "anon",
    "player",
    "mate",
    "coach",
    "medical",
    "owner",
    "other",
    "admin",
)  # the columns of MATRIX


@dataclass
class World:
    client: httpx.AsyncClient
    connection: AsyncConnection
    squad: Squad
    medic: Actor  # a MEDICAL member of the squad's team
    season_id: int
    session_id: int  # started, with attendance and sRPE of player and mate
    fresh_session_id: int  # started, nothing recorded for it yet
    other_session_id: int  # a started session of the outsider's own team
    login_email: str  # registered through the API, password PASSWORD
    refresh_token: str
    problem_id: int  # the player's own report, with CLINICAL added by the medic
    other_problem_id: int  # a problem of a player of the outsider's team
    alert_id: int  # the HEALTH_PROBLEM_REPORTED alert of the player's report
    # accounts: members staff added who have not registered yet, and an open password reset
    invited: "Invited"

    def actor(self, name: str) -> Actor | None:
        s = self.squad
        return {
            "anon": None,
            "player": s.player,
            "mate": s.teammate,
            "coach": s.coach,
            "medical": self.medic,
            "owner": s.owner,
            "other": s.outsider,
            "admin": s.admin,
        }[name]

    def ids(self) -> dict[str, int]:
        return {
            "team": self.squad.team["id"],
            "season": self.season_id,
            "session": self.session_id,
            "fresh_session": self.fresh_session_id,
            "other_session": self.other_session_id,
            "player_m": self.squad.player_membership["id"],
            "mate_m": self.squad.teammate_membership["id"],
            "problem": self.problem_id,
            "other_problem": self.other_problem_id,
            "alert": self.alert_id,
            "invited_player_m": self.invited.player_m,
            "invited_coach_m": self.invited.coach_m,
        }

    @asynccontextmanager
    async def isolated(self) -> AsyncIterator[None]:
        """Run one case inside a SAVEPOINT that is rolled back: every case sees the same world."""
        savepoint = await self.connection.begin_nested()
        try:
            yield
        finally:
            await savepoint.rollback()


async def _build(api: Api, client: httpx.AsyncClient, connection: AsyncConnection) -> World:
    """The squad of ``tests.conftest`` with a physiotherapist (MEDICAL), plus a season, two
    started sessions, sRPE and wellness."""
    owner, coach, player, teammate, outsider, medic = [
        await api.user(name)
        for name in ("owner", "coach", "player", "teammate", "outsider", "physio")
    ]
    admin = await api.user("admin", admin=True)
    team = await api.team(owner)
    coach_m = await api.join(team, owner, coach, role="COACH")
    player_m = await api.join(team, coach, player)
    mate_m = await api.join(team, coach, teammate)
    await api.join(team, owner, medic, role="MEDICAL")
    other_team = await api.team(outsider)
    squad = Squad(team, owner, coach, player, teammate, outsider, admin, player_m, mate_m, coach_m)

    response = await client.post(
        f"/teams/{team['id']}/seasons",
        json={"name": "2025/26", "start_date": "2025-07-01", "end_date": "2026-06-30"},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    season_id = response.json()["id"]
    session = await api.session(team, coach)
    fresh = await api.session(team, coach, start=datetime.now(UTC) - timedelta(hours=5))
    other = await api.session(other_team, outsider)
    response = await client.post(
        f"/performance/sessions/{session['id']}/attendance",
        json=[
            {"membership_id": m["id"], "status": "PRESENT", "minutes_participated": 90}
            for m in (player_m, mate_m)
        ],
        headers=coach.headers,
    )
    assert response.status_code == 200, response.text
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    for actor, membership in ((player, player_m), (teammate, mate_m)):
        response = await client.post(
            f"/performance/sessions/{session['id']}/srpe",
            json={"membership_id": membership["id"], "rpe_0_10": 6},
            headers=actor.headers,
        )
        assert response.status_code == 201, response.text
        response = await client.post(
            "/performance/wellness",
            json={
                "membership_id": membership["id"],
                "date": yesterday,
                "sleep_quality": 4,
                "mood": 4,
                "soreness": 3,
            },
            headers=actor.headers,
        )
        assert response.status_code == 201, response.text
    login_email = f"login-{uuid.uuid4().hex[:8]}@example.com"
    response = await client.post(
        "/auth/register", json={"email": login_email, "password": PASSWORD, "full_name": "Login"}
    )
    assert response.status_code == 201, response.text
    async with api.sessionmaker.begin() as db:
        pair = await tokens.issue(db, api.settings, player.id)
    health = await _health(api, squad, medic, other_team)
    return World(
        client,
        connection,
        squad,
        medic,
        season_id,
        session["id"],
        fresh["id"],
        other["id"],
        login_email,
        pair.refresh_token,
        *health,
        invited=await _invited(api, squad, login_email),
    )


async def _health(
    api: Api, squad: Squad, medic: Actor, other_team: dict[str, Any]
) -> tuple[int, int, int]:
    """An outbound webhook for alerts; the player reports a problem (an alert), the medic
    adds its clinical fields; the outsider records a problem of a player of their team."""
    client, team_id = api.client, squad.team["id"]
    response = await client.post(
        f"/teams/{team_id}/outbound-webhooks",
        json={"url": "https://93.184.215.14/hooks", "events": ["alert.created"]},
        headers=squad.owner.headers,
    )
    assert response.status_code == 201, response.text
    body = {
        "kind": "INJURY",
        "onset_date": _day(2),
        "context": "TRAINING",
        "body_area": "LOWER_LEG",
    }
    url = f"/performance/members/{squad.player_membership['id']}/health-problems"
    response = await client.post(url, json=body, headers=squad.player.headers)
    assert response.status_code == 201, response.text
    problem_id = response.json()["id"]
    response = await client.patch(
        f"/health-problems/{problem_id}", json=CLINICAL, headers=medic.headers
    )
    assert response.status_code == 200, response.text
    alerts = await client.get(f"/teams/{team_id}/alerts", headers=squad.coach.headers)
    assert [a["kind"] for a in alerts.json()] == ["HEALTH_PROBLEM_REPORTED"], alerts.text
    stranger = await api.user("stranger")
    stranger_m = await api.join(other_team, squad.outsider, stranger)
    response = await client.post(
        f"/performance/members/{stranger_m['id']}/health-problems",
        json=body,
        headers=squad.outsider.headers,
    )
    assert response.status_code == 201, response.text
    return problem_id, response.json()["id"], alerts.json()[0]["id"]


def _day(back: int) -> str:
    return (datetime.now(UTC) - timedelta(days=back)).date().isoformat()


@pytest.fixture(scope="module")
async def world(engine: AsyncEngine, settings: Settings) -> AsyncIterator[World]:
    """Built once for the module, inside a transaction rolled back at the end (like
    ``tests.conftest.sessionmaker``, but module-wide so 200+ cases stay fast).

    Argon2 at its production cost takes a quarter of a second per hash; the register and
    login rows would spend most of the module's time there, so a cheap hasher stands in.
    """
    with pytest.MonkeyPatch.context() as patch:
        cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        patch.setattr(accounts, "_hasher", cheap)
        async with _world(engine, settings) as built:
            yield built


@dataclass
class Invited:
    """Accounts: an unclaimed PLAYER and COACH of the squad's team (the player's invitation
    token), and a password reset token of the registered ``login_email``."""

    player_m: int
    coach_m: int
    token: str
    reset_token: str


RESET_TOKEN = "matrix-reset-token"


async def _invited(api: Api, squad: Squad, login_email: str) -> Invited:
    ids = []
    token = ""
    for role in ("PLAYER", "COACH"):
        response = await api.client.post(
            f"/teams/{squad.team['id']}/members",
            json={
                "email": f"invited-{role.lower()}@example.com",
                "full_name": "Invited",
                "role": role,
            },
            headers=squad.owner.headers,
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
        token = token or response.json()["invitation"]["token"]
    async with api.sessionmaker.begin() as db:
        user_id = await db.scalar(select(User.id).where(User.email == login_email))
        db.add(
            PasswordReset(
                user_id=user_id,
                token_hash=hashlib.sha256(RESET_TOKEN.encode()).hexdigest(),
                expires_at=datetime.now(UTC) + timedelta(hours=1),
            )
        )
    return Invited(ids[0], ids[1], token, RESET_TOKEN)


@asynccontextmanager
async def _world(engine: AsyncEngine, settings: Settings) -> AsyncIterator[World]:
    async with rolled_back(engine) as (connection, maker):
        transport = httpx.ASGITransport(app=create_app(settings, maker))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield await _build(Api(client, maker, settings), client, connection)


# ---- request bodies: each returns httpx keyword arguments; emails are fresh per call ----

Body = Callable[[World], dict[str, Any]]


def _email() -> str:
    return f"new-{uuid.uuid4().hex[:10]}@example.com"


def register(w: World) -> dict[str, Any]:
    return {"json": {"email": _email(), "password": "long enough pw", "full_name": "New"}}


def claim(w: World) -> dict[str, Any]:
    return {
        "json": {
            "email": "invited-player@example.com",
            "password": "long enough pw",
            "full_name": "Claimed",
            "invitation_token": w.invited.token,
        }
    }


def claim_without_token(w: World) -> dict[str, Any]:
    return {
        "json": {
            "email": "invited-player@example.com",
            "password": "long enough pw",
            "full_name": "X",
        }
    }


def reset_request(w: World) -> dict[str, Any]:
    return {"json": {"email": w.login_email}}


def reset_unknown(w: World) -> dict[str, Any]:
    return {"json": {"email": _email()}}


def reset_confirm(w: World) -> dict[str, Any]:
    return {"json": {"token": w.invited.reset_token, "password": "a new long passphrase"}}


def reset_bad_token(w: World) -> dict[str, Any]:
    return {"json": {"token": "not-a-reset-token", "password": "a new long passphrase"}}


def login(w: World) -> dict[str, Any]:
    return {"data": {"username": w.login_email, "password": PASSWORD}}


def refresh(w: World) -> dict[str, Any]:
    return {"json": {"refresh_token": w.refresh_token}}


def own_password(w: World) -> dict[str, Any]:
    return {"json": {"password": PASSWORD}}


def new_team(w: World) -> dict[str, Any]:
    return {"json": {"name": "Second XV", "timezone": "Europe/London"}}


def rename(w: World) -> dict[str, Any]:
    return {"json": {"name": "Renamed"}}


def season(w: World) -> dict[str, Any]:
    return {"json": {"name": "Pre-season", "start_date": "2026-06-01", "end_date": "2026-07-31"}}


def _member(w: World, role: str) -> dict[str, Any]:
    return {"json": {"email": _email(), "full_name": "Newcomer", "role": role}}


def add_player(w: World) -> dict[str, Any]:
    return _member(w, "PLAYER")


def add_coach(w: World) -> dict[str, Any]:
    return _member(w, "COACH")


def add_owner(w: World) -> dict[str, Any]:
    return _member(w, "OWNER")


def add_medical(w: World) -> dict[str, Any]:
    return _member(w, "MEDICAL")


def jersey(w: World) -> dict[str, Any]:
    return {"json": {"jersey_number": 11, "primary_position": "Winger"}}


def promote(w: World) -> dict[str, Any]:
    return {"json": {"role": "COACH"}}


def retire(w: World) -> dict[str, Any]:
    return {"json": {"active": False}}


def plan(w: World) -> dict[str, Any]:
    start = datetime.now(UTC) + timedelta(days=1)
    return {
        "json": {
            "team_id": w.squad.team["id"],
            "title": "Scrums",
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
        }
    }


def retitle(w: World) -> dict[str, Any]:
    return {"json": {"title": "Lineouts", "notes": "bring tape"}}


def attend(w: World) -> dict[str, Any]:
    return {
        "json": [
            {
                "membership_id": w.squad.player_membership["id"],
                "status": "LATE",
                "minutes_participated": 70,
            }
        ]
    }


def srpe(w: World) -> dict[str, Any]:
    return {
        "json": {
            "membership_id": w.squad.player_membership["id"],
            "rpe_0_10": 7.5,
            "duration_min": 45,
        }
    }


def manual_hrv(w: World) -> dict[str, Any]:
    day = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    return {"json": {"date": day, "rmssd_ms": 62.5}}


def gps_csv(w: World) -> dict[str, Any]:
    csv = "athlete_ref,date,player_load\nnobody,2026-01-05,400\n"
    return {"files": {"file": ("export.csv", csv.encode(), "text/csv")}}


def well(w: World) -> dict[str, Any]:
    return {
        "json": {
            "membership_id": w.squad.player_membership["id"],
            "sleep_quality": 4,
            "mood": 5,
            "soreness": 3,
        }
    }


def new_problem(w: World) -> dict[str, Any]:
    return {"json": {"kind": "ILLNESS", "onset_date": _day(1), "context": "OTHER"}}


def clinical_problem(w: World) -> dict[str, Any]:
    return {"json": {"kind": "INJURY", "onset_date": _day(1), "context": "MATCH", **CLINICAL}}


def resummarise(w: World) -> dict[str, Any]:
    return {"json": {"summary": "Back to running", "expected_return": _day(-7)}}


def clinical_patch(w: World) -> dict[str, Any]:
    return {"json": {"diagnosis": CLINICAL["diagnosis"]}}


def stage(w: World) -> dict[str, Any]:
    return {"json": {"from": _day(0), "availability": "MODIFIED"}}


def _this_week() -> str:
    iso = datetime.now(UTC).date().isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def ostrc_healthy(w: World) -> dict[str, Any]:
    return {"json": {"week": _this_week(), "q1": 0, "q2": 0, "q3": 0, "q4": 0}}


def ostrc_new_problem(w: World) -> dict[str, Any]:
    answers = {"q1": 2, "q2": 2, "q3": 1, "q4": 1}
    return {"json": {"week": _this_week(), **answers, "new_problem": {"kind": "INJURY"}}}


# ---- extra checks on 2xx bodies: what a caller sees, not only whether they may look ----


def srpe_rows(w: World, actor: str, body: Any) -> None:
    """Staff see every member's sRPE; a player sees their own row and nobody else's."""
    seen = {row["membership_id"] for row in body}
    ids = w.ids()
    expected = {"player": {ids["player_m"]}, "mate": {ids["mate_m"]}}.get(
        actor, {ids["player_m"], ids["mate_m"]}
    )
    assert seen == expected, (actor, body)


def sessions_seen(w: World, actor: str, body: Any) -> None:
    """The unfiltered list holds this team's sessions for its members, none for an outsider."""
    ours = {w.session_id, w.fresh_session_id}
    seen = {row["id"] for row in body}
    if actor == "other":
        assert not ours & seen, body
    else:
        assert ours <= seen, body


def own_audit(w: World, actor: str, body: Any) -> None:
    """The caller's own log names only their own membership: the player's (their report and
    the medic's clinical note were recorded while the world was built), nobody else's."""
    ids = w.ids()
    seen = {row["membership_id"] for row in body}
    expected = {"player": {ids["player_m"]}, "mate": {ids["mate_m"]}}.get(actor, set())
    assert seen <= expected, (actor, body)
    if actor == "player":
        assert seen == expected, body


MATRIX: list[tuple[str, str, Body | None]] = [
    # method and path                                    ano ply mat coa med own oth adm  body
    # operations
    ("GET /healthz", "200 200 200 200 200 200 200 200", None),
    ("GET /readyz", "200 200 200 200 200 200 200 200", None),
    ("GET /openapi.json", "200 200 200 200 200 200 200 200", None),
    # auth
    ("POST /auth/register", "201 201 201 201 201 201 201 201", register),
    ("POST /auth/token", "200 200 200 200 200 200 200 200", login),
    ("POST /auth/refresh", "200 200 200 200 200 200 200 200", refresh),
    ("GET /auth/me", "401 200 200 200 200 200 200 200", None),
    # teams and seasons
    ("POST /teams", "401 201 201 201 201 201 201 201", new_team),
    ("GET /teams", "401 200 200 200 200 200 200 200", None),
    ("GET /teams/{team}", "401 200 200 200 200 200 404 200", None),
    ("PATCH /teams/{team}", "401 403 403 403 403 200 404 200", rename),
    ("POST /teams/{team}/seasons", "401 403 403 201 403 201 404 201", season),
    ("GET /teams/{team}/seasons", "401 200 200 200 200 200 404 200", None),
    # members
    ("POST /teams/{team}/members", "401 403 403 201 403 201 404 201", add_player),
    ("POST /teams/{team}/members", "401 403 403 403 403 201 404 201", add_coach),
    ("POST /teams/{team}/members", "401 403 403 403 403 201 404 201", add_owner),
    ("POST /teams/{team}/members", "401 403 403 403 403 201 404 201", add_medical),
    ("GET /teams/{team}/members", "401 403 403 200 200 200 404 200", None),
    ("PATCH /teams/{team}/members/{player_m}", "401 403 403 200 403 200 404 200", jersey),
    ("PATCH /teams/{team}/members/{player_m}", "401 403 403 403 403 200 404 200", promote),
    ("PATCH /teams/{team}/members/{player_m}", "401 403 403 403 403 200 404 200", retire),
    # sessions and attendance
    ("POST /performance/sessions", "401 403 403 201 403 201 404 201", plan),
    ("GET /performance/sessions", "401 200 200 200 200 200 200 200", None),
    ("GET /performance/sessions?team_id={team}", "401 200 200 200 200 200 404 200", None),
    ("GET /performance/sessions/{session}", "401 200 200 200 200 200 404 200", None),
    ("PATCH /performance/sessions/{session}", "401 403 403 200 403 200 404 200", retitle),
    ("DELETE /performance/sessions/{session}", "401 403 403 204 403 204 404 204", None),
    ("POST /performance/sessions/{session}/attendance", "401 403 403 200 403 200 404 200", attend),
    ("GET /performance/sessions/{session}/attendance", "401 200 200 200 200 200 404 200", None),
    # sRPE of the player's membership
    ("POST /performance/sessions/{fresh_session}/srpe", "401 201 403 201 201 201 404 201", srpe),
    ("GET /performance/sessions/{session}/srpe", "401 200 200 200 200 200 404 200", None),
    (
        "DELETE /performance/sessions/{session}/srpe/{player_m}",
        "401 204 403 204 204 204 404 204",
        None,
    ),
    # ... and into the other team's session: nobody may (for the admin it is bad input)
    ("POST /performance/sessions/{other_session}/srpe", "401 404 404 404 404 404 404 422", srpe),
    # wellness and loads of the player's membership
    ("POST /performance/wellness", "401 201 403 201 201 201 404 201", well),
    ("GET /performance/members/{player_m}/wellness", "401 200 403 200 200 200 404 200", None),
    ("GET /performance/members/{player_m}/daily-loads", "401 200 403 200 200 200 404 200", None),
    ("GET /performance/members/{player_m}/acwr", "401 200 403 200 200 200 404 200", None),
    (
        "GET /performance/members/{player_m}/acwr?source=EXTERNAL",
        "401 200 403 200 200 200 404 200",
        None,
    ),
    ("POST /performance/members/{player_m}/hrv", "401 201 403 201 201 201 404 201", manual_hrv),
    ("GET /performance/members/{player_m}/hrv", "401 200 403 200 200 200 404 200", None),
    ("GET /performance/members/{player_m}/devices", "401 200 403 200 200 200 404 200", None),
    ("POST /teams/{team}/webhook-secret", "401 403 403 403 403 201 404 201", None),
    ("GET /teams/{team}/roster", "401 403 403 200 200 200 404 200", None),
    ("GET /teams/{team}/dashboard", "401 403 403 200 200 200 404 200", None),
    ("GET /teams/{team}/alerts", "401 403 403 200 200 200 404 200", None),
    ("GET /teams/{team}/alerts?status=all", "401 403 403 200 200 200 404 200", None),
    ("POST /teams/{team}/calendar-token", "401 403 403 201 201 201 404 201", None),
    ("GET /teams/{team}/reports/weekly.csv", "401 403 403 200 200 200 404 200", None),
    ("GET /teams/{team}/reports/weekly.pdf", "401 403 403 200 200 200 404 200", None),
    ("GET /teams/{team}/outbound-webhooks", "401 403 403 403 403 200 404 200", None),
    ("POST /teams/{team}/external-load/import", "401 403 403 200 200 200 404 200", gps_csv),
    ("GET /performance/members/{player_m}/load-summary", "401 200 403 200 200 200 404 200", None),
    ("POST /alerts/{alert}/ack", "401 403 403 200 200 200 404 200", None),
    # health problems of the player's membership (c: the answer carries the clinical fields)
    (
        "POST /performance/members/{player_m}/health-problems",
        "401 201 403 201 201 201 404 201",
        new_problem,
    ),
    (
        "POST /performance/members/{player_m}/health-problems",
        "401 403 403 403 201c 403 404 403",
        clinical_problem,
    ),
    (
        "GET /performance/members/{player_m}/health-problems",
        "401 200c 403 200 200c 200 404 200",
        None,
    ),
    (
        "GET /performance/members/{player_m}/health-problems?status=all",
        "401 200c 403 200 200c 200 404 200",
        None,
    ),
    ("GET /health-problems/{problem}", "401 200c 403 200 200c 200 404 200", None),
    ("PATCH /health-problems/{problem}", "401 200c 403 200 200c 200 404 200", resummarise),
    ("PATCH /health-problems/{problem}", "401 403 403 403 200c 403 404 403", clinical_patch),
    ("POST /health-problems/{problem}/stages", "401 403 403 200 200c 200 404 200", stage),
    ("DELETE /health-problems/{problem}", "401 403 403 403 204 204 404 204", None),
    # ... and a problem of the other team: nobody here learns that it exists
    ("GET /health-problems/{other_problem}", "401 404 404 404 404 404 200 200", None),
    ("PATCH /health-problems/{other_problem}", "401 404 404 404 404 404 200 200", resummarise),
    # OSTRC-H2 and the health report
    (
        "POST /performance/members/{player_m}/ostrc",
        "401 201 403 201 201 201 404 201",
        ostrc_healthy,
    ),
    (
        "POST /performance/members/{player_m}/ostrc",
        "401 201 403 201 201 201 404 201",
        ostrc_new_problem,
    ),
    ("GET /performance/members/{player_m}/ostrc", "401 200 403 200 200 200 404 200", None),
    ("GET /teams/{team}/health-report", "401 403 403 200 200 200 404 200", None),
    # privacy: the audit log (the owners' view of the team, everyone's view of themselves)
    ("GET /teams/{team}/audit", "401 403 403 403 403 200 404 200", None),
    ("GET /teams/{team}/audit?membership_id={player_m}", "401 403 403 403 403 200 404 200", None),
    ("GET /auth/me/audit", "401 200 200 200 200 200 200 200", None),
    # accounts: invitations and password resets (public routes: a bearer changes nothing)
    ("POST /auth/register", "201 201 201 201 201 201 201 201", claim),
    ("POST /auth/register", "409 409 409 409 409 409 409 409", claim_without_token),
    ("POST /auth/password-reset", "202 202 202 202 202 202 202 202", reset_request),
    ("POST /auth/password-reset", "202 202 202 202 202 202 202 202", reset_unknown),
    ("POST /auth/password-reset/confirm", "204 204 204 204 204 204 204 204", reset_confirm),
    ("POST /auth/password-reset/confirm", "400 400 400 400 400 400 400 400", reset_bad_token),
    (
        "POST /teams/{team}/members/{invited_player_m}/invitation",
        "401 403 403 201 403 201 404 201",
        None,
    ),
    (
        "POST /teams/{team}/members/{invited_coach_m}/invitation",
        "401 403 403 403 403 201 404 201",
        None,
    ),
    ("POST /teams/{team}/members/{player_m}/invitation", "401 403 403 409 403 409 404 409", None),
    # privacy: export and erasure (an export is the athlete's copy: clinical fields in it;
    # a team's only owner cannot delete their account, the outsider owns their team alone)
    ("GET /auth/me/export", "401 200c 200 200 200 200 200 200", None),
    ("GET /teams/{team}/members/{player_m}/export", "401 403 403 403 403 200c 404 200c", None),
    ("POST /teams/{team}/members/{player_m}/erase", "401 403 403 403 403 204 404 204", None),
    ("DELETE /auth/me", "401 204 204 204 204 409 409 204", own_password),
]

# Extra checks on a 2xx body, by route: what a caller sees, not only whether they may look.
CHECKS: dict[str, Callable[[World, str, Any], None]] = {
    "GET /performance/sessions": sessions_seen,
    "GET /performance/sessions/{session}/srpe": srpe_rows,
    "GET /auth/me/audit": own_audit,
}

CASES = [
    pytest.param(
        route,
        body,
        actor,
        int(expected.removesuffix("c")),
        expected.endswith("c"),
        id=f"{route}{'-' + body.__name__ if body else ''}-{actor}",
    )
    for route, statuses, body in MATRIX
    for actor, expected in zip(ACTORS, statuses.split(), strict=True)
]


def _readable(response: httpx.Response) -> str:
    """The answer as text; a ZIP (an export) unpacked, so its files are searched too."""
    if response.headers.get("content-type") == "application/zip":
        archive = zipfile.ZipFile(io.BytesIO(response.content))
        return "\n".join(archive.read(name).decode() for name in archive.namelist())
    return response.content.decode("latin-1")


def assert_problem(response: httpx.Response) -> None:
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    problem = response.json()
    assert problem["status"] == response.status_code, problem
    assert problem["title"] and problem["detail"], problem


@pytest.mark.parametrize(("route", "body", "actor", "expected", "clinical"), CASES)
async def test_permission_matrix(
    world: World, route: str, body: Body | None, actor: str, expected: int, clinical: bool
) -> None:
    method, path = route.split(" ", 1)
    who = world.actor(actor)
    async with world.isolated():
        response = await world.client.request(
            method,
            path.format(**world.ids()),
            headers=who.headers if who else {},
            **(body(world) if body else {}),
        )
    assert response.status_code == expected, (actor, route, response.text)
    if 400 <= response.status_code < 500:
        assert_problem(response)
    if route in CHECKS and response.is_success:
        CHECKS[route](world, actor, response.json())
    answer = _readable(response)
    shown = [name for name, value in CLINICAL.items() if value in answer]
    assert shown == (list(CLINICAL) if clinical else []), (actor, route, shown)


async def test_no_outbound_payload_carries_a_clinical_field(world: World) -> None:
    """The player's report raised an alert, sent to the team's webhook: its payload (and
    every other one queued while the world was built) holds no clinical value."""
    payloads = list(await world.connection.scalars(select(OutboundDelivery.payload)))
    assert [payload["kind"] for payload in payloads] == ["HEALTH_PROBLEM_REPORTED"]
    for payload in payloads:
        assert not [value for value in CLINICAL.values() if value in repr(payload)], payload
