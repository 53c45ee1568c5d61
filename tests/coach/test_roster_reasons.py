"""Issue 14: personal wellness baselines through the API, and the roster's reasons (with
the dashboard, the weekly PDF and ``status.changed``), at the roster's fixed query cost."""

import csv
import io
import math
import re
import statistics
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pypdf import PdfReader
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.models import DailyHRV, HrvSource, OutboundDelivery
from app.models import WellnessLog as Log
from app.services.coach import jobs as coach_jobs
from tests.fixtures.actors import Api, Squad, started_at
from tests.fixtures.databases import count_statements

TODAY = datetime.now(UTC).date()

# 25 mornings before today with sleep mean 4.2 and sample SD 0.5: one 3, eighteen 4s, six
# 5s (sum 105; squared deviations 1.44 + 18 x 0.04 + 6 x 0.64 = 6.0, and 6.0 / 24 = 0.25).
SLEEP_4_2 = [3] + [4] * 18 + [5] * 6
# 16 mornings: fourteen 5s and two 3s: mean 4.75, SD sqrt((14 x 0.0625 + 2 x 3.0625) / 15)
# = sqrt(7 / 15) = 0.68.
SLEEP_4_75 = [5] * 14 + [3] * 2


async def _history(api: Api, squad: Squad, member: int, sleep: list[int]) -> None:
    """One entry a morning before today (mood and soreness always 4), stored directly."""
    async with api.sessionmaker.begin() as session:
        for back, value in enumerate(sleep, start=1):
            session.add(
                Log(
                    team_id=squad.team["id"],
                    membership_id=member,
                    date=TODAY - timedelta(days=back),
                    sleep_quality=value,
                    mood=4,
                    soreness=4,
                )
            )


async def _wellness(api: Api, squad: Squad, member: int, **items: int) -> dict[str, Any]:
    response = await api.client.post(
        "/performance/wellness",
        json={"membership_id": member, "sleep_quality": 4, "mood": 4, "soreness": 4, **items},
        headers=squad.coach.headers,
    )
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def _roster(api: Api, squad: Squad) -> dict[int, dict[str, Any]]:
    response = await api.client.get(
        f"/teams/{squad.team['id']}/roster", headers=squad.coach.headers
    )
    assert response.status_code == 200, response.text
    return {entry["membership_id"]: entry for entry in response.json()}


async def test_red_only_by_the_baseline_sleep_3_against_4_2_and_0_5(api: Api, squad: Squad) -> None:
    """The issue's worked example: z = (3 - 4.2) / 0.5 = -2.4 -> red, although a 3 alone
    is green."""
    member = squad.player_membership["id"]
    await _history(api, squad, member, SLEEP_4_2)
    body = await _wellness(api, squad, member, sleep_quality=3)
    reason = "sleep_quality 3 is 2.4 SD below the 28-day mean 4.2 (z <= -2)"
    assert (body["total"], body["flag"], body["flag_reason"]) == (11, "red", reason)
    assert body["baseline"]["n"] == 25
    assert body["baseline"]["items"]["sleep_quality"] == {"mean": 4.2, "sd": 0.5, "z": -2.4}
    assert body["baseline"]["items"]["mood"] == {"mean": 4.0, "sd": 0.0, "z": None}
    assert body["baseline"]["items"]["fatigue"] == {"mean": None, "sd": None, "z": None}

    entry = (await _roster(api, squad))[member]
    assert entry["wellness_today"] == {"date": TODAY.isoformat(), "total": 11, "flag": "red"}
    assert entry["status"] == "red"
    assert entry["reasons"] == [
        {"signal": "wellness", "level": "red", "detail": f"Wellness on {TODAY}: {reason}"}
    ]
    # WELLNESS_RED is raised by the raised flag, and its evidence carries the baseline.
    alerts = await api.client.get(f"/teams/{squad.team['id']}/alerts", headers=squad.coach.headers)
    [alert] = [a for a in alerts.json() if a["kind"] == "WELLNESS_RED"]
    assert alert["message"] == f"Wellness red on {TODAY}: {reason}"
    inputs = alert["evidence"]["inputs"]
    assert (inputs["items_at_1"], inputs["items_flag"], inputs["flag"]) == ([], "green", "red")
    assert inputs["baseline"]["items"]["sleep_quality"] == {"mean": 4.2, "sd": 0.5, "z": -2.4}
    assert alert["evidence"]["params"]["z_red"] == -2.0

    # The list gives every entry its own baseline: yesterday's 3 had only 24 days before it.
    listed = await api.client.get(
        f"/performance/members/{member}/wellness",
        params={"from": (TODAY - timedelta(days=1)).isoformat()},
        headers=squad.player.headers,
    )
    assert listed.status_code == 200, listed.text
    yesterday, today = listed.json()
    assert (today["flag"], today["flag_reason"], today["baseline"]["n"]) == ("red", reason, 25)
    assert yesterday["baseline"]["n"] == 24
    assert yesterday["baseline"]["items"]["sleep_quality"]["mean"] == round(102 / 24, 2)


