"""Wellness: flags with 5 as best, whole replacement, default day, listing."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.fixtures.actors import Squad


@pytest.mark.parametrize(
    ("items", "total", "flag"),
    [
        ({"sleep_quality": 4, "mood": 5, "soreness": 3}, 12, "green"),
        ({"sleep_quality": 4, "mood": 2, "soreness": 3, "stress": 5}, 14, "amber"),
        ({"sleep_quality": 2, "mood": 5, "soreness": 1}, 8, "red"),
        ({"sleep_quality": 5, "mood": 5, "soreness": 5, "stress": 5, "fatigue": 1}, 21, "red"),
    ],
)
async def test_total_and_flag(
    client: httpx.AsyncClient, squad: Squad, items: dict[str, int], total: int, flag: str
) -> None:
    response = await client.post(
        "/performance/wellness",
        json={"membership_id": squad.player_membership["id"], **items},
        headers=squad.player.headers,
    )
    assert response.status_code == 201
    assert (response.json()["total"], response.json()["flag"]) == (total, flag)


async def test_update_replaces_the_whole_entry(client: httpx.AsyncClient, squad: Squad) -> None:
    member = squad.player_membership["id"]
    first = await client.post(
        "/performance/wellness",
        json={
            "membership_id": member,
            "date": "2026-01-05",
            "sleep_quality": 3,
            "mood": 3,
            "soreness": 3,
            "stress": 1,
            "notes": "bad night",
        },
        headers=squad.player.headers,
    )
    assert first.status_code == 201
    second = await client.post(
        "/performance/wellness",
        json={
            "membership_id": member,
            "date": "2026-01-05",
            "sleep_quality": 4,
            "mood": 4,
            "soreness": 4,
        },
        headers=squad.coach.headers,
    )
    assert second.status_code == 200
    body = second.json()
    assert body["id"] == first.json()["id"]
    assert (body["stress"], body["notes"], body["flag"], body["total"]) == (None, None, "green", 12)
    listed = await client.get(
        f"/performance/members/{member}/wellness",
        params={"from": "2026-01-01", "to": "2026-01-31"},
        headers=squad.player.headers,
    )
    assert [(w["date"], w["total"]) for w in listed.json()] == [("2026-01-05", 12)]


async def test_date_defaults_to_today_and_future_is_refused(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    member = squad.player_membership["id"]
    today = datetime.now(UTC).date()
    created = await client.post(
        "/performance/wellness",
        json={"membership_id": member, "sleep_quality": 3, "mood": 3, "soreness": 3},
        headers=squad.player.headers,
    )
    assert created.json()["date"] == today.isoformat()
    future = await client.post(
        "/performance/wellness",
        json={
            "membership_id": member,
            "date": (today + timedelta(days=1)).isoformat(),
            "sleep_quality": 3,
            "mood": 3,
            "soreness": 3,
        },
        headers=squad.player.headers,
    )
    assert future.status_code == 422
    assert future.json()["errors"][0]["loc"] == ["body", "date"]


async def test_list_shows_only_days_with_entries_in_range(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    member = squad.player_membership["id"]
    today = datetime.now(UTC).date()
    for back in (0, 3, 30):
        await client.post(
            "/performance/wellness",
            json={
                "membership_id": member,
                "date": (today - timedelta(days=back)).isoformat(),
                "sleep_quality": 3,
                "mood": 3,
                "soreness": 3,
            },
            headers=squad.player.headers,
        )
    default_range = await client.get(
        f"/performance/members/{member}/wellness", headers=squad.coach.headers
    )
    assert [w["date"] for w in default_range.json()] == [
        (today - timedelta(days=3)).isoformat(),
        today.isoformat(),
    ]
