"""Bad input: the exact status, a problem+json body naming the field, and no change stored.

Every case sends one bad request, checks the answer (status, ``application/problem+json``
with ``status``, ``title`` and ``detail``, and for a 422 an ``errors[*].loc`` that names the
field) and then re-reads what the request could have changed, through the API, to check
that nothing did.

The world (a squad, sessions, some sRPE and wellness) is built once for the module; each
test runs inside a SAVEPOINT that is rolled back, so tests cannot see each other's writes.
"""

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.config import Settings
from app.main import create_app
from tests.fixtures.actors import PASSWORD, Actor, Api, Squad
from tests.fixtures.databases import rolled_back

UNKNOWN = 999_999_999  # an id no row has


@dataclass
class World:
    client: httpx.AsyncClient
    connection: AsyncConnection
    squad: Squad
    session: dict[str, Any]  # started 3 h ago; player and mate PRESENT, mate has an sRPE
    future: dict[str, Any]  # starts tomorrow
    foreign_m: int  # a PLAYER membership of the outsider's team
    foreign_session: dict[str, Any]  # a started session of the outsider's team

    @property
    def team_id(self) -> int:
        return int(self.squad.team["id"])

    @property
    def player_m(self) -> int:
        return int(self.squad.player_membership["id"])

    @property
    def mate_m(self) -> int:
        return int(self.squad.teammate_membership["id"])

    def ids(self) -> dict[str, int]:
        return {
            "team": self.team_id,
            "session": self.session["id"],
            "future": self.future["id"],
            "player_m": self.player_m,
            "mate_m": self.mate_m,
            "foreign_m": self.foreign_m,
            "foreign_session": self.foreign_session["id"],
            "unknown": UNKNOWN,
        }

    async def call(
        self, method: str, path: str, actor: Actor | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {**(actor.headers if actor else {}), **kwargs.pop("headers", {})}
        return await self.client.request(
            method, path.format(**self.ids()), headers=headers, **kwargs
        )

    async def read(self, *paths: str) -> dict[str, Any]:
        """What the admin sees at these paths: re-read before and after a bad request."""
        seen = {}
        for path in paths:
            response = await self.call("GET", path, self.squad.admin)
            assert response.status_code == 200, (path, response.text)
            seen[path] = response.json()
        return seen

    @asynccontextmanager
    async def isolated(self) -> AsyncIterator[None]:
        savepoint = await self.connection.begin_nested()
        try:
            yield
        finally:
            await savepoint.rollback()


async def _build(api: Api, client: httpx.AsyncClient, connection: AsyncConnection) -> World:
    owner, coach, player, teammate, outsider, stranger = [
        await api.user(name)
        for name in ("owner", "coach", "player", "teammate", "outsider", "stranger")
    ]
    admin = await api.user("admin", admin=True)
    team = await api.team(owner)
    coach_m = await api.join(team, owner, coach, role="COACH")
    player_m = await api.join(team, coach, player, jersey_number=9)
    mate_m = await api.join(team, coach, teammate)
    other_team = await api.team(outsider)
    foreign_m = await api.join(other_team, outsider, stranger)
    squad = Squad(team, owner, coach, player, teammate, outsider, admin, player_m, mate_m, coach_m)

    session = await api.session(team, coach, notes="Contact drills")
    future = await api.session(team, coach, start=datetime.now(UTC) + timedelta(days=1))
    foreign_session = await api.session(other_team, outsider)
    response = await client.post(
        f"/performance/sessions/{session['id']}/attendance",
        json=[
            {"membership_id": m["id"], "status": "PRESENT", "minutes_participated": 60}
            for m in (player_m, mate_m)
        ],
        headers=coach.headers,
    )
    assert response.status_code == 200, response.text
    response = await client.post(
        f"/performance/sessions/{session['id']}/srpe",
        json={"membership_id": mate_m["id"], "rpe_0_10": 6},
        headers=teammate.headers,
    )
    assert response.status_code == 201, response.text
    response = await client.post(
        "/performance/wellness",
        json={
            "membership_id": player_m["id"],
            "date": _days_ago(1).isoformat(),
            "sleep_quality": 4,
            "mood": 4,
            "soreness": 3,
            "notes": "slept well",
        },
        headers=player.headers,
    )
    assert response.status_code == 201, response.text
    return World(client, connection, squad, session, future, foreign_m["id"], foreign_session)


@pytest.fixture(scope="module")
async def world(engine: AsyncEngine, settings: Settings) -> AsyncIterator[World]:
    """Built once, in a transaction rolled back at the end (as ``tests.conftest.sessionmaker``)."""
    async with rolled_back(engine) as (connection, maker):
        transport = httpx.ASGITransport(app=create_app(settings, maker))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield await _build(Api(client, maker, settings), client, connection)


@pytest.fixture
async def w(world: World) -> AsyncIterator[World]:
    async with world.isolated():
        yield world


def _days_ago(n: int) -> date:
    return datetime.now(UTC).date() - timedelta(days=n)


def _at(hours: float) -> str:
    """An RFC 3339 instant with an offset, ``hours`` from now."""
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def assert_problem(
    response: httpx.Response, status: int, loc: tuple[str | int, ...] | None = None
) -> dict[str, Any]:
    """``status`` as problem+json; for a 422 some error's ``loc`` starts with ``loc``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status, problem
    assert problem["title"] and problem["detail"], problem
    if status == 422:
        assert loc is not None, "a 422 test must say which field it names"
        locs = [tuple(error["loc"]) for error in problem["errors"]]
        assert any(found[: len(loc)] == loc for found in locs), (loc, locs)
    return problem


def assert_names(problem: dict[str, Any], prefix: tuple[str, ...], fields: set[str]) -> None:
    """A cross-field rule: some error's loc starts with ``prefix`` and names one of ``fields``."""
    locs = [tuple(error["loc"]) for error in problem["errors"]]
    named = [loc for loc in locs if loc[: len(prefix)] == prefix and fields & set(map(str, loc))]
    assert named, (fields, locs)


SESSION = "/performance/sessions/{session}"
SESSIONS = "/performance/sessions?limit=1000"
ATTENDANCE = SESSION + "/attendance"
SRPE = SESSION + "/srpe"
WELLNESS = "/performance/members/{player_m}/wellness"
LOADS = "/performance/members/{player_m}/daily-loads"
MEMBERS = "/teams/{team}/members"
TEAM = "/teams/{team}"


def session_body(w: World, **changes: Any) -> dict[str, Any]:
    return {"team_id": w.team_id, "title": "Scrums", "start": _at(24), "end": _at(25), **changes}


def srpe_body(w: World, **changes: Any) -> dict[str, Any]:
    return {"membership_id": w.player_m, "rpe_0_10": 7, "duration_min": 60, **changes}


def wellness_body(w: World, **changes: Any) -> dict[str, Any]:
    return {"membership_id": w.player_m, "sleep_quality": 4, "mood": 4, "soreness": 4, **changes}


def member_body(w: World, **changes: Any) -> dict[str, Any]:
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    return {"email": email, "full_name": "Newcomer", "role": "PLAYER", **changes}


# ---------------------------------------------------------------- unknown ids -> 404

UNKNOWN_IDS = [
    # method, path, actor, body (or None), what must stay as it was
    ("GET", "/teams/{unknown}", "coach", None, [TEAM]),
    ("PATCH", "/teams/{unknown}", "admin", {"name": "X"}, ["/teams"]),
    ("GET", "/teams/{unknown}/members", "admin", None, [MEMBERS]),
    ("POST", "/teams/{unknown}/members", "admin", member_body, [MEMBERS]),
    ("PATCH", "/teams/{team}/members/{unknown}", "owner", {"jersey_number": 1}, [MEMBERS]),
    ("PATCH", "/teams/{team}/members/{foreign_m}", "owner", {"jersey_number": 1}, [MEMBERS]),
    (
        "POST",
        "/teams/{unknown}/seasons",
        "admin",
        {"name": "S", "start_date": "2026-01-01", "end_date": "2026-02-01"},
        ["/teams"],
    ),
    (
        "POST",
        "/performance/sessions",
        "admin",
        lambda w: session_body(w, team_id=UNKNOWN),
        [SESSIONS],
    ),
    (
        "POST",
        "/performance/sessions",
        "coach",
        lambda w: session_body(w, season_id=UNKNOWN),
        [SESSIONS],
    ),
    ("GET", "/performance/sessions?team_id={unknown}", "coach", None, [SESSIONS]),
    ("GET", "/performance/sessions/{unknown}", "coach", None, [SESSIONS]),
    ("PATCH", "/performance/sessions/{unknown}", "coach", {"title": "X"}, [SESSIONS]),
    ("DELETE", "/performance/sessions/{unknown}", "coach", None, [SESSIONS]),
    (
        "POST",
        "/performance/sessions/{unknown}/attendance",
        "coach",
        lambda w: [{"membership_id": w.player_m, "status": "ABSENT"}],
        [ATTENDANCE],
    ),
    ("GET", "/performance/sessions/{unknown}/attendance", "coach", None, [ATTENDANCE]),
    ("POST", "/performance/sessions/{unknown}/srpe", "coach", srpe_body, [SRPE, LOADS]),
    ("GET", "/performance/sessions/{unknown}/srpe", "coach", None, [SRPE]),
    ("POST", SRPE, "coach", lambda w: srpe_body(w, membership_id=UNKNOWN), [SRPE]),
    ("DELETE", SRPE + "/{unknown}", "coach", None, [SRPE]),
    ("DELETE", SRPE + "/{player_m}", "coach", None, [SRPE]),  # the player has no sRPE here
    (
        "POST",
        "/performance/wellness",
        "coach",
        lambda w: wellness_body(w, membership_id=UNKNOWN),
        [WELLNESS],
    ),
    ("GET", "/performance/members/{unknown}/wellness", "coach", None, [WELLNESS]),
    ("GET", "/performance/members/{unknown}/daily-loads", "coach", None, [LOADS]),
]


@pytest.mark.parametrize(
    ("method", "path", "actor", "body", "watch"),
    [pytest.param(*case, id=f"{case[0]} {case[1]}") for case in UNKNOWN_IDS],
)
async def test_unknown_id_is_404(
    w: World, method: str, path: str, actor: str, body: Any, watch: list[str]
) -> None:
    before = await w.read(*watch)
    payload = body(w) if callable(body) else body
    kwargs = {} if payload is None else {"json": payload}
    response = await w.call(method, path, getattr(w.squad, actor), **kwargs)
    assert_problem(response, 404)
    assert await w.read(*watch) == before


# ------------------------------------------------- references across teams, inactive members


async def test_attendance_for_a_membership_of_another_team_is_422(w: World) -> None:
    before = await w.read(ATTENDANCE)
    response = await w.call(
        "POST",
        ATTENDANCE,
        w.squad.coach,
        json=[
            {"membership_id": w.player_m, "status": "ABSENT"},
            {"membership_id": w.foreign_m, "status": "PRESENT"},
        ],
    )
    assert_problem(response, 422, ("body", 1, "membership_id"))
    assert await w.read(ATTENDANCE) == before  # the valid first entry was not written either


INACTIVE_WRITES = [
    ("POST", "/performance/wellness", wellness_body, [WELLNESS]),
    ("POST", SRPE, srpe_body, [SRPE, LOADS]),
    ("POST", ATTENDANCE, lambda w: [{"membership_id": w.player_m, "status": "LATE"}], [ATTENDANCE]),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "watch"), INACTIVE_WRITES, ids=["wellness", "srpe", "attendance"]
)
async def test_new_entries_for_an_inactive_membership_are_409(
    w: World, method: str, path: str, body: Callable[[World], Any], watch: list[str]
) -> None:
    response = await w.call(
        "PATCH", "/teams/{team}/members/{player_m}", w.squad.owner, json={"active": False}
    )
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False
    before = await w.read(*watch)
    for staff in (w.squad.coach, w.squad.owner):
        response = await w.call(method, path, staff, json=body(w))
        assert_problem(response, 409)
    assert await w.read(*watch) == before


