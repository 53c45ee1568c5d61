"""The reminders job: who is reminded, when (in the team's zone, across daylight-saving
changes), and that each reminder goes out once, as an event and an email."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.models import OutboundDelivery, Reminder
from app.services.email import jobs as email_jobs
from app.services.reminders import jobs
from tests.fixtures.actors import Api, Squad
from tests.fixtures.smtp import MailServer

Maker = async_sessionmaker[AsyncSession]
TARGET = "https://93.184.216.34/hooks/loadline"  # a public address: no DNS needed


async def _configure(client: httpx.AsyncClient, squad: Squad, **changes: Any) -> None:
    """PATCH the team: ``reminders`` fields and ``timezone``."""
    body: dict[str, Any] = {}
    if "timezone" in changes:
        body["timezone"] = changes.pop("timezone")
    if changes:
        body["reminders"] = changes
    response = await client.patch(
        f"/teams/{squad.team['id']}", json=body, headers=squad.owner.headers
    )
    assert response.status_code == 200, response.text


async def _run(maker: Maker, settings: Settings, squad: Squad, now: datetime) -> int:
    return await jobs.send_due(maker, settings, now=now, team_ids=[squad.team["id"]])


async def _stored(maker: Maker) -> list[tuple[int, str, str, date, datetime]]:
    """Every reminder stored: (membership, kind, occasion, day, due_at), in order."""
    async with maker() as db:
        rows = await db.execute(
            select(
                Reminder.membership_id,
                Reminder.kind,
                Reminder.occasion,
                Reminder.day,
                Reminder.due_at,
            ).order_by(Reminder.id)
        )
        return [(m, k.value, o, d, due) for m, k, o, d, due in rows]


async def _wellness(api: Api, squad: Squad, membership: dict[str, Any], day: date) -> None:
    response = await api.client.post(
        "/performance/wellness",
        json={
            "membership_id": membership["id"],
            "date": day.isoformat(),
            "sleep_quality": 4,
            "mood": 4,
            "soreness": 4,
        },
        headers=squad.coach.headers,
    )
    assert response.status_code == 201, response.text


def _utc(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), UTC)


# --- wellness ---------------------------------------------------------------------------


async def test_wellness_reminder_once_at_its_time_to_those_without_an_entry(
    api: Api, squad: Squad, sessionmaker: Maker, settings: Settings
) -> None:
    day = datetime.now(UTC).date()
    await _configure(api.client, squad, wellness_at="08:30")
    player, teammate = squad.player_membership, squad.teammate_membership
    await _wellness(api, squad, teammate, day)  # already answered: never reminded

    assert await _run(sessionmaker, settings, squad, _utc(day, 8, 29)) == 0  # not yet due
    assert await _stored(sessionmaker) == []
    assert await _run(sessionmaker, settings, squad, _utc(day, 8, 30)) == 1
    due = _utc(day, 8, 30)
    assert await _stored(sessionmaker) == [(player["id"], "wellness", day.isoformat(), day, due)]
    # Already reminded: later runs of the day send nothing more (and store nothing).
    for later in (_utc(day, 8, 31), _utc(day, 12), _utc(day, 23, 59)):
        assert await _run(sessionmaker, settings, squad, later) == 0
    assert len(await _stored(sessionmaker)) == 1


async def test_staff_and_deactivated_players_are_not_reminded(
    api: Api, squad: Squad, sessionmaker: Maker, settings: Settings
) -> None:
    day = datetime.now(UTC).date()
    await _configure(api.client, squad, wellness_at="06:00")
    response = await api.client.patch(
        f"/teams/{squad.team['id']}/members/{squad.teammate_membership['id']}",
        json={"active": False},
        headers=squad.owner.headers,
    )
    assert response.status_code == 200, response.text
    assert await _run(sessionmaker, settings, squad, _utc(day, 7)) == 1
    assert [row[0] for row in await _stored(sessionmaker)] == [squad.player_membership["id"]]


async def test_a_late_job_catches_up_within_the_day_but_never_sends_yesterdays(
    api: Api, squad: Squad, sessionmaker: Maker, settings: Settings
) -> None:
    day = date(2026, 11, 10)
    await _configure(api.client, squad, wellness_at="23:30")
    # The job was down from 23:00 until after midnight: the 10th's reminder is not sent
    # on the 11th, and the 11th's is not due before 23:30.
    assert await _run(sessionmaker, settings, squad, _utc(day, 23)) == 0
    assert await _run(sessionmaker, settings, squad, _utc(day + timedelta(days=1), 0, 5)) == 0
    assert await _stored(sessionmaker) == []
    # Down from 23:00 to 23:50: the run at 23:50 sends it.
    assert await _run(sessionmaker, settings, squad, _utc(day, 23, 50)) == 2


async def test_a_team_with_reminders_off_is_left_alone(
    api: Api, squad: Squad, sessionmaker: Maker, settings: Settings
) -> None:
    await api.session(squad.team, squad.coach)
    assert await _run(sessionmaker, settings, squad, datetime.now(UTC) + timedelta(hours=2)) == 0
    await _configure(api.client, squad, wellness_at="00:00")
    await _configure(api.client, squad, wellness_at=None)
    assert await _run(sessionmaker, settings, squad, datetime.now(UTC)) == 0


@pytest.mark.parametrize(
    ("day", "instants", "due"),
    [
        # Last Sunday of October 2026: BST ends at 01:00 UTC, so 08:30 local is 08:30 UTC.
        # 07:30 UTC would be 08:30 on the summer clock: too early on the day itself.
        (
            date(2026, 10, 25),
            [(0, 30), (1, 30), (7, 30), (8, 29), (8, 30), (8, 31), (9, 30), (23, 59)],
            (8, 30),
        ),
        # Last Sunday of March 2026: BST begins at 01:00 UTC, so 08:30 local is 07:30 UTC.
        (
            date(2026, 3, 29),
            [(0, 30), (1, 30), (7, 29), (7, 30), (8, 30), (22, 59)],
            (7, 30),
        ),
    ],
)
async def test_london_gets_its_0830_reminder_once_at_0830_local_on_the_dst_sunday(
    api: Api,
    squad: Squad,
    sessionmaker: Maker,
    settings: Settings,
    day: date,
    instants: list[tuple[int, int]],
    due: tuple[int, int],
) -> None:
    await _configure(api.client, squad, timezone="Europe/London", wellness_at="08:30")
    await _wellness(api, squad, squad.teammate_membership, day)
    sent = {at: await _run(sessionmaker, settings, squad, _utc(day, *at)) for at in instants}
    assert sent == {at: int(at == due) for at in instants}
    # The evening before (the Saturday's reminder is the Saturday's) and the next day's
    # 00:10 local send nothing for that Sunday.
    assert await _run(sessionmaker, settings, squad, _utc(day + timedelta(days=1), 0, 10)) == 0
    assert await _stored(sessionmaker) == [
        (squad.player_membership["id"], "wellness", day.isoformat(), day, _utc(day, *due))
    ]


# --- sRPE -------------------------------------------------------------------------------


async def _attendance(api: Api, squad: Squad, session: dict[str, Any], **status: str) -> None:
    response = await api.client.post(
        f"/performance/sessions/{session['id']}/attendance",
        json=[
            {"membership_id": int(member), "status": value, "minutes_participated": 60}
            for member, value in status.items()
        ],
        headers=squad.coach.headers,
    )
    assert response.status_code == 200, response.text


async def test_srpe_reminder_after_the_session_to_those_there_without_an_rpe(
    api: Api, squad: Squad, sessionmaker: Maker, settings: Settings
) -> None:
    """Present without an sRPE and no attendance record: reminded; absent, excused and
    already rated: not."""
    more = [await api.user(name) for name in ("absent", "excused", "rated", "late")]
    absent, excused, rated, late = [await api.join(squad.team, squad.coach, u) for u in more]
    await _configure(api.client, squad, srpe_after_minutes=30)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    session = await api.session(squad.team, squad.coach, start=start, minutes=60)
    end = start + timedelta(minutes=60)
    player = squad.player_membership["id"]
    await _attendance(
        api,
        squad,
        session,
        **{
            str(player): "PRESENT",
            str(absent["id"]): "ABSENT",
            str(excused["id"]): "EXCUSED",
            str(rated["id"]): "PRESENT",
            str(late["id"]): "LATE",
        },
    )
    response = await api.client.post(
        f"/performance/sessions/{session['id']}/srpe",
        json={"membership_id": rated["id"], "rpe_0_10": 6},
        headers=squad.coach.headers,
    )
    assert response.status_code == 201, response.text

    assert await _run(sessionmaker, settings, squad, end + timedelta(minutes=29)) == 0
    assert await _run(sessionmaker, settings, squad, end + timedelta(minutes=30)) == 3
    reminded = {m for m, kind, *_ in await _stored(sessionmaker) if kind == "srpe"}
    assert reminded == {player, late["id"], squad.teammate_membership["id"]}
    # The occasion is the session, its day the session's, due 30 minutes after its end.
    occasions = {row[2:] for row in await _stored(sessionmaker)}
    assert occasions == {(str(session["id"]), start.date(), end + timedelta(minutes=30))}
    assert await _run(sessionmaker, settings, squad, end + timedelta(hours=2)) == 0


async def test_a_late_job_still_sends_within_a_day_and_not_after(
    api: Api, squad: Squad, sessionmaker: Maker, settings: Settings
) -> None:
    await _configure(api.client, squad, srpe_after_minutes=0)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=30)
    old = await api.session(squad.team, squad.coach, start=start, minutes=60)
    recent = await api.session(
        squad.team, squad.coach, start=start + timedelta(hours=8), minutes=60
    )
    # At start + 25 h the old one (ended 24 h ago) is past the look-back; the recent one
    # (ended 16 h ago) is still reminded, to both players.
    assert await _run(sessionmaker, settings, squad, start + timedelta(hours=25)) == 2
    assert {o for _, _, o, _, _ in await _stored(sessionmaker)} == {str(recent["id"])}
    assert str(old["id"]) not in {o for _, _, o, _, _ in await _stored(sessionmaker)}


# --- what is sent ---------------------------------------------------------------------


async def test_the_event_and_the_email_a_player_receives(
    api: Api, squad: Squad, sessionmaker: Maker, settings: Settings, smtp_server: MailServer
) -> None:
    """``reminder.due`` to the team's webhook for every reminder; an email to claimed
    accounts only (an invited player who never registered gets the event alone)."""
    mail = smtp_server.settings(settings)
    invited = await api.client.post(
        f"/teams/{squad.team['id']}/members",
        json={"email": "new.wing@example.com", "full_name": "New Wing", "role": "PLAYER"},
        headers=squad.coach.headers,
    )
    assert invited.status_code == 201, invited.text
    response = await api.client.post(
        f"/teams/{squad.team['id']}/outbound-webhooks",
        json={"url": TARGET, "events": ["reminder.due"]},
        headers=squad.owner.headers,
    )
    assert response.status_code == 201, response.text
    await _configure(api.client, squad, wellness_at="07:00", srpe_after_minutes=15)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    session = await api.session(squad.team, squad.coach, start=start, minutes=60, title="Lineouts")
    await _attendance(api, squad, session, **{str(squad.teammate_membership["id"]): "ABSENT"})
    day = start.date()
    await _wellness(api, squad, squad.teammate_membership, day)

    now = max(start + timedelta(minutes=75), _utc(day, 7))
    assert now.date() == day
    # Wellness: player and the invited one; sRPE: the same two (the teammate was absent).
    assert await _run(sessionmaker, settings=mail, squad=squad, now=now) == 4
    async with sessionmaker() as db:
        events = [
            (row.payload, row.team_id)
            for row in await db.scalars(
                select(OutboundDelivery)
                .where(OutboundDelivery.event == "reminder.due")
                .order_by(OutboundDelivery.id)
            )
        ]
    player, new = squad.player_membership, invited.json()
    team_id = squad.team["id"]
    assert events == [
        (
            {"membership_id": m["id"], "user_id": m["user"]["id"], "kind": kind, "session_id": s},
            team_id,
        )
        for kind, s in (("wellness", None), ("srpe", session["id"]))
        for m in (player, new)
    ]

    assert await email_jobs.deliver_due(sessionmaker, mail) == 2
    assert smtp_server.recipients == [[squad.player.email], [squad.player.email]]
    wellness, srpe = smtp_server.received
    assert wellness["Subject"] == "Your wellness check-in for today"
    body = wellness.get_body(preferencelist=("plain",))
    assert body is not None and day.isoformat() in body.get_content()
    assert srpe["Subject"] == "How hard was your session?"
    body = srpe.get_body(preferencelist=("plain",))
    assert body is not None and '"Lineouts"' in body.get_content()
    html = srpe.get_body(preferencelist=("html",))
    assert html is not None and "Lineouts" in html.get_content()
    # Nothing twice.
    assert await _run(sessionmaker, settings=mail, squad=squad, now=now) == 0
    assert await email_jobs.deliver_due(sessionmaker, mail) == 0
