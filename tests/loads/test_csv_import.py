"""CSV import of GPS load: Catapult OpenField and STATSports exports, and the plain columns.

Each import goes through the real HTTP API as a multipart upload; the loads are then read
back through ``daily-loads``. The squad gets players with realistic names, jersey numbers
and one external_ref, so every way of identifying an athlete is exercised.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from app.models import ExternalLoad, User
from tests.fixtures.actors import Actor, Api, Squad

DATA = Path(__file__).parent / "data"


@dataclass
class Roster:
    jordan: int  # jersey 7, external_ref CAT-0007
    sam: int  # jersey 10
    luca: int  # no jersey: found by name only
    ben: int  # jersey 4


async def add_player(api: Api, squad: Squad, full_name: str, **fields: Any) -> int:
    """A player whose account carries ``full_name`` (as an export names them)."""
    user = await api.user(full_name.split()[0].lower())
    async with api.sessionmaker.begin() as session:
        await session.execute(update(User).where(User.id == user.id).values(full_name=full_name))
    membership = await api.join(squad.team, squad.coach, user, **fields)
    return int(membership["id"])


@pytest.fixture
async def roster(api: Api, squad: Squad) -> Roster:
    return Roster(
        jordan=await add_player(
            api, squad, "Jordan Hale", jersey_number=7, external_ref="CAT-0007"
        ),
        sam=await add_player(api, squad, "Sam Okafor", jersey_number=10),
        luca=await add_player(api, squad, "Luca Ferreira"),
        ben=await add_player(api, squad, "Ben Whitlock", jersey_number=4),
    )


async def upload(
    client: httpx.AsyncClient, squad: Squad, content: bytes, actor: Actor | None = None
) -> httpx.Response:
    headers = (actor or squad.coach).headers
    return await client.post(
        f"/teams/{squad.team['id']}/external-load/import",
        files={"file": ("export.csv", content, "text/csv")},
        headers=headers,
    )


async def external(
    client: httpx.AsyncClient, squad: Squad, membership_id: int, start: str, end: str
) -> dict[str, float]:
    """The member's days with external load in the range, as the API shows them."""
    response = await client.get(
        f"/performance/members/{membership_id}/daily-loads",
        params={"from": start, "to": end},
        headers=squad.coach.headers,
    )
    assert response.status_code == 200, response.text
    return {d["date"]: d["external_load_pl"] for d in response.json() if d["external_load_pl"]}


def lines(result: dict[str, Any]) -> list[int]:
    return [error["line"] for error in result["errors"]]


def message(result: dict[str, Any], line: int) -> str:
    return str(next(e["message"] for e in result["errors"] if e["line"] == line))


async def test_catapult_openfield_export(
    client: httpx.AsyncClient, squad: Squad, roster: Roster
) -> None:
    content = (DATA / "catapult_openfield.csv").read_bytes()

    response = await upload(client, squad, content)

    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["rows"], result["imported"], result["skipped"]) == (11, 6, 2)
    assert lines(result) == [7, 8, 9]
    assert message(result, 7) == "Total Player Load: unreadable number '#VALUE!'"
    assert "jersey 23" in message(result, 8) and "'Chris Dunmore'" in message(result, 8)
    assert message(result, 9) == "date: not a calendar date: '31/11/2026'"
    # The session rows count; Jordan's halves of the 3rd are parts of his session row.
    # Sam has no session row on the 4th, so his halves add up.
    assert await external(client, squad, roster.jordan, "2026-11-01", "2026-11-05") == {
        "2026-11-03": 655.3,
        "2026-11-04": 410.0,
    }
    assert await external(client, squad, roster.sam, "2026-11-01", "2026-11-05") == {
        "2026-11-03": 588.25,
        "2026-11-04": 490.75,
    }
    assert await external(client, squad, roster.luca, "2026-11-01", "2026-11-05") == {
        "2026-11-03": 702.1
    }
    assert await external(client, squad, roster.ben, "2026-11-01", "2026-11-05") == {}


