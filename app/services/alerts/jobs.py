"""The periodic alerts, raised by the minute job over each member's newest day:
``ACWR_HIGH``/``ACWR_DANGER`` from the newest stored internal-load ACWR snapshot,
``HRV_BELOW_NORMAL`` from the newest day with an HRV value, and ``MISSING_SRPE`` for
attended sessions that ended more than 24 hours ago without an sRPE.

:func:`raise_due_alerts` owns its transactions (one per team, from an ``async_sessionmaker``);
:func:`team_alerts` and :func:`acwr_history_alerts` run in the caller's transaction (the
job's, or the demo's when it fills in history). Raising goes through
:func:`app.services.alerts.service.raise_alert`.
"""

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.models import (
    ATTENDED,
    AcwrSnapshot,
    AcwrState,
    AlertKind,
    Attendance,
    DailyHRV,
    LoadSource,
    Role,
    SessionRPE,
    Severity,
    Team,
    TeamMembership,
    TrainingSession,
)
from app.models.base import utcnow
from app.services.acwr import model as acwr
from app.services.acwr import stored as acwr_stored
from app.services.alerts.service import raise_alert
from app.services.hrv import baseline as hrv
from app.services.hrv import series as hrv_series
from app.services.platform.days import DayRange, team_zone, today

logger = logging.getLogger("loadline.alerts")

MISSING_SRPE_AFTER = timedelta(hours=24)
MISSING_SRPE_LOOKBACK = timedelta(days=14)  # sessions that ended longer ago are not chased
HRV_NEWEST_MAX_AGE_DAYS = 7  # an HRV value older than this is no longer "the newest day"


async def raise_due_alerts(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    team_ids: list[int] | None = None,
    now: datetime | None = None,
) -> int:
    """Raise the periodic alerts of every team (or those named), one transaction per team;
    returns how many were raised. Reads stored ACWR snapshots: run it after the ACWR
    refresh (``scheduler.recompute_dirty``)."""
    now = now or utcnow()
    if team_ids is None:
        async with sessionmaker() as db:
            team_ids = list(await db.scalars(select(Team.id).order_by(Team.id)))
    raised = 0
    for team_id in team_ids:
        try:
            async with sessionmaker.begin() as db:
                team = await db.get(Team, team_id)
                if team is None:
                    continue
                raised += await team_alerts(db, team, now)
        except Exception:
            logger.exception('{"event": "alerts_team_failed", "team_id": %d}', team_id)
    return raised


async def team_alerts(db: AsyncSession, team: Team, now: datetime) -> int:
    """The periodic alerts of one team's active players, in the caller's transaction;
    returns how many were raised."""
    players = {
        m.id: m
        for m in await db.scalars(
            select(TeamMembership).where(
                TeamMembership.team_id == team.id,
                TeamMembership.active.is_(True),
                TeamMembership.role == Role.PLAYER,
            )
        )
    }
    if not players:
        return 0
    raised = await _acwr_alerts(db, team, players)
    raised += await _hrv_below_alerts(db, team, players)
    raised += await _missing_srpe_alerts(db, team, players, now)
    return raised


async def _acwr_alerts(db: AsyncSession, team: Team, players: dict[int, TeamMembership]) -> int:
    """``ACWR_DANGER``/``ACWR_HIGH`` for each player's newest stored (internal) day."""
    source = LoadSource.INTERNAL
    newest = (
        select(AcwrSnapshot.membership_id, func.max(AcwrSnapshot.date).label("day"))
        .where(
            AcwrSnapshot.team_id == team.id,
            AcwrSnapshot.source == source,
            AcwrSnapshot.membership_id.in_(list(players)),
        )
        .group_by(AcwrSnapshot.membership_id)
        .subquery()
    )
    rows = await db.execute(
        _snapshot_rows(source)
        .join(
            newest,
            and_(
                newest.c.membership_id == AcwrSnapshot.membership_id,
                newest.c.day == AcwrSnapshot.date,
            ),
        )
        .where(AcwrSnapshot.source == source)
    )
    return await _raise_acwr(db, team, players, rows.all(), source)