# ---------------------------------------------------------------- malformed JSON -> 400

MALFORMED = [
    ("POST", "/performance/sessions", [SESSIONS]),
    ("PATCH", SESSION, [SESSIONS]),
    ("POST", ATTENDANCE, [ATTENDANCE]),
    ("POST", SRPE, [SRPE]),
    ("POST", "/performance/wellness", [WELLNESS]),
    ("POST", "/teams", ["/teams"]),
    ("PATCH", TEAM, [TEAM]),
    ("POST", MEMBERS, [MEMBERS]),
    ("PATCH", "/teams/{team}/members/{player_m}", [MEMBERS]),
    ("POST", "/auth/register", []),
    ("POST", "/auth/password-reset", []),
    ("POST", "/auth/password-reset/confirm", []),
]


@pytest.mark.parametrize(
    ("method", "path", "watch"), MALFORMED, ids=[f"{m} {p}" for m, p, _ in MALFORMED]
)
async def test_malformed_json_is_400(w: World, method: str, path: str, watch: list[str]) -> None:
    before = await w.read(*watch)
    response = await w.call(
        method,
        path,
        w.squad.owner,
        content=b'{"title": "Scrums",',
        headers={"content-type": "application/json"},
    )
    assert_problem(response, 400)
    assert await w.read(*watch) == before