async def test_reimporting_the_same_file_adds_nothing(
    client: httpx.AsyncClient, squad: Squad, roster: Roster
) -> None:
    content = (DATA / "catapult_openfield.csv").read_bytes()
    first = (await upload(client, squad, content)).json()

    again = await upload(client, squad, content)

    assert again.status_code == 200
    result = again.json()
    assert (result["rows"], result["imported"], result["skipped"]) == (11, 0, 8)
    assert result["errors"] == first["errors"]
    assert await external(client, squad, roster.sam, "2026-11-01", "2026-11-05") == {
        "2026-11-03": 588.25,
        "2026-11-04": 490.75,
    }


async def test_statsports_export(client: httpx.AsyncClient, squad: Squad, roster: Roster) -> None:
    content = (DATA / "statsports_apex.csv").read_bytes()

    response = await upload(client, squad, content)

    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["rows"], result["imported"], result["skipped"]) == (10, 5, 2)
    assert lines(result) == [6, 7, 9]
    assert "external_ref 'SS-0999'" in message(result, 6)
    assert "'Alex Trialist'" in message(result, 6)
    assert message(result, 7) == "Total Distance: unreadable number '1,204.7'"
    assert message(result, 9).startswith("date: unreadable date '17-Nov-2026'")
    # "Total Loading" stands for player load; the drills of an "Entire Session" are parts.
    assert await external(client, squad, roster.jordan, "2026-11-15", "2026-11-18") == {
        "2026-11-16": 512.4,
        "2026-11-17": 300.0,
    }
    # Two sessions on the 17th add up.
    assert await external(client, squad, roster.sam, "2026-11-15", "2026-11-18") == {
        "2026-11-16": 498.6,
        "2026-11-17": 205.75,
    }
    assert await external(client, squad, roster.luca, "2026-11-15", "2026-11-18") == {}


async def test_stored_rows_keep_distances_and_sprints(
    client: httpx.AsyncClient, squad: Squad, roster: Roster, api: Api
) -> None:
    await upload(client, squad, (DATA / "statsports_apex.csv").read_bytes())

    async with api.sessionmaker() as session:
        row = await session.scalar(
            select(ExternalLoad).where(
                ExternalLoad.membership_id == roster.jordan,
                ExternalLoad.date == datetime(2026, 11, 16).date(),
            )
        )
    assert row is not None
    assert (row.player_load, row.distance_m, row.hsr_m, row.sprints) == (512.4, 6875.3, 588.1, 12)
    assert row.source == "CSV"


async def test_plain_columns_dates_and_values(
    client: httpx.AsyncClient, squad: Squad, roster: Roster
) -> None:
    future = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    content = (
        "athlete_ref,date,player_load,distance_m,hsr_m,sprints\n"
        "CAT-0007,2026-10-02,100.5,5000,300,5\n"  # 2
        "CAT-0007,2026-10-02,50,,,\n"  # 3: same athlete and day: adds up
        "CAT-0007,10/30/2026,70,,,\n"  # 4: month-first only: read as 30 October
        "CAT-0007,05/10/2026,10,,,\n"  # 5: ambiguous in a file with month-first dates
        "CAT-0007,07/07/2026,20,,,\n"  # 6: both readings agree
        "CAT-0007,05/10/26,10,,,\n"  # 7: two-digit year
        f"CAT-0007,{future},10,,,\n"  # 8: future
        "CAT-0007,2026-10-03,-4,,,\n"  # 9: negative load
        "CAT-0007,2026-10-03,40,,,2.5\n"  # 10: half a sprint
        "CAT-0007,2026-10-03,,,,\n"  # 11: no load
        "NOPE-1,2026-10-03,40,,,\n"  # 12: unknown athlete
        "\n"  # 13: blank, not a row
        "CAT-0007,1999-12-31,40,,,\n"  # 14: before 2000
    ).encode()

    result = (await upload(client, squad, content)).json()

    assert (result["rows"], result["imported"], result["skipped"]) == (12, 4, 0)
    assert lines(result) == [5, 7, 8, 9, 10, 11, 12, 14]
    assert "ambiguous date '05/10/2026'" in message(result, 5)
    assert "two-digit year" in message(result, 7)
    assert "in the future" in message(result, 8)
    assert message(result, 9) == "player_load: -4 is outside 0 to 100000"
    assert message(result, 10) == "sprints: 2.5 is not a whole number"
    assert message(result, 11) == "player_load: missing"
    assert "external_ref 'NOPE-1'" in message(result, 12)
    assert "before 2000-01-01" in message(result, 14)
    assert await external(client, squad, roster.jordan, "2026-07-01", "2026-10-31") == {
        "2026-07-07": 20.0,
        "2026-10-02": 150.5,
        "2026-10-30": 70.0,
    }