async def test_amber_by_z_at_most_minus_one(api: Api, squad: Squad) -> None:
    member = squad.player_membership["id"]
    await _history(api, squad, member, SLEEP_4_75)
    body = await _wellness(api, squad, member, sleep_quality=4)  # z = -0.75 / 0.68 = -1.1
    assert body["baseline"]["items"]["sleep_quality"] == {"mean": 4.75, "sd": 0.68, "z": -1.1}
    reason = "sleep_quality 4 is 1.1 SD below the 28-day mean 4.75 (z <= -1)"
    assert (body["flag"], body["flag_reason"]) == ("amber", reason)
    entry = (await _roster(api, squad))[member]
    assert (entry["wellness_today"]["flag"], entry["status"]) == ("amber", "amber")
    assert entry["reasons"] == [
        {"signal": "wellness", "level": "amber", "detail": f"Wellness on {TODAY}: {reason}"}
    ]
    # A 5 is above the normal: the flag is green, no reason; no alert for an amber.
    body = await _wellness(api, squad, member, sleep_quality=5)
    assert (body["flag"], body["flag_reason"]) == ("green", None)
    assert (await _roster(api, squad))[member]["reasons"] == []


async def test_an_item_at_1_is_red_with_its_reason_and_never_lowered(
    api: Api, squad: Squad
) -> None:
    member, teammate = squad.player_membership["id"], squad.teammate_membership["id"]
    await _history(api, squad, member, SLEEP_4_2)
    body = await _wellness(api, squad, member, sleep_quality=5, soreness=1)
    assert (body["flag"], body["flag_reason"]) == ("red", "soreness is 1 (an item at 1 is red)")
    assert body["baseline"]["items"]["sleep_quality"]["z"] == 1.6  # well above: still red
    body = await _wellness(api, squad, teammate, mood=2)  # no history: the scale alone
    assert (body["flag"], body["baseline"], body["flag_reason"]) == (
        "amber",
        None,
        "mood is 2 (an item at 2 is amber)",
    )
    roster = await _roster(api, squad)
    assert roster[member]["reasons"] == [
        {
            "signal": "wellness",
            "level": "red",
            "detail": f"Wellness on {TODAY}: soreness is 1 (an item at 1 is red)",
        }
    ]
    assert roster[teammate]["reasons"][0]["level"] == "amber"


async def _srpe(api: Api, squad: Squad, member: int, day: date, rpe: float, minutes: int) -> None:
    session = await api.session(squad.team, squad.coach, start=started_at(day, 10), minutes=minutes)
    response = await api.client.post(
        f"/performance/sessions/{session['id']}/srpe",
        json={"membership_id": member, "rpe_0_10": rpe},
        headers=squad.coach.headers,
    )
    assert response.status_code == 201, response.text


async def _spike(api: Api, squad: Squad, member: int) -> None:
    """acute 2 / chronic 10 days; 60 AU on each of 10 days, then 1200 today. Williams
    (a = 2 / (N + 1)), seeded with 60: acute = 2/3 x 1200 + 1/3 x 60 = 820, chronic =
    2/11 x 1200 + 9/11 x 60 = 267.27, ratio 3.07 > danger 1.4."""
    response = await api.client.patch(
        f"/teams/{squad.team['id']}",
        json={"acwr": {"acute_days": 2, "chronic_days": 10}},
        headers=squad.owner.headers,
    )
    assert response.status_code == 200, response.text
    for back in range(10, 0, -1):
        await _srpe(api, squad, member, TODAY - timedelta(days=back), 2, 30)
    await _srpe(api, squad, member, TODAY, 10, 120)


