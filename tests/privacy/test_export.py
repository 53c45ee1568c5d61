"""Export (contract: Privacy): the ZIP opened and every file checked against the API's own
answers for the same member; README columns, no token, nothing of another member, who may."""

import asyncio
import csv
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import dialect_name, read_snapshot
from app.models import AuditEntry, LinkedDevice, WellnessLog
from app.services.audit import service as audit
from app.services.privacy import catalogue
from tests.fixtures import fake_vendor as fv
from tests.fixtures.actors import Actor, Api, Squad, build_squad
from tests.privacy.conftest import CLINICAL, MATE_NOTE, PLAYER_NOTE, History, post_ok

MEMBER_FILES = [file.name for file in catalogue.MEMBER_FILES]


def _open(response: httpx.Response) -> zipfile.ZipFile:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"].startswith('attachment; filename="')
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None  # every member's CRC checks out
    return archive


def _csv(archive: zipfile.ZipFile, path: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(archive.read(path).decode())))


def _cell(value: Any) -> str:
    """How the API's JSON value stands in a CSV cell."""
    return "" if value is None else str(value)


def _rows_of(items: list[dict[str, Any]], columns: list[str]) -> list[dict[str, str]]:
    return [{name: _cell(item[name]) for name in columns} for item in items]


async def _get(client: httpx.AsyncClient, actor: Actor, url: str, **params: Any) -> Any:
    response = await client.get(url, params=params, headers=actor.headers)
    assert response.status_code == 200, (url, response.text)
    return response.json()


