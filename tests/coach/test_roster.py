"""GET /teams/{team_id}/roster: each player's signals and status, at a fixed query cost."""

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.models import (
    Availability,
    DailyHRV,
    DailyLoad,
    HrvSource,
    Role,
    TeamMembership,
    User,
    WellnessLog,
)
from tests.fixtures.actors import Api, Squad, started_at
from tests.fixtures.databases import count_statements
from tests.fixtures.stored_problems import add_problem, clinical_words_in

TODAY = datetime.now(UTC).date()


def _at(day: date, hour: int = 10) -> datetime:
    return started_at(day, hour)


async def _roster(client: httpx.AsyncClient, squad: Squad) -> dict[int, dict[str, Any]]:
    response = await client.get(f"/teams/{squad.team['id']}/roster", headers=squad.coach.headers)
    assert response.status_code == 200, response.text
    return {entry["membership_id"]: entry for entry in response.json()}


async def _wellness(api: Api, squad: Squad, membership_id: int, worst: int, **extra: Any) -> None:
    response = await api.client.post(
        "/performance/wellness",
        json={
            "membership_id": membership_id,
            "sleep_quality": worst,
            "mood": 4,
            "soreness": 4,
            **extra,
        },
        headers=squad.coach.headers,
    )
    assert response.status_code in (200, 201), response.text


async def _hrv(api: Api, squad: Squad, membership_id: int, day: date, rmssd: float) -> None:
    response = await api.client.post(
        f"/performance/members/{membership_id}/hrv",
        json={"date": day.isoformat(), "rmssd_ms": rmssd},
        headers=squad.coach.headers,
    )
    assert response.status_code == 201, response.text


async def _srpe(
    api: Api, squad: Squad, membership_id: int, day: date, rpe: float, minutes: int
) -> None:
    session = await api.session(squad.team, squad.coach, start=_at(day), minutes=minutes)
    response = await api.client.post(
        f"/performance/sessions/{session['id']}/srpe",
        json={"membership_id": membership_id, "rpe_0_10": rpe},
        headers=squad.coach.headers,
    )
    assert response.status_code == 201, response.text


