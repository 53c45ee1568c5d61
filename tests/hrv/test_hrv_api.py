"""The hrv routes: manual entries, the per-day series against an independent computation,
devices over MANUAL, the drop rule on stored data, permissions and validation."""

import math
import random
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.models import HrvSource, TeamMembership
from app.services.hrv import series as hrv
from app.services.hrv import service as hrv_service
from tests.fixtures.actors import Actor, Api, Squad


def today() -> date:
    return datetime.now(UTC).date()


def path(squad: Squad) -> str:
    return f"/performance/members/{squad.player_membership['id']}/hrv"


async def post(
    client: httpx.AsyncClient,
    squad: Squad,
    day: date,
    rmssd: Any,
    actor: Actor | None = None,
    **extra: Any,
) -> httpx.Response:
    return await client.post(
        path(squad),
        json={"date": day.isoformat(), "rmssd_ms": rmssd, **extra},
        headers=(actor or squad.player).headers,
    )


async def series(
    client: httpx.AsyncClient, squad: Squad, start: date, end: date, actor: Actor | None = None
) -> list[dict[str, Any]]:
    response = await client.get(
        path(squad),
        params={"from": start.isoformat(), "to": end.isoformat()},
        headers=(actor or squad.coach).headers,
    )
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body


async def store_device_value(
    sessionmaker: async_sessionmaker[AsyncSession],
    membership_id: int,
    day: date,
    rmssd: float,
    source: HrvSource,
) -> None:
    async with sessionmaker.begin() as session:
        membership = await session.get_one(TeamMembership, membership_id)
        await hrv_service.record(session, membership, day, rmssd, source)