# -------------------------------------------------------------- field rules -> 422

FIELD_RULES = [
    # id, method, path, actor, body, loc, what must stay as it was
    (
        "title 121",
        "POST",
        "/performance/sessions",
        "coach",
        lambda w: session_body(w, title="t" * 121),
        ("body", "title"),
        [SESSIONS],
    ),
    (
        "title 121 patch",
        "PATCH",
        SESSION,
        "coach",
        lambda w: {"title": "t" * 121},
        ("body", "title"),
        [SESSIONS],
    ),
    (
        "session notes 5001",
        "POST",
        "/performance/sessions",
        "coach",
        lambda w: session_body(w, notes="n" * 5001),
        ("body", "notes"),
        [SESSIONS],
    ),
    (
        "session notes 5001 patch",
        "PATCH",
        SESSION,
        "coach",
        lambda w: {"notes": "n" * 5001},
        ("body", "notes"),
        [SESSIONS],
    ),
    (
        "wellness notes 5001",
        "POST",
        "/performance/wellness",
        "player",
        lambda w: wellness_body(w, notes="n" * 5001),
        ("body", "notes"),
        [WELLNESS],
    ),
    (
        "member full_name 201",
        "POST",
        MEMBERS,
        "owner",
        lambda w: member_body(w, full_name="f" * 201),
        ("body", "full_name"),
        [MEMBERS],
    ),
    (
        "team name 121",
        "POST",
        "/teams",
        "coach",
        lambda w: {"name": "n" * 121},
        ("body", "name"),
        ["/teams"],
    ),
    (
        "naive start",
        "POST",
        "/performance/sessions",
        "coach",
        lambda w: session_body(w, start="2026-03-01T10:00:00", end="2026-03-01T11:00:00+00:00"),
        ("body", "start"),
        [SESSIONS],
    ),
    (
        "naive start patch",
        "PATCH",
        SESSION,
        "coach",
        lambda w: {"start": "2026-03-01T10:00:00"},
        ("body", "start"),
        [SESSIONS, LOADS],
    ),
    (
        "end before start patch",
        "PATCH",
        SESSION,
        "coach",
        lambda w: {"end": (datetime.now(UTC) - timedelta(days=1)).isoformat()},
        ("body", "end"),
        [SESSIONS, LOADS],
    ),
    (
        "unknown zone",
        "POST",
        "/teams",
        "coach",
        lambda w: {"name": "Mars XV", "timezone": "Mars/Olympus_Mons"},
        ("body", "timezone"),
        ["/teams"],
    ),
    (
        "unknown zone patch",
        "PATCH",
        TEAM,
        "owner",
        lambda w: {"timezone": "Europe/Atlantis"},
        ("body", "timezone"),
        [TEAM, SESSIONS],
    ),
    (
        "rpe 10.1",
        "POST",
        SRPE,
        "player",
        lambda w: srpe_body(w, rpe_0_10=10.1),
        ("body", "rpe_0_10"),
        [SRPE, LOADS],
    ),
    (
        "rpe -0.5",
        "POST",
        SRPE,
        "player",
        lambda w: srpe_body(w, rpe_0_10=-0.5),
        ("body", "rpe_0_10"),
        [SRPE, LOADS],
    ),
    (
        "rpe 7.25",
        "POST",
        SRPE,
        "player",
        lambda w: srpe_body(w, rpe_0_10=7.25),
        ("body", "rpe_0_10"),
        [SRPE, LOADS],
    ),
    (
        "duration 0",
        "POST",
        SRPE,
        "coach",
        lambda w: srpe_body(w, duration_min=0),
        ("body", "duration_min"),
        [SRPE, LOADS],
    ),
    (
        "duration 601",
        "POST",
        SRPE,
        "coach",
        lambda w: srpe_body(w, duration_min=601),
        ("body", "duration_min"),
        [SRPE, LOADS],
    ),
    (
        "duration 45.5",
        "POST",
        SRPE,
        "coach",
        lambda w: srpe_body(w, duration_min=45.5),
        ("body", "duration_min"),
        [SRPE, LOADS],
    ),
    (
        "sleep_quality 0",
        "POST",
        "/performance/wellness",
        "player",
        lambda w: wellness_body(w, sleep_quality=0),
        ("body", "sleep_quality"),
        [WELLNESS],
    ),
    (
        "sleep_quality 6",
        "POST",
        "/performance/wellness",
        "player",
        lambda w: wellness_body(w, sleep_quality=6),
        ("body", "sleep_quality"),
        [WELLNESS],
    ),
    (
        "stress 0",
        "POST",
        "/performance/wellness",
        "player",
        lambda w: wellness_body(w, stress=0),
        ("body", "stress"),
        [WELLNESS],
    ),
    (
        "fatigue 6",
        "POST",
        "/performance/wellness",
        "coach",
        lambda w: wellness_body(w, fatigue=6),
        ("body", "fatigue"),
        [WELLNESS],
    ),
    (
        "wellness tomorrow",
        "POST",
        "/performance/wellness",
        "player",
        lambda w: wellness_body(w, date=_days_ago(-1).isoformat()),
        ("body", "date"),
        [WELLNESS],
    ),
    (
        "chronic_days 91",
        "PATCH",
        TEAM,
        "owner",
        lambda w: {"acwr": {"chronic_days": 91}},
        ("body", "acwr", "chronic_days"),
        [TEAM],
    ),
    (
        "null title",
        "PATCH",
        SESSION,
        "coach",
        lambda w: {"title": None},
        ("body", "title"),
        [SESSIONS],
    ),
    (
        "null start",
        "PATCH",
        SESSION,
        "coach",
        lambda w: {"start": None},
        ("body", "start"),
        [SESSIONS],
    ),
    (
        "null session_type",
        "PATCH",
        SESSION,
        "coach",
        lambda w: {"session_type": None},
        ("body", "session_type"),
        [SESSIONS],
    ),
    ("null team name", "PATCH", TEAM, "owner", lambda w: {"name": None}, ("body", "name"), [TEAM]),
    (
        "null acwr low",
        "PATCH",
        TEAM,
        "owner",
        lambda w: {"acwr": {"low": None}},
        ("body", "acwr", "low"),
        [TEAM],
    ),
    (
        "null member role",
        "PATCH",
        "/teams/{team}/members/{player_m}",
        "owner",
        lambda w: {"role": None},
        ("body", "role"),
        [MEMBERS],
    ),
    (
        "null member active",
        "PATCH",
        "/teams/{team}/members/{player_m}",
        "owner",
        lambda w: {"active": None},
        ("body", "active"),
        [MEMBERS],
    ),
    (
        "unknown session_type",
        "POST",
        "/performance/sessions",
        "coach",
        lambda w: session_body(w, session_type="YOGA"),
        ("body", "session_type"),
        [SESSIONS],
    ),
    (
        "unknown attendance status",
        "POST",
        ATTENDANCE,
        "coach",
        lambda w: [{"membership_id": w.player_m, "status": "ASLEEP"}],
        ("body", 0, "status"),
        [ATTENDANCE],
    ),
    (
        "minutes_participated 601",
        "POST",
        ATTENDANCE,
        "coach",
        lambda w: [{"membership_id": w.player_m, "minutes_participated": 601}],
        ("body", 0, "minutes_participated"),
        [ATTENDANCE],
    ),
    (
        "unknown field",
        "POST",
        "/performance/wellness",
        "player",
        lambda w: wellness_body(w, energy=5),
        ("body", "energy"),
        [WELLNESS],
    ),
    (
        "missing field",
        "POST",
        "/performance/wellness",
        "player",
        lambda w: {"membership_id": w.player_m, "sleep_quality": 4, "mood": 4},
        ("body", "soreness"),
        [WELLNESS],
    ),
    (
        "object instead of list",
        "POST",
        ATTENDANCE,
        "coach",
        lambda w: {"membership_id": w.player_m, "status": "LATE"},
        ("body",),
        [ATTENDANCE],
    ),
    (
        "member email",
        "POST",
        MEMBERS,
        "owner",
        lambda w: member_body(w, email="not-an-email"),
        ("body", "email"),
        [MEMBERS],
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "actor", "body", "loc", "watch"),
    [pytest.param(*case[1:], id=case[0]) for case in FIELD_RULES],
)
async def test_field_rule_is_422(
    w: World,
    method: str,
    path: str,
    actor: str | None,
    body: Callable[[World], Any],
    loc: tuple[str | int, ...],
    watch: list[str],
) -> None:
    before = await w.read(*watch)
    response = await w.call(method, path, getattr(w.squad, actor) if actor else None, json=body(w))
    assert_problem(response, 422, loc)
    assert await w.read(*watch) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("password", "x" * 7),
        ("full_name", "f" * 201),
        ("full_name", ""),
        ("email", "not-an-email"),
    ],
    ids=["password 7", "full_name 201", "full_name empty", "email"],
)
async def test_register_rule_is_422(w: World, field: str, value: str) -> None:
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    body = {"email": email, "password": "long enough pw", "full_name": "New", field: value}
    response = await w.call("POST", "/auth/register", json=body)
    assert_problem(response, 422, ("body", field))
    login = await w.call(
        "POST", "/auth/token", data={"username": body["email"], "password": body["password"]}
    )
    assert_problem(login, 401)  # no account was made


