"""``availability.changed``: one event each time a member's availability of today changes
(a stage recorded, a problem resolved, a new day beginning a stage recorded in advance),
nothing while it stays the same, and never a clinical field."""

import json
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.models import Availability, HealthProblem, HealthStage, OutboundDelivery, Team
from app.services.coach import jobs as coach_jobs
from app.services.outbound import deliveries
from tests.fixtures.actors import Squad
from tests.fixtures.stored_problems import add_problem, clinical_words_in

TARGET = "https://93.184.216.34/hooks/loadline"  # a public address: no DNS needed
# A day apart at every instant: UTC-12 and UTC+12 (the POSIX signs of Etc/ are inverted).
BEHIND, AHEAD = "Etc/GMT+12", "Etc/GMT-12"


async def _subscribe(client: httpx.AsyncClient, squad: Squad, *events: str) -> None:
    response = await client.post(
        f"/teams/{squad.team['id']}/outbound-webhooks",
        json={"url": TARGET, "events": list(events)},
        headers=squad.owner.headers,
    )
    assert response.status_code == 201, response.text
    assert sorted(response.json()["events"]) == sorted(events)


async def _sent(
    sessionmaker: async_sessionmaker[AsyncSession], event: str = "availability.changed"
) -> list[dict[str, Any]]:
    """What the job queued for ``event`` so far, oldest first."""
    async with sessionmaker() as db:
        rows = await db.scalars(
            select(OutboundDelivery)
            .where(OutboundDelivery.event == event)
            .order_by(OutboundDelivery.id)
        )
        return [row.payload for row in rows]


async def _look(sessionmaker: async_sessionmaker[AsyncSession], squad: Squad) -> None:
    """One run of the minute job for the squad's team."""
    await coach_jobs.track_status_changes(sessionmaker, team_ids=[squad.team["id"]])


async def _set_timezone(
    sessionmaker: async_sessionmaker[AsyncSession], squad: Squad, zone: str
) -> date:
    """The team's zone, stored as is; returns today there."""
    async with sessionmaker.begin() as db:
        await db.execute(update(Team).where(Team.id == squad.team["id"]).values(timezone=zone))
    return datetime.now(ZoneInfo(zone)).date()