async def test_acwr_danger_reason_with_the_numbers(api: Api, squad: Squad) -> None:
    member = squad.player_membership["id"]
    await _spike(api, squad, member)
    entry = (await _roster(api, squad))[member]
    assert entry["latest_acwr"]["zone"] == "danger"
    assert math.isclose(entry["latest_acwr"]["ratio"], 820 / (2400 / 11 + 540 / 11))
    assert entry["status"] == "red"
    assert entry["reasons"] == [
        {"signal": "acwr", "level": "red", "detail": f"ACWR 3.07 above danger 1.4 on {TODAY}"}
    ]


def _hrv_ln() -> dict[int, float]:
    """ln rMSSD by days back: 4.0 and 4.2 alternating 7 to 60 days back, 3.8 the last 7."""
    return {back: 3.8 if back < 7 else (4.0 if back % 2 else 4.2) for back in range(61)}


async def _add_hrv(api: Api, squad: Squad, member: int) -> None:
    async with api.sessionmaker.begin() as session:
        for back, ln in _hrv_ln().items():
            session.add(
                DailyHRV(
                    team_id=squad.team["id"],
                    membership_id=member,
                    date=TODAY - timedelta(days=back),
                    rmssd_ms=math.exp(ln),
                    ln_rmssd=ln,
                    source=HrvSource.MANUAL,
                )
            )


async def test_hrv_below_normal_reason_with_the_band(api: Api, squad: Squad) -> None:
    member = squad.player_membership["id"]
    await _add_hrv(api, squad, member)
    values = _hrv_ln()
    baseline = [values[back] for back in range(1, 61)]  # the 60 days before today
    centre, spread = statistics.fmean(baseline), statistics.stdev(baseline)
    assert round(centre, 3) == 4.07
    entry = (await _roster(api, squad))[member]
    assert (entry["hrv_flag"], entry["status"]) == ("below", "amber")
    assert entry["reasons"] == [
        {
            "signal": "hrv",
            "level": "amber",
            "detail": f"HRV below normal on {TODAY}: 7-day mean ln rMSSD 3.800 under the "
            f"60-day band {centre:.3f} - 0.5 x SD {spread:.3f} = {centre - 0.5 * spread:.3f}",
        }
    ]


async def _everything_red(api: Api, squad: Squad) -> None:
    """The player red by ACWR and wellness and amber by HRV; the teammate amber by z."""
    member = squad.player_membership["id"]
    await _spike(api, squad, member)
    await _add_hrv(api, squad, member)
    await _history(api, squad, member, SLEEP_4_2)
    await _wellness(api, squad, member, sleep_quality=3)
    await _history(api, squad, squad.teammate_membership["id"], SLEEP_4_75)
    await _wellness(api, squad, squad.teammate_membership["id"], sleep_quality=4)


async def test_every_signal_explains_itself_in_order_on_the_dashboard_too(
    api: Api, squad: Squad
) -> None:
    await _everything_red(api, squad)
    entry = (await _roster(api, squad))[squad.player_membership["id"]]
    assert [(r["signal"], r["level"]) for r in entry["reasons"]] == [
        ("acwr", "red"),
        ("wellness", "red"),
        ("hrv", "amber"),
    ]
    response = await api.client.get(
        f"/teams/{squad.team['id']}/dashboard", headers=squad.coach.headers
    )
    assert response.status_code == 200, response.text
    players = {p["membership_id"]: p for p in response.json()["players"]}
    assert players[squad.player_membership["id"]]["reasons"] == entry["reasons"]
    assert players[squad.player_membership["id"]]["status"] == "red"
    # Players never see the roster or the dashboard (staff only), so no teammate's reasons.
    for path in ("roster", "dashboard"):
        response = await api.client.get(
            f"/teams/{squad.team['id']}/{path}", headers=squad.player.headers
        )
        assert response.status_code == 403, response.text