@contextmanager
def hrv_selects(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL statements that read daily_hrv while the block runs."""
    seen: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "daily_hrv" in statement:
            seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", listen)


# --- writing ----------------------------------------------------------------------------


async def test_create_then_update_the_same_day(client: httpx.AsyncClient, squad: Squad) -> None:
    day = today() - timedelta(days=1)
    created = await post(client, squad, day, 62.5, source="MANUAL")
    assert created.status_code == 201, created.text
    assert created.json() == {
        "date": day.isoformat(),
        "rmssd_ms": 62.5,
        "ln_rmssd": pytest.approx(math.log(62.5)),
        "source": "MANUAL",
    }
    updated = await post(client, squad, day, 70, actor=squad.coach)  # staff; source defaults
    assert updated.status_code == 200, updated.text
    assert updated.json()["rmssd_ms"] == 70.0
    assert updated.json()["ln_rmssd"] == pytest.approx(math.log(70))
    (entry,) = await series(client, squad, day, day)
    assert (entry["rmssd_ms"], entry["ln_rmssd"]) == (70.0, pytest.approx(math.log(70)))


async def test_bounds_of_rmssd_are_accepted(client: httpx.AsyncClient, squad: Squad) -> None:
    assert (await post(client, squad, today(), 300)).status_code == 201
    assert (await post(client, squad, today() - timedelta(days=1), 0.01)).status_code == 201


@pytest.mark.parametrize(
    ("field", "value", "loc"),
    [
        ("rmssd_ms", 0, ["body", "rmssd_ms"]),
        ("rmssd_ms", 300.1, ["body", "rmssd_ms"]),
        ("rmssd_ms", -1, ["body", "rmssd_ms"]),
        ("rmssd_ms", "60", ["body", "rmssd_ms"]),
        ("rmssd_ms", True, ["body", "rmssd_ms"]),
        ("rmssd_ms", None, ["body", "rmssd_ms"]),
        ("source", "WHOOP", ["body", "source"]),
        ("source", "OURA", ["body", "source"]),
        ("date", "2026-02-30", ["body", "date"]),
        ("date", "FUTURE", ["body", "date"]),
        ("hrv", 60, ["body", "hrv"]),
    ],
)
async def test_bad_entries_are_422_naming_the_field_and_store_nothing(
    client: httpx.AsyncClient, squad: Squad, field: str, value: Any, loc: list[str]
) -> None:
    day = today()
    body: dict[str, Any] = {"date": day.isoformat(), "rmssd_ms": 60.0, "source": "MANUAL"}
    body[field] = (day + timedelta(days=1)).isoformat() if value == "FUTURE" else value
    response = await client.post(path(squad), json=body, headers=squad.player.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 422
    assert loc in [error["loc"] for error in problem["errors"]]
    entries = await series(client, squad, day - timedelta(days=1), day)
    assert all(entry["rmssd_ms"] is None for entry in entries)


async def test_a_missing_date_is_422(client: httpx.AsyncClient, squad: Squad) -> None:
    response = await client.post(path(squad), json={"rmssd_ms": 60.0}, headers=squad.player.headers)
    assert response.status_code == 422
    assert ["body", "date"] in [error["loc"] for error in response.json()["errors"]]


async def test_today_in_the_teams_zone_is_not_the_future(
    client: httpx.AsyncClient, api: Api
) -> None:
    """Kiritimati is UTC+14: its today may be tomorrow in UTC, and is never in its future."""
    owner = await api.user("islander")
    team = await api.team(owner, timezone="Pacific/Kiritimati")
    player = await api.user("islander-player")
    membership = await api.join(team, owner, player)
    local_today = datetime.now(ZoneInfo("Pacific/Kiritimati")).date()
    url = f"/performance/members/{membership['id']}/hrv"
    ok = await client.post(
        url, json={"date": local_today.isoformat(), "rmssd_ms": 55}, headers=player.headers
    )
    assert ok.status_code == 201, ok.text
    future = await client.post(
        url,
        json={"date": (local_today + timedelta(days=1)).isoformat(), "rmssd_ms": 55},
        headers=player.headers,
    )
    assert future.status_code == 422


# --- permissions ------------------------------------------------------------------------


async def test_who_may_write_and_read(client: httpx.AsyncClient, squad: Squad) -> None:
    day = today()
    assert (await post(client, squad, day, 60, actor=squad.player)).status_code == 201
    assert (await post(client, squad, day, 61, actor=squad.owner)).status_code == 200
    assert (await post(client, squad, day, 62, actor=squad.admin)).status_code == 200
    assert (await post(client, squad, day, 63, actor=squad.teammate)).status_code == 403
    assert (await post(client, squad, day, 64, actor=squad.outsider)).status_code == 404
    for actor, status in (
        (squad.player, 200),
        (squad.coach, 200),
        (squad.admin, 200),
        (squad.teammate, 403),
        (squad.outsider, 404),
    ):
        response = await client.get(path(squad), headers=actor.headers)
        assert response.status_code == status, (actor.email, response.text)
        if status != 200:
            assert response.headers["content-type"].startswith("application/problem+json")
    (entry,) = await series(client, squad, day, day)
    assert entry["rmssd_ms"] == 62.0
    assert (await client.get(path(squad))).status_code == 401


async def test_unknown_member_is_404(client: httpx.AsyncClient, squad: Squad) -> None:
    response = await client.get("/performance/members/999999999/hrv", headers=squad.admin.headers)
    assert response.status_code == 404


async def test_inactive_membership_takes_no_entries(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    deactivated = await client.patch(
        f"/teams/{squad.team['id']}/members/{squad.player_membership['id']}",
        json={"active": False},
        headers=squad.owner.headers,
    )
    assert deactivated.status_code == 200, deactivated.text
    response = await post(client, squad, today(), 60, actor=squad.coach)
    assert response.status_code == 409


async def test_a_coach_membership_cannot_write_as_a_player(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    """The contract: the user of M writes only when M is a PLAYER membership (staff may)."""
    url = f"/performance/members/{squad.coach_membership['id']}/hrv"
    response = await client.post(
        url, json={"date": today().isoformat(), "rmssd_ms": 50}, headers=squad.teammate.headers
    )
    assert response.status_code == 403


# --- reading ----------------------------------------------------------------------------


async def test_range_limits(client: httpx.AsyncClient, squad: Squad) -> None:
    end = today()
    entries = await series(client, squad, end - timedelta(days=730), end)
    assert len(entries) == 731
    assert entries[0]["date"] == (end - timedelta(days=730)).isoformat()
    too_long = await client.get(
        path(squad),
        params={"from": (end - timedelta(days=731)).isoformat(), "to": end.isoformat()},
        headers=squad.coach.headers,
    )
    assert too_long.status_code == 422
    reversed_range = await client.get(
        path(squad),
        params={"from": end.isoformat(), "to": (end - timedelta(days=1)).isoformat()},
        headers=squad.coach.headers,
    )
    assert reversed_range.status_code == 422
    ancient = await client.get(
        path(squad), params={"from": "0001-01-01", "to": "0001-01-03"}, headers=squad.coach.headers
    )
    assert ancient.status_code == 422
    assert ancient.json()["errors"][0]["loc"] == ["query", "from"]


async def test_default_range_is_the_28_days_ending_today(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    response = await client.get(path(squad), headers=squad.player.headers)
    assert response.status_code == 200
    dates = [entry["date"] for entry in response.json()]
    assert dates[0] == (today() - timedelta(days=27)).isoformat()
    assert dates[-1] == today().isoformat()
    assert len(dates) == 28
    capped = await client.get(
        path(squad),
        params={"to": (today() + timedelta(days=10)).isoformat()},
        headers=squad.player.headers,
    )
    assert capped.json()[-1]["date"] == today().isoformat()


def oracle(values: dict[date, float], day: date) -> dict[str, Any]:
    """The contract's numbers for ``day``, computed independently with ``statistics``."""
    ln = {d: math.log(v) for d, v in values.items()}
    week = [ln[day - timedelta(days=i)] for i in range(7) if day - timedelta(days=i) in ln]
    history = [ln[day - timedelta(days=i)] for i in range(1, 61) if day - timedelta(days=i) in ln]
    rolling = statistics.mean(week) if len(week) >= 3 else None
    mean = statistics.mean(history) if len(history) >= 14 else None
    sd = statistics.stdev(history) if len(history) >= 14 else None
    flag = None
    if rolling is not None and mean is not None and sd is not None:
        flag = (
            "below" if rolling < mean - sd / 2 else "above" if rolling > mean + sd / 2 else "normal"
        )
    return {
        "date": day.isoformat(),
        "rmssd_ms": values.get(day),
        "ln_rmssd": ln.get(day),
        "rolling7_ln_mean": rolling,
        "baseline_ln_mean": mean,
        "baseline_ln_sd": sd,
        "flag": flag,
    }


async def test_series_over_eighty_days_matches_an_independent_computation(
    client: httpx.AsyncClient, squad: Squad, engine: AsyncEngine
) -> None:
    rng = random.Random(20261125)
    end = today()
    first = end - timedelta(days=79)
    values: dict[date, float] = {}
    for i in range(80):
        day = first + timedelta(days=i)
        if rng.random() < 0.2:  # some days without a measurement
            continue
        base = 70.0 if i < 55 else 52.0 if i < 68 else 95.0  # a dip, then a rebound
        values[day] = round(base * rng.uniform(0.85, 1.15), 1)
    for day, value in values.items():
        assert (await post(client, squad, day, value)).status_code == 201
    start = first + timedelta(days=10)
    with hrv_selects(engine) as selects:
        got = await series(client, squad, start, end)
    assert len(selects) == 1, selects  # the range and its 60 days of history: one query
    expected = [oracle(values, start + timedelta(days=i)) for i in range((end - start).days + 1)]
    assert len(got) == len(expected) == 70
    for entry, want in zip(got, expected, strict=True):
        assert entry.keys() == want.keys()
        for key, value in want.items():
            if isinstance(value, float):
                assert entry[key] == pytest.approx(value, rel=1e-12), (entry["date"], key)
            else:
                assert entry[key] == value, (entry["date"], key)
    flags = {entry["flag"] for entry in got}
    assert {"below", "above", None} <= flags  # the data exercises every branch
    assert "normal" in flags


async def test_a_device_value_wins_over_manual(
    client: httpx.AsyncClient,
    squad: Squad,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    member = squad.player_membership["id"]
    day = today() - timedelta(days=2)
    assert (await post(client, squad, day, 40.0)).status_code == 201
    await store_device_value(sessionmaker, member, day, 65.0, HrvSource.WHOOP)
    # a manual entry after the device's still does not replace it in the series
    assert (await post(client, squad, day, 45.0)).status_code == 200
    (entry,) = await series(client, squad, day, day)
    assert (entry["rmssd_ms"], entry["ln_rmssd"]) == (65.0, pytest.approx(math.log(65.0)))
    # a second device updated later wins over the first
    await store_device_value(sessionmaker, member, day, 58.0, HrvSource.OURA)
    (entry,) = await series(client, squad, day, day)
    assert entry["rmssd_ms"] == 58.0
    await store_device_value(sessionmaker, member, day, 66.0, HrvSource.WHOOP)
    (entry,) = await series(client, squad, day, day)
    assert entry["rmssd_ms"] == 66.0
    # the rolling mean uses the device value too
    for back in (1, 2):
        await post(client, squad, day - timedelta(days=back), 50.0)
    (entry,) = await series(client, squad, day, day)
    assert entry["rolling7_ln_mean"] == pytest.approx(
        statistics.mean([math.log(66.0), math.log(50.0), math.log(50.0)])
    )


# --- the drop rule on stored data -------------------------------------------------------


async def test_drop_evidence_for_a_stored_day(
    client: httpx.AsyncClient,
    squad: Squad,
    sessionmaker: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
) -> None:
    member = squad.player_membership["id"]
    day = today()
    for back, value in ((1, 100.0), (3, 90.0)):
        await post(client, squad, day - timedelta(days=back), value)
    await post(client, squad, day, 50.0)
    async with sessionmaker() as session:
        assert await hrv.drop_evidence(session, member, day) is None  # 2 previous values
    await post(client, squad, day - timedelta(days=8), 100.0)  # outside the 7 days
    async with sessionmaker() as session:
        assert await hrv.drop_evidence(session, member, day) is None
    await post(client, squad, day - timedelta(days=7), 110.0)
    async with sessionmaker() as session:
        with hrv_selects(engine) as selects:
            evidence = await hrv.drop_evidence(session, member, day)
        assert len(selects) == 1
        assert await hrv.drop_evidence(session, member, day - timedelta(days=2)) is None
    assert evidence is not None
    assert evidence["rule"] == "hrv_drop"
    assert evidence["inputs"]["rmssd_ms"] == 50.0
    assert [p["rmssd_ms"] for p in evidence["inputs"]["previous"]] == [110.0, 90.0, 100.0]
    assert evidence["inputs"]["previous_mean_ms"] == pytest.approx(100.0)
    assert evidence["inputs"]["drop_pct"] == pytest.approx(50.0)
    # a device's value for the day counts instead of the manual one: 85 is a 15 % drop
    await store_device_value(sessionmaker, member, day, 85.0, HrvSource.OURA)
    async with sessionmaker() as session:
        assert await hrv.drop_evidence(session, member, day) is None


async def test_openapi_names_the_operations(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    operations = schema["paths"]["/performance/members/{membership_id}/hrv"]
    assert operations["post"]["operationId"] == "upsert_hrv"
    assert operations["get"]["operationId"] == "list_hrv"
    assert operations["post"]["tags"] == operations["get"]["tags"] == ["hrv"]
    create = schema["components"]["schemas"]["HrvCreate"]["properties"]
    assert create["source"].get("const", create["source"].get("enum")) in ("MANUAL", ["MANUAL"])
