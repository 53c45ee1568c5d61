"""The demo's wearables: morning HRV (WHOOP, Oura or typed in) for most of the squad, and a
GPS summary of every field session a player took part in."""

import math
import random
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from app.cli.demo.scenario import SPIKE_JERSEY, SPIKE_RETURN_DAYS, Athlete, Plan, phase_of
from app.models import ATTENDED, HrvSource, SessionType
from app.services.loads.external import NewLoad

# --- HRV ------------------------------------------------------------------------------

DEVICE_PLAYERS = 10  # WHOOP or Oura, the spike player among them
MANUAL_PLAYERS = 4  # type their morning reading in by hand
HRV_NOISE_LN = 0.07  # day-to-day spread of ln rMSSD
HRV_AFTER = {SessionType.MATCH: 0.14, SessionType.CONDITIONING: 0.06}
HRV_SPIKE_SLIDE_LN = 0.035  # per day of the spike player's last 10 days
HRV_PHASE = {"injured": 0.05, "ill": 0.12}  # lower while injured, more so while ill


def hrv_rows(
    team_id: int,
    days: Sequence[date],
    end: date,
    by_day: dict[date, list[tuple[int, Plan]]],
    athletes: Sequence[Athlete],
    rng: random.Random,
) -> list[dict[str, Any]]:
    """Morning rMSSD for about two thirds of the squad, through this morning.

    Each player has their own level (40-110 ms) and wobbles around it day to day; the
    morning after a match (or hard conditioning) is lower. The spike player's values slide
    over his last ten days, so his 7-day mean falls below his baseline band.
    """
    spike = next(a for a in athletes if a.jersey == SPIKE_JERSEY)
    others = [a for a in athletes if a.jersey != SPIKE_JERSEY]
    picked = rng.sample(others, DEVICE_PLAYERS - 1 + MANUAL_PLAYERS)
    sources = {spike.membership_id: HrvSource.WHOOP}
    for index, athlete in enumerate(picked[: DEVICE_PLAYERS - 1]):
        sources[athlete.membership_id] = HrvSource.OURA if index % 2 else HrvSource.WHOOP
    for athlete in picked[DEVICE_PLAYERS - 1 :]:
        sources[athlete.membership_id] = HrvSource.MANUAL
    mornings = [*days, end + timedelta(days=1)]
    out: list[dict[str, Any]] = []
    for athlete in athletes:
        source = sources.get(athlete.membership_id)
        if source is None:
            continue
        level = math.log(rng.uniform(50, 95))
        rate = 0.62 if source == HrvSource.MANUAL else 0.93
        drift = 0.0
        for day in mornings:
            drift = 0.8 * drift + rng.gauss(0, 0.015)  # a slow wander, week to week
            if rng.random() > rate:
                continue
            yesterday = {p.session_type for _, p in by_day.get(day - timedelta(days=1), [])}
            ln = level + drift + rng.gauss(0, HRV_NOISE_LN)
            ln -= max((HRV_AFTER.get(kind, 0.0) for kind in yesterday), default=0.0)
            ln -= HRV_PHASE.get(phase_of(athlete, day, end), 0.0)
            days_left = (end - day).days
            if athlete.jersey == SPIKE_JERSEY and days_left < SPIKE_RETURN_DAYS:
                ln -= HRV_SPIKE_SLIDE_LN * (SPIKE_RETURN_DAYS - days_left)
            rmssd = round(min(110.0, max(40.0, math.exp(ln))), 1)
            out.append(
                {
                    "team_id": team_id,
                    "membership_id": athlete.membership_id,
                    "date": day,
                    "rmssd_ms": rmssd,
                    "ln_rmssd": math.log(rmssd),
                    "source": source,
                }
            )
    return out


# --- GPS ------------------------------------------------------------------------------

# Per minute on the pitch: PlayerLoad, metres, share of them at high speed, sprints.
GPS_BY_TYPE = {
    SessionType.MATCH: (10.5, 88.0, 0.12, 1.0),
    SessionType.CONDITIONING: (8.0, 78.0, 0.10, 0.6),
    SessionType.TACTICAL: (6.2, 66.0, 0.06, 0.3),
    SessionType.TECHNICAL: (5.0, 55.0, 0.04, 0.15),
}
WARM_UP = (20, 3.0, 50.0)  # minutes, PlayerLoad and metres per minute
BACKS = frozenset({9, 10, 11, 12, 13, 14, 15, 20})


def gps_loads(
    attendance: Sequence[dict[str, Any]],
    plan_of: dict[int, tuple[date, Plan]],
    athletes: Sequence[Athlete],
    end: date,
    rng: random.Random,
) -> list[NewLoad]:
    """One GPS summary per attended field session (the gym and the pool have none), to be
    stored as a staff CSV import's would be (``app.services.loads.external``)."""
    by_id = {a.membership_id: a for a in athletes}
    engine = {a.membership_id: rng.gauss(1.0, 0.06) for a in athletes}
    out: list[NewLoad] = []
    for row in attendance:
        day, plan = plan_of[row["session_id"]]
        work = GPS_BY_TYPE.get(plan.session_type)
        played = row["minutes_participated"]
        if work is None or row["status"] not in ATTENDED or played < 1:
            continue
        athlete = by_id[row["membership_id"]]
        per_min_load, per_min_m, hsr_share, sprints_per_10 = work
        intensity = engine[athlete.membership_id] * rng.gauss(1.0, 0.07)
        phase = phase_of(athlete, day, end)
        if phase == "rehab":
            intensity *= 0.7
        elif phase == "return":
            intensity *= 1.15
        back = athlete.jersey in BACKS
        warm_minutes, warm_load, warm_m = WARM_UP
        bench = max(0, plan.minutes - played) if plan.session_type == SessionType.MATCH else 0
        metres = warm_minutes * warm_m + bench * 20.0
        metres += played * per_min_m * intensity * (1.08 if back else 1.0)
        player_load = warm_minutes * warm_load + played * per_min_load * intensity
        player_load *= 1.0 if back else 1.05  # forwards' contact work reads as load
        hsr = metres * hsr_share * (1.6 if back else 1.0) * rng.gauss(1.0, 0.1)
        sprints = played / 10 * sprints_per_10 * (1.8 if back else 1.0) * rng.gauss(1.0, 0.2)
        out.append(
            NewLoad(
                membership_id=athlete.membership_id,
                day=day,
                event_key=f"demo:{row['session_id']}:{athlete.membership_id}",
                player_load=round(player_load, 1),
                distance_m=round(min(9000.0, max(3000.0, metres))),
                hsr_m=round(max(0.0, hsr)),
                sprints=max(0, round(sprints)),
            )
        )
    return out
