"""The weekly reports' planned load: the CSV's planned_au beside the actual load, the PDF's
planned vs actual team chart, at a cost that does not grow with the team."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import AsyncEngine

from app.models import Role, TeamMembership, User
from tests.fixtures.actors import Api, Squad
from tests.fixtures.databases import count_statements

MONDAY = date(2025, 3, 3)
WEEK = "2025-W10"


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, tzinfo=UTC)


async def _plan_week(api: Api, squad: Squad) -> None:
    """Monday 6.5 x 90 = 585 planned, both players rate it 7 (630 each); Tuesday 7.5 x 45 =
    338 planned, the teammate ABSENT, the player rates it 8 (360); Wednesday unplanned,
    the player rates it 5 (450)."""
    client, coach = api.client, squad.coach
    player, teammate = squad.player_membership["id"], squad.teammate_membership["id"]
    monday = await api.session(squad.team, coach, start=_at(MONDAY), planned_rpe=6.5)
    tuesday = await api.session(
        squad.team, coach, start=_at(MONDAY + timedelta(days=1)), minutes=45, planned_rpe=7.5
    )
    wednesday = await api.session(squad.team, coach, start=_at(MONDAY + timedelta(days=2)))
    writes: list[tuple[str, Any]] = [
        (
            f"/performance/sessions/{tuesday['id']}/attendance",
            [{"membership_id": teammate, "status": "ABSENT"}],
        ),
        (f"/performance/sessions/{monday['id']}/srpe", {"membership_id": player, "rpe_0_10": 7}),
        (f"/performance/sessions/{monday['id']}/srpe", {"membership_id": teammate, "rpe_0_10": 7}),
        (f"/performance/sessions/{tuesday['id']}/srpe", {"membership_id": player, "rpe_0_10": 8}),
        (f"/performance/sessions/{wednesday['id']}/srpe", {"membership_id": player, "rpe_0_10": 5}),
    ]
    for path, body in writes:
        response = await client.post(path, json=body, headers=coach.headers)
        assert response.status_code in (200, 201), response.text


async def _get(client: httpx.AsyncClient, squad: Squad, kind: str) -> httpx.Response:
    response = await client.get(
        f"/teams/{squad.team['id']}/reports/weekly.{kind}",
        params={"week": WEEK},
        headers=squad.coach.headers,
    )
    assert response.status_code == 200, response.text
    return response


async def test_csv_has_the_planned_load_beside_the_actual(api: Api, squad: Squad) -> None:
    await _plan_week(api, squad)
    response = await _get(api.client, squad, "csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    columns = list(rows[0])
    assert columns.index("planned_au") == columns.index("internal_load_au") + 1
    player, teammate = rows[:7], rows[7:]
    assert [(r["internal_load_au"], r["planned_au"]) for r in player[:4]] == [
        ("630", "585"),
        ("360", "338"),
        ("450", ""),  # no plan that day: empty, not 0
        ("0", ""),
    ]
    assert [(r["internal_load_au"], r["planned_au"]) for r in teammate[:2]] == [
        ("630", "585"),
        ("0", ""),  # absent from Tuesday's planned session
    ]


async def test_pdf_team_chart_shows_planned_vs_actual(api: Api, squad: Squad) -> None:
    await _plan_week(api, squad)
    response = await _get(api.client, squad, "pdf")
    reader = PdfReader(io.BytesIO(response.content))
    roster_page = reader.pages[1].extract_text()
    assert "Team load per day: planned vs actual (AU)" in roster_page
    assert "planned" in roster_page and "actual (sRPE)" in roster_page
    # Monday's bars: 1170 planned (585 for each player) beside 1260 done; Tuesday 338
    # planned (the teammate was absent) beside 360.
    for label in ("1170", "1260", "338", "360"):
        assert label in roster_page, (label, roster_page)


async def test_planned_load_costs_the_same_statements_for_a_larger_team(
    api: Api, squad: Squad, engine: AsyncEngine
) -> None:
    await _plan_week(api, squad)
    counts = []
    for extra in (0, 10):
        async with api.sessionmaker.begin() as session:
            for i in range(extra):
                email = f"p{i}-{squad.team['id']}@example.com"
                user = User(email=email, full_name="P", password_hash="x")
                session.add(user)
                await session.flush()
                session.add(
                    TeamMembership(team_id=squad.team["id"], user_id=user.id, role=Role.PLAYER)
                )
        for kind in ("csv", "pdf"):
            await _get(api.client, squad, kind)  # warm up
            with count_statements(engine) as statements:
                response = await _get(api.client, squad, kind)
            counts.append((kind, len(statements)))
        rows = list(csv.DictReader(io.StringIO((await _get(api.client, squad, "csv")).text)))
        assert {r["planned_au"] for r in rows if r["date"] == MONDAY.isoformat()} == {"585"}
    assert counts[:2] == counts[2:], counts
    assert response.content.startswith(b"%PDF")