async def test_a_stage_recorded_today_is_sent_once(
    client: httpx.AsyncClient, squad: Squad, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Available on the first look (nothing sent); a problem recorded today, unavailable:
    one event from available; the same again: nothing; today's stage changed to
    modified: one event; the problem resolved today: one event back to available."""
    today = await _set_timezone(sessionmaker, squad, "UTC")
    await _subscribe(client, squad, "availability.changed")
    await _look(sessionmaker, squad)
    assert await _sent(sessionmaker) == []
    member = squad.player_membership["id"]
    problem = await add_problem(
        sessionmaker,
        squad.player_membership,
        today,
        [(today, Availability.UNAVAILABLE)],
        summary="Hamstring strain",
    )
    await _look(sessionmaker, squad)
    await _look(sessionmaker, squad)  # unchanged: no repeat
    assert await _sent(sessionmaker) == [
        {
            "membership_id": member,
            "previous": "available",
            "availability": "unavailable",
            "date": today.isoformat(),
        }
    ]
    async with sessionmaker.begin() as db:  # today's stage replaced
        await db.execute(
            update(HealthStage)
            .where(HealthStage.problem_id == problem)
            .values(availability=Availability.MODIFIED)
        )
    await _look(sessionmaker, squad)
    async with sessionmaker.begin() as db:
        await db.execute(
            update(HealthProblem).where(HealthProblem.id == problem).values(resolved_on=today)
        )
    await _look(sessionmaker, squad)
    await _look(sessionmaker, squad)
    sent = await _sent(sessionmaker)
    assert [(e["previous"], e["availability"]) for e in sent] == [
        ("available", "unavailable"),
        ("unavailable", "modified"),
        ("modified", "available"),
    ]
    assert {e["membership_id"] for e in sent} == {member}


async def test_a_new_day_that_begins_a_stage_recorded_in_advance_is_sent_once(
    client: httpx.AsyncClient, squad: Squad, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A problem since two days ago, unavailable, with a stage modified from tomorrow.
    Then tomorrow comes without any write: the team's zone moves from UTC-12 to UTC+12,
    where the same instant is exactly one day later. One event, dated the new day."""
    today = await _set_timezone(sessionmaker, squad, BEHIND)
    tomorrow = today + timedelta(days=1)
    await add_problem(
        sessionmaker,
        squad.player_membership,
        today - timedelta(days=2),
        [(today - timedelta(days=2), Availability.UNAVAILABLE), (tomorrow, Availability.MODIFIED)],
    )
    await _subscribe(client, squad, "availability.changed")
    await _look(sessionmaker, squad)  # the first look: unavailable, a change from available
    await _look(sessionmaker, squad)
    assert [(e["availability"], e["date"]) for e in await _sent(sessionmaker)] == [
        ("unavailable", today.isoformat())
    ]
    assert await _set_timezone(sessionmaker, squad, AHEAD) == tomorrow
    await _look(sessionmaker, squad)
    await _look(sessionmaker, squad)  # unchanged: no repeat
    _, second = await _sent(sessionmaker)
    assert second == {
        "membership_id": squad.player_membership["id"],
        "previous": "unavailable",
        "availability": "modified",
        "date": tomorrow.isoformat(),
    }


async def test_nothing_is_sent_while_the_availability_stays_the_same(
    client: httpx.AsyncClient, squad: Squad, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A problem at full availability (open, but available) and an old resolved one: the
    player stays available on every look, and so does the teammate with no problem."""
    today = await _set_timezone(sessionmaker, squad, "UTC")
    await add_problem(
        sessionmaker,
        squad.player_membership,
        today - timedelta(days=30),
        [(today - timedelta(days=30), Availability.UNAVAILABLE)],
        resolved_on=today - timedelta(days=10),
    )
    await add_problem(
        sessionmaker,
        squad.player_membership,
        today - timedelta(days=3),
        [(today - timedelta(days=3), Availability.FULL)],
    )
    await _subscribe(client, squad, "availability.changed")
    for _ in range(3):
        await _look(sessionmaker, squad)
    assert await _sent(sessionmaker) == []


async def test_no_clinical_field_or_summary_is_sent(
    client: httpx.AsyncClient, squad: Squad, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The payload is the four fields of the contract: the signed body a receiver gets
    holds none of the problem's clinical words, nor its summary."""
    today = await _set_timezone(sessionmaker, squad, "UTC")
    await add_problem(
        sessionmaker,
        squad.player_membership,
        today,
        [(today, Availability.UNAVAILABLE)],
        summary="Hamstring strain",
    )
    await _subscribe(client, squad, "availability.changed")
    await _look(sessionmaker, squad)
    async with sessionmaker() as db:
        [delivery] = await db.scalars(select(OutboundDelivery))
        body = deliveries.body_of(delivery).decode()
    assert json.loads(body)["event"] == "availability.changed"
    assert set(json.loads(body)["data"]) == {"membership_id", "previous", "availability", "date"}
    assert clinical_words_in(body) == []
    assert "Hamstring" not in body


async def test_each_event_is_compared_only_for_its_subscribers(
    client: httpx.AsyncClient, squad: Squad, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A receiver of availability.changed alone gets no status.changed; a receiver of
    status.changed added later still hears of the first status (from no_data), the
    availability already sent is not sent again."""
    today = await _set_timezone(sessionmaker, squad, "UTC")
    await add_problem(
        sessionmaker, squad.player_membership, today, [(today, Availability.UNAVAILABLE)]
    )
    response = await client.post(  # a red check-in: status red
        "/performance/wellness",
        json={
            "membership_id": squad.player_membership["id"],
            "sleep_quality": 1,
            "mood": 3,
            "soreness": 3,
        },
        headers=squad.player.headers,
    )
    assert response.status_code == 201, response.text
    await _subscribe(client, squad, "availability.changed")
    await _look(sessionmaker, squad)
    assert len(await _sent(sessionmaker)) == 1
    assert await _sent(sessionmaker, "status.changed") == []
    await _subscribe(client, squad, "status.changed")
    await _look(sessionmaker, squad)
    [status] = await _sent(sessionmaker, "status.changed")
    assert (status["previous_status"], status["status"]) == ("no_data", "red")
    assert len(await _sent(sessionmaker)) == 1


async def test_a_webhook_may_subscribe_to_every_event(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    await _subscribe(client, squad, "alert.created", "status.changed", "availability.changed")