async def test_reasons_add_no_statement(api: Api, squad: Squad, engine: AsyncEngine) -> None:
    path = f"/teams/{squad.team['id']}/roster"
    assert (await api.client.get(path, headers=squad.coach.headers)).status_code == 200
    with count_statements(engine) as nothing:
        response = await api.client.get(path, headers=squad.coach.headers)
    assert all(e["reasons"] == [] for e in response.json())
    await _everything_red(api, squad)
    assert (await api.client.get(path, headers=squad.coach.headers)).status_code == 200
    with count_statements(engine) as reasons:
        response = await api.client.get(path, headers=squad.coach.headers)
    assert sum(len(e["reasons"]) for e in response.json()) == 4
    assert len(reasons) == len(nothing), (nothing, reasons)


async def test_the_wellness_list_reads_the_window_once(
    api: Api, squad: Squad, engine: AsyncEngine
) -> None:
    member = squad.player_membership["id"]
    path = f"/performance/members/{member}/wellness"
    params = {"from": (TODAY - timedelta(days=60)).isoformat()}
    counts = []
    for sleep in ([4] * 2, SLEEP_4_2 * 2):
        async with api.sessionmaker.begin() as session:
            await session.execute(delete(Log).where(Log.membership_id == member))
        await _history(api, squad, member, sleep)
        with count_statements(engine) as statements:
            response = await api.client.get(path, params=params, headers=squad.player.headers)
        assert response.status_code == 200, response.text
        assert len(response.json()) == len(sleep)
        counts.append(len(statements))
    assert counts[0] == counts[1], counts


async def test_status_changed_carries_the_reasons(
    api: Api, squad: Squad, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    response = await api.client.post(
        f"/teams/{squad.team['id']}/outbound-webhooks",
        json={"url": "https://93.184.216.34/hooks/loadline", "events": ["status.changed"]},
        headers=squad.owner.headers,
    )
    assert response.status_code == 201, response.text
    member = squad.player_membership["id"]
    await _history(api, squad, member, SLEEP_4_2)
    await _wellness(api, squad, member, sleep_quality=3)
    await coach_jobs.track_status_changes(sessionmaker, team_ids=[squad.team["id"]])
    async with sessionmaker() as session:
        deliveries = list(
            await session.scalars(
                select(OutboundDelivery).where(OutboundDelivery.event == "status.changed")
            )
        )
    [change] = [d.payload for d in deliveries if d.payload["membership_id"] == member]
    assert (change["previous_status"], change["status"]) == ("no_data", "red")
    assert change["reasons"] == [
        {
            "signal": "wellness",
            "level": "red",
            "detail": f"Wellness on {TODAY}: sleep_quality 3 is 2.4 SD below the 28-day mean "
            "4.2 (z <= -2)",
        }
    ]


async def test_the_weekly_pdf_says_why(api: Api, squad: Squad) -> None:
    await _everything_red(api, squad)
    iso = TODAY.isocalendar()
    response = await api.client.get(
        f"/teams/{squad.team['id']}/reports/weekly.pdf",
        params={"week": f"{iso.year}-W{iso.week:02d}"},
        headers=squad.coach.headers,
    )
    assert response.status_code == 200, response.text
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    text = re.sub(r"\s+", " ", text)
    assert f"Why: ACWR 3.07 above danger 1.4 on {TODAY}; Wellness on {TODAY}: sleep_quality 3" in (
        text
    ), text
    assert "2.4 SD below the 28-day mean 4.2 (z <= -2); HRV below normal" in text, text
    assert "sleep_quality 4 is 1.1 SD below the 28-day mean 4.75 (z <= -1)" in text, text


async def test_the_weekly_csv_flags_a_day_by_the_baseline(api: Api, squad: Squad) -> None:
    member = squad.player_membership["id"]
    await _history(api, squad, member, SLEEP_4_2)
    await _wellness(api, squad, member, sleep_quality=3)
    iso = TODAY.isocalendar()
    response = await api.client.get(
        f"/teams/{squad.team['id']}/reports/weekly.csv",
        params={"week": f"{iso.year}-W{iso.week:02d}"},
        headers=squad.coach.headers,
    )
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    [today] = [r for r in rows if r["membership_id"] == str(member) and r["date"] == str(TODAY)]
    assert (today["wellness_total"], today["wellness_flag"]) == ("11", "red")