def _snapshot_rows(source: LoadSource) -> Select[*tuple[Any, ...]]:
    """Snapshot rows as :func:`_raise_acwr` takes them, with the athlete's first load day."""
    return select(
        AcwrSnapshot.membership_id,
        AcwrSnapshot.date,
        AcwrSnapshot.load,
        AcwrSnapshot.acute_ewma,
        AcwrSnapshot.chronic_ewma,
        AcwrSnapshot.ratio,
        AcwrSnapshot.coverage,
        AcwrState.first_load_day,
    ).outerjoin(
        AcwrState,
        and_(AcwrState.membership_id == AcwrSnapshot.membership_id, AcwrState.source == source),
    )


async def _raise_acwr(
    db: AsyncSession,
    team: Team,
    players: dict[int, TeamMembership],
    rows: Sequence[Any],
    source: LoadSource,
) -> int:
    """Raise ``ACWR_DANGER``/``ACWR_HIGH`` for the snapshot rows whose zone calls for it.

    Rows are ``(membership_id, date, load, acute, chronic, ratio, coverage, first_load_day)``.
    """
    params = acwr_stored.params_of(team)
    raised = 0
    for membership_id, day, load, acute, chronic, ratio, coverage, first_load in rows:
        zone = acwr_stored.zones_of(params, first_load, [day], [ratio], [coverage])[0]
        if zone == acwr.DANGER:
            kind, severity, limit = AlertKind.ACWR_DANGER, Severity.RED, params.danger
        elif zone == acwr.HIGH:
            kind, severity, limit = AlertKind.ACWR_HIGH, Severity.AMBER, params.high
        else:
            continue
        evidence = {
            "rule": "acwr_zone",
            "params": {
                "source": source.value,
                "method": params.method,
                "acute_days": params.acute_days,
                "chronic_days": params.chronic_days,
                "high": params.high,
                "danger": params.danger,
                "min_coverage": acwr.MIN_COVERAGE,
            },
            "inputs": {
                "date": day.isoformat(),
                "load": load,
                "acute": acute,
                "chronic": chronic,
                "ratio": ratio,
                "coverage": coverage,
                "first_load_day": first_load.isoformat() if first_load else None,
                "zone": zone,
            },
        }
        alert = await raise_alert(
            db,
            players[membership_id],
            kind,
            day,
            severity,
            f"ACWR {ratio:.2f} on {day.isoformat()} is above {limit:g} ({zone})",
            evidence,
        )
        raised += alert is not None
    return raised


async def acwr_history_alerts(
    db: AsyncSession,
    team: Team,
    players: dict[int, TeamMembership],
    since: date,
    end: date,
) -> int:
    """The ACWR alerts of every day from ``since`` to ``end``, as the minute job would have
    raised them day after day (used to fill in history, e.g. by the demo)."""
    source = LoadSource.INTERNAL
    rows = await db.execute(
        _snapshot_rows(source)
        .where(
            AcwrSnapshot.team_id == team.id,
            AcwrSnapshot.source == source,
            AcwrSnapshot.membership_id.in_(list(players)),
            AcwrSnapshot.date >= since,
            AcwrSnapshot.date <= end,
        )
        .order_by(AcwrSnapshot.membership_id, AcwrSnapshot.date)
    )
    return await _raise_acwr(db, team, players, rows.all(), source)