CROSS_FIELD_RULES = [
    # id, method, path, body, loc prefix, any of these fields named
    (
        "end before start",
        "POST",
        "/performance/sessions",
        lambda w: session_body(w, start=_at(25), end=_at(24)),
        ("body",),
        {"end", "start"},
    ),
    (
        "end equals start",
        "POST",
        "/performance/sessions",
        lambda w: session_body(
            w, start="2026-03-01T10:00:00+00:00", end="2026-03-01T11:00:00+01:00"
        ),
        ("body",),
        {"end", "start"},
    ),
    (
        "acute_days = chronic_days",
        "PATCH",
        TEAM,
        lambda w: {"acwr": {"acute_days": 28}},
        ("body", "acwr"),
        {"acute_days", "chronic_days"},
    ),
    (
        "acute_days > chronic_days",
        "PATCH",
        TEAM,
        lambda w: {"acwr": {"acute_days": 21, "chronic_days": 14}},
        ("body", "acwr"),
        {"acute_days", "chronic_days"},
    ),
    (
        "low = high",
        "PATCH",
        TEAM,
        lambda w: {"acwr": {"low": 1.3}},
        ("body", "acwr"),
        {"low", "high"},
    ),
    (
        "low > high",
        "PATCH",
        TEAM,
        lambda w: {"acwr": {"low": 1.2, "high": 1.0}},
        ("body", "acwr"),
        {"low", "high"},
    ),
    (
        "high > danger",
        "PATCH",
        TEAM,
        lambda w: {"acwr": {"high": 1.5}},
        ("body", "acwr"),
        {"high", "danger"},
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "prefix", "fields"),
    [pytest.param(*case[1:], id=case[0]) for case in CROSS_FIELD_RULES],
)
async def test_cross_field_rule_is_422_naming_a_field(
    w: World,
    method: str,
    path: str,
    body: Callable[[World], Any],
    prefix: tuple[str, ...],
    fields: set[str],
) -> None:
    watch = [TEAM, SESSIONS]
    before = await w.read(*watch)
    response = await w.call(method, path, w.squad.owner, json=body(w))
    problem = assert_problem(response, 422, prefix)
    assert_names(problem, prefix, fields)
    assert await w.read(*watch) == before


