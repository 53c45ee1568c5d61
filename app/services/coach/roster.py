"""The roster view: each active player's status from ACWR, wellness and HRV.

Status is the worst of the signals that have data:

- ACWR (the newest internal-load snapshot up to the day): ``danger`` -> red, ``high`` or
  ``low`` -> amber, ``optimal`` -> green; ``insufficient_data`` or no snapshot -> no data.
- Wellness of the day: its flag (red, amber, green); no entry -> no data.
- HRV of the day: ``below`` -> amber, ``normal`` or ``above`` -> green; no flag (too few
  values for the rolling mean or the baseline) -> no data.

With no signal having data the status is ``no_data``: a missing check-in never reads green.

The wellness flag is the one raised by the player's own 28-day baseline
(:mod:`app.services.wellness.scoring`), assessed for the whole team at once. Every signal
that is not green explains itself in ``reasons`` with its numbers and rule, built from the
same values as the status (no statement of its own).

The values come from one statement for the whole team (:mod:`app.services.coach.
player_signals` says why); ACWR zones and HRV flags are computed with numpy for every
player at once. The dashboard (:mod:`app.services.coach.dashboard`) builds on the same
statuses.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from itertools import chain
from typing import Any, Literal

import numpy as np
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Role, Team
from app.services.acwr import model as acwr
from app.services.acwr import stored as acwr_stored
from app.services.coach import availability, player_signals
from app.services.hrv import baseline as hrv
from app.services.platform.days import team_zone, today
from app.services.wellness import scoring as wellness

Status = Literal["green", "amber", "red", "no_data"]
Signal = Literal["acwr", "wellness", "hrv"]
Level = Literal["amber", "red"]

_RANK: dict[Status, int] = {"no_data": 0, "green": 1, "amber": 2, "red": 3}
# insufficient_data is absent on purpose: it is no data, not green.
_ACWR_STATUS: dict[str, Status] = {
    "danger": "red",
    "high": "amber",
    "low": "amber",
    "optimal": "green",
}


@dataclass(frozen=True)
class Member:
    """The membership fields the views show (plain values: no row object per player)."""

    id: int
    user_id: int
    role: Role
    primary_position: str | None
    jersey_number: int | None


@dataclass(frozen=True)
class Person:
    id: int
    full_name: str
    email: str


@dataclass(frozen=True)
class AcwrPoint:
    date: date
    ratio: float | None
    zone: str


@dataclass(frozen=True)
class WellnessPoint:
    date: date
    total: int
    flag: wellness.Flag  # raised by the baseline
    reason: str | None  # the entry's flag_reason


@dataclass(frozen=True)
class HrvPoint:
    flag: hrv.Flag | None
    band: tuple[float, float, float] | None  # (rolling, baseline mean, SD) when below


@dataclass(frozen=True)
class Reason:
    signal: Signal
    level: Level
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"signal": self.signal, "level": self.level, "detail": self.detail}


@dataclass(frozen=True)
class PlayerStatus:
    membership: Member
    user: Person
    latest_acwr: AcwrPoint | None
    wellness_today: WellnessPoint | None
    hrv_flag: hrv.Flag | None
    status: Status
    availability: availability.Level
    health_summary: str | None
    reasons: list[Reason]


def combine(
    zone: str | None, wellness_flag: wellness.Flag | None, hrv_flag: hrv.Flag | None
) -> Status:
    """The worst of the signals that have data (see the module's docstring)."""
    signals: list[Status] = []
    if zone in _ACWR_STATUS:
        signals.append(_ACWR_STATUS[zone])
    if wellness_flag is not None:
        signals.append(wellness_flag)
    if hrv_flag is not None:
        signals.append("amber" if hrv_flag == "below" else "green")
    return max(signals, key=_RANK.__getitem__, default="no_data")


# --- pure: from plain values to signals ---------------------------------------------------


def acwr_points(
    params: acwr.AcwrParams,
    latest: Sequence[tuple[date, float | None, float, date | None] | None],
) -> list[AcwrPoint | None]:
    """Each player's newest snapshot ``(day, ratio, coverage, first load day)`` with its
    zone, by the one rule of :func:`app.services.acwr.zone`, for all players in one call."""
    known = [p for p in latest if p is not None]
    zones = acwr.zone(
        np.array([np.nan if ratio is None else ratio for _, ratio, _, _ in known], np.float64),
        # days since d0, both ends counted, as acwr_stored.zones_of counts them
        np.array([(d - first).days + 1 if first else 0 for d, _, _, first in known], np.int64),
        np.array([coverage for _, _, coverage, _ in known], np.float64),
        params.chronic_days,
        params.low,
        params.high,
        params.danger,
    ).tolist()
    labels = iter(zones)
    return [None if p is None else AcwrPoint(p[0], p[1], str(next(labels))) for p in latest]


def hrv_points(players: Sequence[player_signals.HrvValues | None], day: date) -> list[HrvPoint]:
    """Each player's HRV flag of ``day``, by :func:`app.services.hrv.day_flags`, with the
    numbers behind a ``below`` (for its reason)."""
    windows = np.full((len(players), hrv.WINDOW_DAYS), np.nan)
    known = [(row, values) for row, values in enumerate(players) if values is not None]
    lengths = [len(values[0]) for _, values in known]
    count = sum(lengths)
    # One scatter for the whole team: a numpy call per player costs more than the values.
    rows = np.repeat(np.array([row for row, _ in known], dtype=np.int64), lengths)
    days = np.fromiter(chain.from_iterable(v[0] for _, v in known), np.int64, count)
    lns = np.fromiter(chain.from_iterable(v[1] for _, v in known), np.float64, count)
    windows[rows, days + (hrv.WINDOW_DAYS - 1)] = lns
    flags, bands = hrv.day_flags_and_bands(windows, day)
    return [
        HrvPoint(flag, band if flag == "below" else None)
        for flag, band in zip(flags, bands, strict=True)
    ]


def wellness_points(rows: Sequence[Row[Any]]) -> list[WellnessPoint | None]:
    """Each row's wellness of the day, assessed against its ``wellness_history`` (the 28
    days before), all players at once by :func:`app.services.wellness.scoring.assess`."""
    logged = [i for i, row in enumerate(rows) if row.wellness_date is not None]
    windows = wellness.empty_windows(len(logged))
    targets, back, items = player_signals.decode_history([rows[i].wellness_history for i in logged])
    windows[targets, wellness.WINDOW_DAYS - back] = np.where(items == 0, np.nan, items)
    values = np.array(
        [[getattr(rows[i], item) for item in wellness.ITEMS] for i in logged], dtype=np.float64
    ).reshape(-1, len(wellness.ITEMS))
    points: list[WellnessPoint | None] = [None] * len(rows)
    for i, result in zip(logged, wellness.assess(values, windows), strict=True):
        points[i] = WellnessPoint(rows[i].wellness_date, result.total, result.flag, result.reason)
    return points


def _acwr_reason(params: acwr.AcwrParams, point: AcwrPoint | None) -> Reason | None:
    if point is None or point.ratio is None or _ACWR_STATUS.get(point.zone, "green") == "green":
        return None
    threshold = {"danger": ("above", params.danger), "high": ("above", params.high)}.get(
        point.zone, ("below", params.low)
    )
    return Reason(
        "acwr",
        "red" if point.zone == "danger" else "amber",
        f"ACWR {point.ratio:.2f} {threshold[0]} {point.zone} {threshold[1]:g} "
        f"on {point.date.isoformat()}",
    )


def _hrv_reason(point: HrvPoint, day: date) -> Reason | None:
    if point.flag != "below" or point.band is None:
        return None
    rolling, centre, spread = point.band
    edge = centre - hrv.SWC_FACTOR * spread
    return Reason(
        "hrv",
        "amber",
        f"HRV below normal on {day.isoformat()}: 7-day mean ln rMSSD {rolling:.3f} under the "
        f"60-day band {centre:.3f} - {hrv.SWC_FACTOR:g} x SD {spread:.3f} = {edge:.3f}",
    )


def reasons_of(
    params: acwr.AcwrParams,
    acwr_point: AcwrPoint | None,
    entry: WellnessPoint | None,
    hrv_point: HrvPoint,
    day: date,
) -> list[Reason]:
    """Why a status is not green, one reason per signal that is amber or red (ACWR,
    wellness, HRV); empty when every signal with data is green."""
    reasons = [_acwr_reason(params, acwr_point)]
    if entry is not None and entry.flag != "green":
        reasons.append(
            Reason("wellness", entry.flag, f"Wellness on {entry.date.isoformat()}: {entry.reason}")
        )
    reasons.append(_hrv_reason(hrv_point, day))
    return [reason for reason in reasons if reason is not None]


def statuses_of(
    team: Team,
    rows: Sequence[Row[Any]],
    hrv_values: Sequence[player_signals.HrvValues | None],
    day: date,
    health: availability.TeamHealth,
) -> list[PlayerStatus]:
    """Each row of :func:`player_signals.player_rows` with its signals, status and
    reasons, and its availability and health summary of ``day`` from ``health``; ACWR
    zones, wellness baselines and HRV flags for all players at once."""
    latest = [
        None
        if row.acwr_date is None
        else (row.acwr_date, row.ratio, row.coverage, row.first_load_day)
        for row in rows
    ]
    params = acwr_stored.params_of(team)
    points = acwr_points(params, latest)
    entries = wellness_points(rows)
    hrv_of = hrv_points(hrv_values, day)
    statuses = []
    for row, point, entry, hrv_point in zip(rows, points, entries, hrv_of, strict=True):
        flag = hrv_point.flag
        statuses.append(
            PlayerStatus(
                membership=Member(
                    row.id, row.user_id, row.role, row.primary_position, row.jersey_number
                ),
                user=Person(row.user_id, row.full_name, row.email),
                latest_acwr=point,
                wellness_today=entry,
                hrv_flag=flag,
                status=combine(point.zone if point else None, entry.flag if entry else None, flag),
                availability=health.availability(row.id, day),
                health_summary=health.summary(row.id, day),
                reasons=reasons_of(params, point, entry, hrv_point, day),
            )
        )
    return statuses


async def player_statuses(
    db: AsyncSession,
    team: Team,
    day: date | None = None,
    *,
    health: availability.TeamHealth | None = None,
) -> list[PlayerStatus]:
    """The active players with their signals, status and availability on ``day`` (default:
    today). ``health``: the team's problems already read for a range holding ``day`` (the
    weekly report's), else they are read for that day."""
    day = day or today(team_zone(team))
    rows, hrv_values = await player_signals.player_rows(db, team, day, None)
    if health is None:
        health = await availability.read(db, team.id, day, day)
    return statuses_of(team, rows, hrv_values, day, health)