async def test_every_file_agrees_with_the_api(
    client: httpx.AsyncClient, history: History, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    squad, m = history.squad, history.player_m
    player = squad.player
    archive = _open(await client.get("/auth/me/export", headers=player.headers))
    folder = f"team-{squad.team['id']}-membership-{m}"
    assert sorted(archive.namelist()) == sorted(
        ["README.txt", "profile.json", *(f"{folder}/{name}" for name in MEMBER_FILES)]
    )
    member = f"/performance/members/{m}"
    today = datetime.now(UTC).date()
    since = {"from": (today - timedelta(days=30)).isoformat(), "to": today.isoformat()}

    profile = json.loads(archive.read("profile.json"))
    me = await _get(client, player, "/auth/me")
    assert {k: profile["user"][k] for k in ("id", "email", "full_name", "is_admin")} == {
        k: me[k] for k in ("id", "email", "full_name", "is_admin")
    }
    assert [
        (x["id"], x["team_id"], x["team_name"], x["role"], x["active"])
        for x in profile["memberships"]
    ] == [
        (x["id"], x["team_id"], x["team_name"], x["role"], x["active"]) for x in me["memberships"]
    ]
    assert profile["memberships"][0]["jersey_number"] == 9
    assert profile["memberships"][0]["folder"] == folder

    wellness = await _get(client, player, f"{member}/wellness", **since)
    header = catalogue.MEMBER_FILES[0].header
    assert _csv(archive, f"{folder}/wellness.csv") == [
        {**row, "notes": "'" + PLAYER_NOTE if row["notes"] == PLAYER_NOTE else row["notes"]}
        for row in _rows_of(wellness, header)
    ]  # the formula-like note is written as text (a leading apostrophe)
    assert len(wellness) == 2

    srpe = [
        row
        for session_id in history.sessions
        for row in await _get(client, player, f"/performance/sessions/{session_id}/srpe")
    ]
    exported = _csv(archive, f"{folder}/srpe.csv")
    columns = ["id", "session_id", "rpe_0_10", "duration_min", "load_au"]
    assert [{k: row[k] for k in columns} for row in exported] == _rows_of(srpe, columns)
    assert [row["session_title"] for row in exported] == ["Training", "Training"]

    attendance = [
        {**row, "session_id": session_id}
        for session_id in history.sessions
        for row in await _get(client, squad.coach, f"/performance/sessions/{session_id}/attendance")
        if row["membership_id"] == m
    ]
    exported = _csv(archive, f"{folder}/attendance.csv")
    columns = ["session_id", "status", "minutes_participated"]
    assert [{k: row[k] for k in columns} for row in exported] == _rows_of(attendance, columns)
    assert [row["status"] for row in exported] == ["LATE", "PRESENT"]

    loads = await _get(client, player, f"{member}/daily-loads", **since)
    exported_loads = {row["date"]: row for row in _csv(archive, f"{folder}/daily_loads.csv")}
    assert len(exported_loads) == 2
    for day in loads:
        if day["date"] in exported_loads:
            assert exported_loads[day["date"]] == _rows_of([day], list(day))[0]
        else:
            assert day["internal_load_au"] == 0 and day["external_load_pl"] == 0

    exported_acwr = _csv(archive, f"{folder}/acwr.csv")
    assert {row["source"] for row in exported_acwr} == {"INTERNAL"}  # no GPS load at all
    first = exported_acwr[0]["date"]
    acwr = await _get(client, player, f"{member}/acwr", **{"from": first, "to": since["to"]})
    columns = catalogue.MEMBER_FILES[5].header[1:]
    assert [{k: row[k] for k in columns} for row in exported_acwr] == _rows_of(
        acwr["points"], columns
    )

    hrv = [day for day in await _get(client, player, f"{member}/hrv", **since) if day["rmssd_ms"]]
    assert _csv(archive, f"{folder}/hrv.csv") == _rows_of(hrv, list(hrv[0]))
    assert len(hrv) == 5

    ostrc = await _get(client, player, f"{member}/ostrc", **since)
    header = catalogue.MEMBER_FILES[7].header
    assert _csv(archive, f"{folder}/ostrc.csv") == _rows_of(ostrc, header)

    problems = await _get(client, player, f"{member}/health-problems", status="all")
    assert json.loads(archive.read(f"{folder}/health_problems.json")) == problems
    assert len(problems) == 2
    clinical = next(p for p in problems if p["id"] == history.problem_id)
    assert {k: clinical[k] for k in CLINICAL} == CLINICAL  # clinical fields included

    devices = await _get(client, player, f"{member}/devices")
    assert json.loads(archive.read(f"{folder}/devices.json")) == devices
    assert [d["id"] for d in devices] == [history.device_id]

    async with sessionmaker() as db:
        entries = list(await db.scalars(audit.entries_query(membership_ids=[m])))
    exported = _csv(archive, f"{folder}/audit.csv")
    # The log as it stood at the export (which it ends with); the reads above came later.
    export_entry = int(exported[-1]["id"])
    assert [int(row["id"]) for row in exported] == [e.id for e in entries if e.id <= export_entry]
    assert {e.action for e in entries if e.id > export_entry} == {"read"}
    assert exported[-1] | {"id": "", "at": "", "request_id": ""} == {
        "id": "",
        "at": "",
        "actor_user_id": str(player.id),
        "action": "export",
        "resource": "member",
        "team_id": str(squad.team["id"]),
        "membership_id": str(m),
        "resource_id": "",
        "request_id": "",
    }  # the export itself is recorded before its first byte


async def test_readme_describes_every_file_and_column(
    client: httpx.AsyncClient, history: History
) -> None:
    squad = history.squad
    url = f"/teams/{squad.team['id']}/members/{history.player_m}/export"
    archive = _open(await client.get(url, headers=squad.owner.headers))
    readme = archive.read("README.txt").decode()
    folder = f"team-{squad.team['id']}-membership-{history.player_m}"
    for file in catalogue.MEMBER_FILES:
        section = readme.split(f"<folder>/{file.name}\n", 1)[1].split("\n\n", 1)[0]
        content = archive.read(f"{folder}/{file.name}").decode()
        if file.name.endswith(".csv"):
            assert next(csv.reader(io.StringIO(content))) == file.header
            described = file.header
        else:
            items = json.loads(content)
            assert items, file.name
            assert sorted({key for item in items for key in item}) == sorted(file.header)
            described = file.header
        for column in described:
            assert f"  - {column}: " in section, (file.name, column)
    profile = json.loads(archive.read("profile.json"))
    for key in profile["user"]:
        assert f"  - user.{key}: " in readme
    for key in profile["memberships"][0]:
        assert f"  - memberships[].{key}: " in readme


async def test_no_token_and_nothing_of_another_member(
    client: httpx.AsyncClient,
    history: History,
    fake: fv.FakeVendors,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    squad = history.squad
    url = f"/teams/{squad.team['id']}/members/{history.player_m}/export"
    archive = _open(await client.get(url, headers=squad.owner.headers))
    everything = "\n".join(archive.read(name).decode() for name in archive.namelist())
    async with sessionmaker() as db:
        device = await db.scalar(select(LinkedDevice).where(LinkedDevice.id == history.device_id))
    assert device is not None
    issued = [
        token for pair in fake.whoop.issued for token in pair.values() if isinstance(token, str)
    ]
    secrets = [device.access_token_enc, device.refresh_token_enc or "", *issued]
    assert [secret for secret in secrets if len(secret) > 8 and secret in everything] == []
    devices = json.loads(
        archive.read(f"team-{squad.team['id']}-membership-{history.player_m}/devices.json")
    )
    assert sorted(devices[0]) == ["external_user_id", "id", "linked_at", "provider", "status"]
    # The teammate trained in the same sessions and filled in wellness and HRV too.
    assert MATE_NOTE not in everything
    assert squad.teammate.email not in everything
    assert f"membership-{history.mate_m}" not in everything
    assert [name.split("/")[0] for name in archive.namelist() if "/" in name] == [
        f"team-{squad.team['id']}-membership-{history.player_m}"
    ] * len(MEMBER_FILES)
    profile = json.loads(archive.read("profile.json"))
    assert profile["user"]["email"] == squad.player.email


async def test_who_may_export_a_member(client: httpx.AsyncClient, history: History) -> None:
    squad = history.squad
    url = f"/teams/{squad.team['id']}/members/{history.player_m}/export"
    for actor, status in (
        (squad.outsider, 404),
        (squad.coach, 403),
        (history.medic, 403),
        (squad.player, 403),  # the athlete exports through /auth/me/export
        (squad.teammate, 403),
    ):
        response = await client.get(url, headers=actor.headers)
        assert response.status_code == status, (actor, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    # The owner names a member of another team through their own team: 404.
    other_team = (await client.get("/teams", headers=squad.outsider.headers)).json()[0]
    response = await client.get(
        f"/teams/{other_team['id']}/members/{history.player_m}/export",
        headers=squad.outsider.headers,
    )
    assert response.status_code == 404
    assert (await client.get("/auth/me/export")).status_code == 401


async def test_an_export_by_the_owner_is_in_the_audit_log(
    client: httpx.AsyncClient, history: History, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    squad = history.squad
    url = f"/teams/{squad.team['id']}/members/{history.player_m}/export"
    _open(await client.get(url, headers=squad.owner.headers))
    async with sessionmaker() as db:
        entries = list(await db.scalars(select(AuditEntry).where(AuditEntry.action == "export")))
    assert [(e.actor_user_id, e.membership_id, e.team_id, e.resource) for e in entries] == [
        (squad.owner.id, history.player_m, squad.team["id"], "member")
    ]


async def test_a_user_in_two_teams_gets_both_and_a_stranger_an_empty_export(
    api: Api, client: httpx.AsyncClient, history: History
) -> None:
    squad = history.squad
    second = await api.team(squad.outsider)
    other = await api.join(second, squad.outsider, squad.player)
    archive = _open(await client.get("/auth/me/export", headers=squad.player.headers))
    folders = sorted({name.split("/")[0] for name in archive.namelist() if "/" in name})
    assert folders == sorted(
        [
            f"team-{squad.team['id']}-membership-{history.player_m}",
            f"team-{second['id']}-membership-{other['id']}",
        ]
    )
    # The owner of the second team exports only what that team holds.
    url = f"/teams/{second['id']}/members/{other['id']}/export"
    archive = _open(await client.get(url, headers=squad.outsider.headers))
    assert PLAYER_NOTE not in "".join(archive.read(n).decode() for n in archive.namelist())
    assert [m["id"] for m in json.loads(archive.read("profile.json"))["memberships"]] == [
        other["id"]
    ]
    loner = await api.user("loner")
    archive = _open(await client.get("/auth/me/export", headers=loner.headers))
    assert sorted(archive.namelist()) == ["README.txt", "profile.json"]


async def test_the_export_reads_one_snapshot_and_holds_back_no_writer(
    live_api: Api,
) -> None:
    """Over a database with real commits (the app's own sessionmaker, as in production):
    the export's session keeps seeing what was there when it began while a writer commits
    meanwhile, without waiting for it (SQLite: a deferred WAL read; PostgreSQL: REPEATABLE
    READ), and it cannot write (PostgreSQL: READ ONLY)."""
    squad = await build_squad(live_api)
    m = squad.player_membership["id"]
    body = {"membership_id": m, "sleep_quality": 4, "mood": 4, "soreness": 4}
    await post_ok(live_api.client, squad.player, "/performance/wellness", body)
    count = select(func.count()).select_from(WellnessLog).where(WellnessLog.membership_id == m)
    async with read_snapshot(live_api.sessionmaker) as snapshot:
        assert await snapshot.scalar(count) == 1
        yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
        response = await asyncio.wait_for(
            live_api.client.post(
                "/performance/wellness",
                json=body | {"date": yesterday},
                headers=squad.player.headers,
            ),
            timeout=5,  # SQLite waits 30 s for a write lock: a held one would show here
        )
        assert response.status_code == 201, response.text
        assert await snapshot.scalar(count) == 1  # still the snapshot it began with
        if dialect_name(snapshot) == "postgresql":
            with pytest.raises(DBAPIError, match="read-only transaction"):
                await snapshot.execute(delete(WellnessLog))
    async with live_api.sessionmaker() as fresh:
        assert await fresh.scalar(count) == 2


async def test_the_exported_wellness_flag_is_the_one_the_api_gives(api: Api, squad: Squad) -> None:
    """An entry raised by the athlete's own baseline (sleep 4 and 5 for 28 days, then 3:
    z about -2.9, red although 3 alone is green) is red in wellness.csv too, with the API's
    reason."""
    m = squad.player_membership["id"]
    today = datetime.now(UTC).date()
    for back in range(28, -1, -1):
        sleep = 3 if back == 0 else 4 + back % 2
        body = {"membership_id": m, "date": (today - timedelta(days=back)).isoformat()}
        await post_ok(
            api.client,
            squad.player,
            "/performance/wellness",
            body | {"sleep_quality": sleep, "mood": 4, "soreness": 4},
        )
    since = {"from": (today - timedelta(days=28)).isoformat()}
    listed = await _get(api.client, squad.player, f"/performance/members/{m}/wellness", **since)
    assert listed[-1]["flag"] == "red" and listed[-1]["flag_reason"]
    response = await api.client.get("/auth/me/export", headers=squad.player.headers)
    assert response.status_code == 200, response.text
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    (path,) = [n for n in archive.namelist() if n.endswith(f"membership-{m}/wellness.csv")]
    exported = _csv(archive, path)
    assert [(r["flag"], r["flag_reason"]) for r in exported] == [
        (x["flag"], _cell(x["flag_reason"])) for x in listed
    ]