QUERY_RULES = [
    # id, path, loc
    ("sessions limit 1001", "/performance/sessions?limit=1001", ("query", "limit")),
    ("members limit 1001", MEMBERS + "?limit=1001", ("query", "limit")),
    ("srpe limit 1001", SRPE + "?limit=1001", ("query", "limit")),
    ("wellness limit 1001", WELLNESS + "?limit=1001", ("query", "limit")),
    ("limit 0", "/performance/sessions?limit=0", ("query", "limit")),
    ("offset -1", "/performance/sessions?offset=-1", ("query", "offset")),
    ("not a date", LOADS + "?from=2026-13-01", ("query", "from")),
    ("not an id", "/performance/sessions/abc", ("path", "session_id")),
    ("team_id not an id", "/performance/sessions?team_id=abc", ("query", "team_id")),
]


@pytest.mark.parametrize(("path", "loc"), [pytest.param(*c[1:], id=c[0]) for c in QUERY_RULES])
async def test_query_rule_is_422(w: World, path: str, loc: tuple[str, ...]) -> None:
    assert_problem(await w.call("GET", path, w.squad.coach), 422, loc)


@pytest.mark.parametrize("path", [LOADS, WELLNESS])
async def test_series_range(w: World, path: str) -> None:
    today = datetime.now(UTC).date()
    too_long = f"{path}?from={today - timedelta(days=731)}&to={today}"
    problem = assert_problem(await w.call("GET", too_long, w.squad.coach), 422, ("query",))
    assert_names(problem, ("query",), {"from", "to"})
    backwards = f"{path}?from={today}&to={today - timedelta(days=1)}"
    problem = assert_problem(await w.call("GET", backwards, w.squad.coach), 422, ("query",))
    assert_names(problem, ("query",), {"from", "to"})
    longest = await w.call(
        "GET", f"{path}?from={today - timedelta(days=730)}&to={today}", w.squad.coach
    )
    assert longest.status_code == 200, longest.text
    if path == LOADS:
        days = [row["date"] for row in longest.json()]
        assert len(days) == 731
        assert days[0] == (today - timedelta(days=730)).isoformat()
        assert days[-1] == today.isoformat()