async def test_a_player_without_any_data_has_no_data(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    roster = await _roster(client, squad)
    # Staff are not on the roster; both players are, with nothing recorded.
    assert set(roster) == {squad.player_membership["id"], squad.teammate_membership["id"]}
    entry = roster[squad.player_membership["id"]]
    assert entry["user"] == {
        "id": squad.player.id,
        "full_name": "Player",
        "email": squad.player.email,
    }
    assert (entry["role"], entry["jersey_number"], entry["primary_position"]) == ("PLAYER", 9, None)
    assert (entry["latest_acwr"], entry["wellness_today"], entry["hrv_flag"]) == (None, None, None)
    assert entry["status"] == "no_data"


async def test_red_wellness_makes_the_player_red(api: Api, squad: Squad) -> None:
    await _wellness(api, squad, squad.player_membership["id"], worst=1)
    await _wellness(api, squad, squad.teammate_membership["id"], worst=2)
    roster = await _roster(api.client, squad)
    player = roster[squad.player_membership["id"]]
    assert player["wellness_today"] == {"date": TODAY.isoformat(), "total": 9, "flag": "red"}
    assert player["status"] == "red"
    teammate = roster[squad.teammate_membership["id"]]
    assert (teammate["wellness_today"]["flag"], teammate["status"]) == ("amber", "amber")


async def test_yesterdays_wellness_is_not_today(api: Api, squad: Squad) -> None:
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    await _wellness(api, squad, squad.player_membership["id"], worst=1, date=yesterday)
    entry = (await _roster(api.client, squad))[squad.player_membership["id"]]
    assert (entry["wellness_today"], entry["status"]) == (None, "no_data")


async def test_a_load_spike_is_danger_and_red(api: Api, squad: Squad) -> None:
    # 10 light days, then a heavy one: the 2-day acute average jumps over the 10-day chronic.
    await api.client.patch(
        f"/teams/{squad.team['id']}",
        json={"acwr": {"acute_days": 2, "chronic_days": 10}},
        headers=squad.owner.headers,
    )
    member = squad.player_membership["id"]
    for back in range(10, 0, -1):
        await _srpe(api, squad, member, TODAY - timedelta(days=back), 2, 30)
    await _srpe(api, squad, member, TODAY, 10, 120)
    roster = await _roster(api.client, squad)
    entry = roster[member]
    assert entry["latest_acwr"]["date"] == TODAY.isoformat()
    assert entry["latest_acwr"]["zone"] == "danger"
    assert entry["latest_acwr"]["ratio"] > 1.4
    assert entry["status"] == "red"
    # Good wellness does not hide the danger zone: the worst signal wins.
    await _wellness(api, squad, member, worst=5)
    assert (await _roster(api.client, squad))[member]["status"] == "red"


async def test_insufficient_acwr_data_is_not_green(api: Api, squad: Squad) -> None:
    member = squad.player_membership["id"]
    await _srpe(api, squad, member, TODAY - timedelta(days=1), 5, 60)
    entry = (await _roster(api.client, squad))[member]
    assert entry["latest_acwr"]["zone"] == "insufficient_data"
    assert entry["status"] == "no_data"
    await _wellness(api, squad, member, worst=4)
    assert (await _roster(api.client, squad))[member]["status"] == "green"


async def test_hrv_below_normal_makes_the_player_amber(api: Api, squad: Squad) -> None:
    member = squad.player_membership["id"]
    for back in range(30, 8, -1):  # a stable baseline around 80 ms
        await _hrv(api, squad, member, TODAY - timedelta(days=back), 78 + back % 5)
    for back in (2, 1, 0):  # then three days far below it
        await _hrv(api, squad, member, TODAY - timedelta(days=back), 40)
    entry = (await _roster(api.client, squad))[member]
    assert entry["hrv_flag"] == "below"
    assert entry["status"] == "amber"
    await _wellness(api, squad, member, worst=5)
    assert (await _roster(api.client, squad))[member]["status"] == "amber"
    await _wellness(api, squad, member, worst=1)
    assert (await _roster(api.client, squad))[member]["status"] == "red"


async def test_only_the_teams_staff_may_read_it(client: httpx.AsyncClient, squad: Squad) -> None:
    path = f"/teams/{squad.team['id']}/roster"
    assert (await client.get(path, headers=squad.player.headers)).status_code == 403
    assert (await client.get(path, headers=squad.outsider.headers)).status_code == 404
    assert (await client.get(path)).status_code == 401
    assert (await client.get(path, headers=squad.owner.headers)).status_code == 200
    assert (await client.get(path, headers=squad.admin.headers)).status_code == 200


async def _team_of(api: Api, size: int) -> tuple[dict[str, Any], dict[str, str]]:
    """A team of ``size`` players, each with six days of loads, HRV and today's wellness."""
    owner = await api.user("owner")
    team = await api.team(owner)
    async with api.sessionmaker.begin() as session:
        members = []
        for i in range(size):
            user = User(
                email=f"p{i}-{team['id']}@example.com", full_name=f"P{i}", password_hash="x"
            )
            session.add(user)
            await session.flush()
            members.append(TeamMembership(team_id=team["id"], user_id=user.id, role=Role.PLAYER))
        session.add_all(members)
        await session.flush()
        for i, member in enumerate(members):
            for back in range(6):
                day = TODAY - timedelta(days=back)
                session.add(
                    DailyLoad(
                        team_id=team["id"],
                        membership_id=member.id,
                        date=day,
                        internal_load_au=300 + back,
                        attended_sessions=1,
                        rated_sessions=1,
                    )
                )
                rmssd = 60.0 + i % 7
                session.add(
                    DailyHRV(
                        team_id=team["id"],
                        membership_id=member.id,
                        date=day,
                        rmssd_ms=rmssd,
                        ln_rmssd=math.log(rmssd),
                        source=HrvSource.MANUAL,
                    )
                )
            session.add(
                WellnessLog(
                    team_id=team["id"],
                    membership_id=member.id,
                    date=TODAY,
                    sleep_quality=1 + i % 5,
                    mood=3,
                    soreness=3,
                )
            )
    return team, owner.headers


async def test_statement_count_does_not_grow_with_the_team(api: Api, engine: AsyncEngine) -> None:
    counts = {}
    for size in (3, 40):
        team, headers = await _team_of(api, size)
        path = f"/teams/{team['id']}/roster"
        with count_statements(engine) as first:
            response = await api.client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        assert len(response.json()) == size
        assert {e["status"] for e in response.json()} <= {"red", "amber", "green"}
        with count_statements(engine) as second:  # snapshots already up to date
            assert (await api.client.get(path, headers=headers)).status_code == 200
        counts[size] = (len(first), len(second))
    assert counts[3] == counts[40], counts


async def test_availability_and_health_summary_from_the_open_problems(
    api: Api, squad: Squad
) -> None:
    """Worked example, today = T:

    Player: a hamstring strain since T-10, unavailable from T-10 and modified from T-3
    (today: modified), and an illness since T-1, unavailable (today: unavailable). The
    most restrictive wins: ``unavailable``; the summaries, oldest problem first, joined
    with "; ".
    Teammate: an ankle sprain T-20 to T-1 (resolved today, so not open) and a knee problem
    since T-5 at modified without a summary: ``modified``, no summary.
    Neither changes the status, which stays no_data (availability is not a load signal)."""
    player, teammate = squad.player_membership, squad.teammate_membership
    day = timedelta(days=1)
    await add_problem(
        api.sessionmaker,
        player,
        TODAY - 10 * day,
        [(TODAY - 10 * day, Availability.UNAVAILABLE), (TODAY - 3 * day, Availability.MODIFIED)],
        summary="Hamstring strain, running only",
    )
    await add_problem(
        api.sessionmaker,
        player,
        TODAY - day,
        [(TODAY - day, Availability.UNAVAILABLE)],
        summary="Flu",
    )
    await add_problem(
        api.sessionmaker,
        teammate,
        TODAY - 20 * day,
        [(TODAY - 20 * day, Availability.UNAVAILABLE)],
        summary="Ankle sprain",
        resolved_on=TODAY,
    )
    await add_problem(
        api.sessionmaker, teammate, TODAY - 5 * day, [(TODAY - 5 * day, Availability.MODIFIED)]
    )
    response = await api.client.get(
        f"/teams/{squad.team['id']}/roster", headers=squad.coach.headers
    )
    assert response.status_code == 200, response.text
    roster = {entry["membership_id"]: entry for entry in response.json()}
    mine, theirs = roster[player["id"]], roster[teammate["id"]]
    assert mine["availability"] == "unavailable"
    assert mine["health_summary"] == "Hamstring strain, running only; Flu"
    assert (theirs["availability"], theirs["health_summary"]) == ("modified", None)
    assert mine["status"] == theirs["status"] == "no_data"
    # Every problem carries clinical fields: none reaches the coach.
    assert clinical_words_in(response.text) == []


async def test_a_player_without_problems_is_available(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    entry = (await _roster(client, squad))[squad.player_membership["id"]]
    assert (entry["availability"], entry["health_summary"]) == ("available", None)


async def test_the_availability_costs_one_statement_whatever_the_team(
    api: Api, engine: AsyncEngine
) -> None:
    """The team's problems and stages come in one statement: 40 players with two problems
    each (one resolved, one with two stages) cost as many statements as 3 players do."""
    counts = {}
    for size in (3, 40):
        team, headers = await _team_of(api, size)
        async with api.sessionmaker() as session:
            members = list(
                await session.scalars(
                    select(TeamMembership).where(TeamMembership.team_id == team["id"])
                )
            )
        for member in members:
            if member.role != Role.PLAYER:
                continue
            membership = {"id": member.id, "team_id": team["id"]}
            await add_problem(
                api.sessionmaker,
                membership,
                TODAY - timedelta(days=9),
                [(TODAY - timedelta(days=9), Availability.UNAVAILABLE)],
                summary="Calf",
                resolved_on=TODAY - timedelta(days=2),
            )
            await add_problem(
                api.sessionmaker,
                membership,
                TODAY - timedelta(days=4),
                [
                    (TODAY - timedelta(days=4), Availability.UNAVAILABLE),
                    (TODAY - timedelta(days=1), Availability.MODIFIED),
                ],
                summary="Groin",
            )
        path = f"/teams/{team['id']}/roster"
        assert (await api.client.get(path, headers=headers)).status_code == 200  # snapshots
        with count_statements(engine) as statements:
            response = await api.client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        assert {(e["availability"], e["health_summary"]) for e in response.json()} == {
            ("modified", "Groin")
        }
        counts[size] = len(statements)
    assert counts[3] == counts[40], counts