async def _hrv_below_alerts(
    db: AsyncSession, team: Team, players: dict[int, TeamMembership]
) -> int:
    """``HRV_BELOW_NORMAL`` when the flag of a player's newest day with a value is below."""
    recent = today(team_zone(team)) - timedelta(days=HRV_NEWEST_MAX_AGE_DAYS)
    newest = await db.execute(
        select(DailyHRV.membership_id, func.max(DailyHRV.date))
        .where(
            DailyHRV.team_id == team.id,
            DailyHRV.membership_id.in_(list(players)),
            DailyHRV.date >= recent,
        )
        .group_by(DailyHRV.membership_id)
    )
    raised = 0
    for membership_id, day in newest.all():
        point = (await hrv_series.series(db, membership_id, DayRange(day, day)))[0]
        if point.flag != "below":
            continue
        assert point.rolling7_ln_mean is not None
        assert point.baseline_ln_mean is not None and point.baseline_ln_sd is not None
        threshold = point.baseline_ln_mean - hrv.SWC_FACTOR * point.baseline_ln_sd
        evidence = {
            "rule": "hrv_below_normal",
            "params": {
                "rolling_days": hrv.ROLLING_DAYS,
                "rolling_min_values": hrv.ROLLING_MIN_VALUES,
                "baseline_days": hrv.BASELINE_DAYS,
                "baseline_min_values": hrv.BASELINE_MIN_VALUES,
                "swc_factor": hrv.SWC_FACTOR,
            },
            "inputs": {
                "date": day.isoformat(),
                "rmssd_ms": point.rmssd_ms,
                "ln_rmssd": point.ln_rmssd,
                "rolling7_ln_mean": point.rolling7_ln_mean,
                "baseline_ln_mean": point.baseline_ln_mean,
                "baseline_ln_sd": point.baseline_ln_sd,
                "threshold_ln": threshold,
                "flag": point.flag,
            },
        }
        alert = await raise_alert(
            db,
            players[membership_id],
            AlertKind.HRV_BELOW_NORMAL,
            day,
            Severity.AMBER,
            f"HRV below normal on {day.isoformat()}: 7-day ln rMSSD "
            f"{point.rolling7_ln_mean:.3f} < {threshold:.3f} (baseline mean - "
            f"{hrv.SWC_FACTOR:g} x SD)",
            evidence,
        )
        raised += alert is not None
    return raised


async def _missing_srpe_alerts(
    db: AsyncSession, team: Team, players: dict[int, TeamMembership], now: datetime
) -> int:
    """``MISSING_SRPE``: one per player and session day, for attended sessions that ended
    more than 24 hours ago (within the last 14 days) without an sRPE."""
    due = now - MISSING_SRPE_AFTER
    rows = await db.execute(
        select(
            Attendance.membership_id,
            Attendance.status,
            TrainingSession.id,
            TrainingSession.day,
            TrainingSession.title,
            TrainingSession.start,
            TrainingSession.end,
        )
        .join(TrainingSession, TrainingSession.id == Attendance.session_id)
        .outerjoin(
            SessionRPE,
            and_(
                SessionRPE.session_id == Attendance.session_id,
                SessionRPE.membership_id == Attendance.membership_id,
            ),
        )
        .where(
            Attendance.team_id == team.id,
            Attendance.membership_id.in_(list(players)),
            Attendance.status.in_(list(ATTENDED)),
            TrainingSession.end <= due,
            TrainingSession.end > due - MISSING_SRPE_LOOKBACK,
            SessionRPE.id.is_(None),
        )
        .order_by(Attendance.membership_id, TrainingSession.start, TrainingSession.id)
    )
    missing: dict[tuple[int, date], list[dict[str, Any]]] = defaultdict(list)
    for membership_id, status, session_id, day, title, start, end in rows.all():
        missing[(membership_id, day)].append(
            {
                "session_id": session_id,
                "title": title,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "attendance": status.value,
            }
        )
    raised = 0
    for (membership_id, day), sessions in missing.items():
        evidence = {
            "rule": "missing_srpe",
            "params": {
                "after_hours": MISSING_SRPE_AFTER.total_seconds() / 3600,
                "attended": sorted(status.value for status in ATTENDED),
            },
            "inputs": {
                "date": day.isoformat(),
                "checked_at": now.isoformat(),
                "sessions": sessions,
            },
        }
        alert = await raise_alert(
            db,
            players[membership_id],
            AlertKind.MISSING_SRPE,
            day,
            Severity.AMBER,
            f"No sRPE for {len(sessions)} attended session(s) on {day.isoformat()}",
            evidence,
        )
        raised += alert is not None
    return raised