HUGE_IDS = [
    # method, path, body, loc (should the answer be a 422)
    ("GET", "/performance/sessions/{huge}", None, ("path", "session_id")),
    ("GET", "/teams/{huge}", None, ("path", "team_id")),
    ("GET", "/performance/sessions?team_id={huge}", None, ("query", "team_id")),
    ("GET", "/performance/members/{huge}/daily-loads", None, ("path", "membership_id")),
    (
        "POST",
        "/performance/wellness",
        lambda w, n: wellness_body(w, membership_id=n),
        ("body", "membership_id"),
    ),
    ("POST", SRPE, lambda w, n: srpe_body(w, membership_id=n), ("body", "membership_id")),
    ("POST", ATTENDANCE, lambda w, n: [{"membership_id": n}], ("body", 0, "membership_id")),
]


@pytest.mark.parametrize("huge", [2**31, 2**63], ids=["2^31", "2^63"])
@pytest.mark.parametrize(
    ("method", "path", "body", "loc"), [pytest.param(*c, id=f"{c[0]} {c[1]}") for c in HUGE_IDS]
)
async def test_an_id_beyond_the_integer_columns_is_not_a_server_error(
    w: World,
    method: str,
    path: str,
    body: Callable[[World, int], Any] | None,
    loc: tuple[str | int, ...],
    huge: int,
) -> None:
    """Unknown (404) or invalid (422), never a 5xx: PostgreSQL ids are int4, SQLite's int8."""
    kwargs = {} if body is None else {"json": body(w, huge)}
    response = await w.call(method, path.replace("{huge}", str(huge)), w.squad.coach, **kwargs)
    assert response.status_code in (404, 422), response.text
    assert_problem(response, response.status_code, loc)