async def test_semicolon_file_with_decimal_commas(
    client: httpx.AsyncClient, squad: Squad, roster: Roster
) -> None:
    content = "Player Name;Date;Player Load\r\nSam Okafor;02/10/2026;123,5\r\n".encode("cp1252")

    result = (await upload(client, squad, content)).json()

    assert (result["rows"], result["imported"], result["errors"]) == (1, 1, [])
    assert await external(client, squad, roster.sam, "2026-10-01", "2026-10-03") == {
        "2026-10-02": 123.5
    }


async def test_unreadable_files_are_refused(
    client: httpx.AsyncClient, squad: Squad, roster: Roster
) -> None:
    for content in (b"", b"foo,bar\n1,2\n", b"\x89PNG\r\n\x1a\n\x00\x00binary"):
        response = await upload(client, squad, content)
        assert response.status_code == 422, content
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["loc"] == ["body", "file"]

    no_file = await client.post(
        f"/teams/{squad.team['id']}/external-load/import", headers=squad.coach.headers
    )
    assert no_file.status_code == 422


async def test_a_file_over_5_mb_is_refused(
    client: httpx.AsyncClient, squad: Squad, roster: Roster
) -> None:
    header = b"athlete_ref,date,player_load\n"
    content = header + b"CAT-0007,2026-10-02,1\n" * (5 * 1024 * 1024 // 22 + 1)

    response = await upload(client, squad, content)

    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert await external(client, squad, roster.jordan, "2026-10-01", "2026-10-03") == {}


async def test_too_many_rows_are_refused(
    client: httpx.AsyncClient, squad: Squad, roster: Roster
) -> None:
    content = b"athlete_ref,date,player_load\n" + b"CAT-0007,2026-10-02,1\n" * 20_001

    response = await upload(client, squad, content)

    assert response.status_code == 413
    assert await external(client, squad, roster.jordan, "2026-10-01", "2026-10-03") == {}


async def test_who_may_import(client: httpx.AsyncClient, squad: Squad, roster: Roster) -> None:
    content = b"athlete_ref,date,player_load\nCAT-0007,2026-10-02,1\n"
    url = f"/teams/{squad.team['id']}/external-load/import"
    files = {"file": ("export.csv", content, "text/csv")}

    assert (await client.post(url, files=files)).status_code == 401
    assert (await upload(client, squad, content, squad.player)).status_code == 403
    assert (await upload(client, squad, content, squad.outsider)).status_code == 404
    assert (await upload(client, squad, content, squad.owner)).status_code == 200
    assert await external(client, squad, roster.jordan, "2026-10-01", "2026-10-03") == {
        "2026-10-02": 1.0
    }


async def test_athletes_by_ref_then_jersey_then_name(
    client: httpx.AsyncClient, squad: Squad, roster: Roster, api: Api
) -> None:
    sam_junior = await add_player(api, squad, "Sam Okafor Jr", jersey_number=10)
    content = (
        b"Player ID,Jersey,Player Name,Date,Player Load\n"
        b"CAT-0007,10,Sam Okafor,2026-10-02,11\n"  # 2: the ref wins over jersey and name
        b",10,,2026-10-02,12\n"  # 3: two players wear 10
        b",10,sam  okafor,2026-10-02,13\n"  # 4: jersey ambiguous, the name decides
        b"CAT-9999,0,Sam Okafor Jr,2026-10-02,14\n"  # 5: unknown ref and jersey, then the name
    )

    result = (await upload(client, squad, content)).json()

    assert (result["rows"], result["imported"], lines(result)) == (4, 3, [3])
    assert message(result, 3) == "athlete not identified: 2 active players have jersey 10"
    for member, load in ((roster.jordan, 11.0), (roster.sam, 13.0), (sam_junior, 14.0)):
        assert await external(client, squad, member, "2026-10-02", "2026-10-02") == {
            "2026-10-02": load
        }