# ------------------------------------------------------------- limits are inclusive

BOUNDARIES = [
    (
        "title 120",
        "POST",
        "/performance/sessions",
        "coach",
        lambda w: session_body(w, title="t" * 120, notes="n" * 5000),
        201,
    ),
    ("full_name 200", "POST", MEMBERS, "coach", lambda w: member_body(w, full_name="f" * 200), 201),
    (
        "rpe 10.0, 600 min",
        "POST",
        SRPE,
        "player",
        lambda w: srpe_body(w, rpe_0_10=10.0, duration_min=600),
        201,
    ),
    (
        "rpe 0, 1 min",
        "POST",
        SRPE,
        "player",
        lambda w: srpe_body(w, rpe_0_10=0, duration_min=1),
        201,
    ),
    (
        "items 1 and 5, today",
        "POST",
        "/performance/wellness",
        "player",
        lambda w: wellness_body(
            w,
            sleep_quality=1,
            mood=5,
            soreness=1,
            stress=5,
            fatigue=1,
            date=datetime.now(UTC).date().isoformat(),
            notes="n" * 5000,
        ),
        201,
    ),
    (
        "acute 89, chronic 90",
        "PATCH",
        TEAM,
        "owner",
        lambda w: {"acwr": {"acute_days": 89, "chronic_days": 90}},
        200,
    ),
    ("high = danger", "PATCH", TEAM, "owner", lambda w: {"acwr": {"high": 1.4}}, 200),
    ("nullable notes", "PATCH", SESSION, "coach", lambda w: {"notes": None}, 200),
]


@pytest.mark.parametrize(
    ("method", "path", "actor", "body", "status"),
    [pytest.param(*c[1:], id=c[0]) for c in BOUNDARIES],
)
async def test_values_at_the_limits_are_accepted(
    w: World, method: str, path: str, actor: str, body: Callable[[World], Any], status: int
) -> None:
    response = await w.call(method, path, getattr(w.squad, actor), json=body(w))
    assert response.status_code == status, response.text


async def test_limit_1000_is_accepted(w: World) -> None:
    for path in (
        "/performance/sessions?limit=1000",
        MEMBERS + "?limit=1000",
        SRPE + "?limit=1000",
        WELLNESS + "?limit=1000",
    ):
        response = await w.call("GET", path, w.squad.coach)
        assert response.status_code == 200, (path, response.text)


# ---------------------------------------------------------- conflicts with state -> 409


async def test_duplicate_register_is_409(w: World) -> None:
    player = w.squad.player
    me = await w.call("GET", "/auth/me", player)
    for email in (player.email, player.email.upper()):
        response = await w.call(
            "POST",
            "/auth/register",
            json={"email": email, "password": "another password", "full_name": "Impostor"},
        )
        assert_problem(response, 409)
    assert (await w.call("GET", "/auth/me", player)).json() == me.json()
    login = await w.call(
        "POST", "/auth/token", data={"username": player.email, "password": PASSWORD}
    )
    assert login.status_code == 200, login.text  # the old password still works


async def test_duplicate_member_is_409(w: World) -> None:
    before = await w.read(MEMBERS)
    for email in (w.squad.teammate.email, w.squad.teammate.email.upper()):
        response = await w.call(
            "POST", MEMBERS, w.squad.owner, json=member_body(w, email=email, role="COACH")
        )
        assert_problem(response, 409)
    assert await w.read(MEMBERS) == before


async def test_srpe_before_the_session_started_is_409(w: World) -> None:
    watch = ["/performance/sessions/{future}/srpe", LOADS]
    before = await w.read(*watch)
    for actor in (w.squad.player, w.squad.coach):
        response = await w.call(
            "POST", "/performance/sessions/{future}/srpe", actor, json=srpe_body(w)
        )
        assert_problem(response, 409)
    assert await w.read(*watch) == before


async def test_srpe_for_an_absent_member_is_409(w: World) -> None:
    response = await w.call(
        "POST", ATTENDANCE, w.squad.coach, json=[{"membership_id": w.player_m, "status": "ABSENT"}]
    )
    assert response.status_code == 200, response.text
    before = await w.read(SRPE, LOADS)
    for actor in (w.squad.player, w.squad.coach):
        response = await w.call("POST", SRPE, actor, json=srpe_body(w))
        assert_problem(response, 409)
        response = await w.call("POST", SRPE, actor, json=srpe_body(w, duration_min=None))
        assert_problem(response, 409)
    assert await w.read(SRPE, LOADS) == before


# -------------------------------------------------------------------- Idempotency-Key

Request = Callable[[World], Awaitable[httpx.Response]]


def _post(path: str, actor: str, body: Callable[[World], Any], key: str) -> Request:
    async def send(w: World) -> httpx.Response:
        return await w.call(
            "POST", path, getattr(w.squad, actor), json=body(w), headers={"Idempotency-Key": key}
        )

    return send


IDEMPOTENT = [
    # id, path, actor, body, the list that must hold one new row, status of the first answer
    (
        "session",
        "/performance/sessions",
        "coach",
        lambda w: session_body(
            w, start="2026-03-01T10:00:00+01:00", end="2026-03-01T11:30:00+01:00"
        ),
        SESSIONS,
        201,
    ),
    ("srpe", SRPE, "player", srpe_body, SRPE, 201),
    ("wellness", "/performance/wellness", "player", wellness_body, WELLNESS, 201),
    ("member", MEMBERS, "coach", lambda w: member_body(w, email="fixed@example.com"), MEMBERS, 201),
]


@pytest.mark.parametrize(
    ("path", "actor", "body", "listing", "status"),
    [pytest.param(*c[1:], id=c[0]) for c in IDEMPOTENT],
)
async def test_idempotency_key_replays_the_first_answer(
    w: World, path: str, actor: str, body: Callable[[World], Any], listing: str, status: int
) -> None:
    before = (await w.read(listing))[listing]
    send = _post(path, actor, body, f"key-{uuid.uuid4().hex}")
    first = await send(w)
    assert first.status_code == status, first.text
    second = await send(w)
    assert second.status_code == first.status_code
    assert json.loads(second.content) == json.loads(first.content)
    assert second.content == first.content
    after = (await w.read(listing))[listing]
    assert len(after) == len(before) + 1, after


async def test_idempotency_key_with_another_body_is_422(w: World) -> None:
    key = f"key-{uuid.uuid4().hex}"
    first = await w.call(
        "POST",
        "/performance/sessions",
        w.squad.coach,
        json=session_body(w, title="Scrums"),
        headers={"Idempotency-Key": key},
    )
    assert first.status_code == 201, first.text
    before = await w.read(SESSIONS)
    response = await w.call(
        "POST",
        "/performance/sessions",
        w.squad.coach,
        json=session_body(w, title="Lineouts"),
        headers={"Idempotency-Key": key},
    )
    assert_problem(response, 422, ("header", "Idempotency-Key"))
    assert await w.read(SESSIONS) == before
    titles = [s["title"] for s in before[SESSIONS] if s["team_id"] == w.team_id]
    assert titles.count("Scrums") == 1 and "Lineouts" not in titles


async def test_idempotency_keys_are_per_user(w: World) -> None:
    """The same key from two users is two requests: both are done, neither sees a replay."""
    key = f"key-{uuid.uuid4().hex}"
    before = (await w.read(SESSIONS))[SESSIONS]
    for staff, title in ((w.squad.coach, "Scrums"), (w.squad.owner, "Lineouts")):
        response = await w.call(
            "POST",
            "/performance/sessions",
            staff,
            json=session_body(w, title=title),
            headers={"Idempotency-Key": key},
        )
        assert response.status_code == 201, response.text
        assert response.json()["title"] == title
    assert len((await w.read(SESSIONS))[SESSIONS]) == len(before) + 2
