"""Alerts: raising them (at most one per member, kind and day), listing and acknowledging.

Two rules run inside the write that causes them (``WELLNESS_RED`` after a wellness
upsert, ``HRV_DROP`` after an HRV value is stored); the others run in a periodic job
(:func:`raise_due_alerts`) over each member's newest day: ``ACWR_HIGH``/``ACWR_DANGER``
from the newest stored internal-load ACWR snapshot, ``HRV_BELOW_NORMAL`` from the newest
day with an HRV value, and ``MISSING_SRPE`` for attended sessions that ended more than
24 hours ago without an sRPE. Every alert carries ``evidence = {rule, params, inputs}``.
"""

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import dialect_insert
from app.errors import NotFound
from app.models import (
    ATTENDED,
    AcwrSnapshot,
    AcwrState,
    Alert,
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
    User,
    WellnessLog,
)
from app.models.base import utcnow
from app.services.acwr import model as acwr
from app.services.acwr import snapshots as acwr_snapshots
from app.services.hrv import baseline as hrv
from app.services.hrv import series as hrv_series
from app.services.outbound import service as outbound
from app.services.platform.days import DayRange, team_zone, today
from app.services.teams import service as teams
from app.services.wellness import scoring as wellness

logger = logging.getLogger("loadline.alerts")

MISSING_SRPE_AFTER = timedelta(hours=24)
MISSING_SRPE_LOOKBACK = timedelta(days=14)  # sessions that ended longer ago are not chased
HRV_NEWEST_MAX_AGE_DAYS = 7  # an HRV value older than this is no longer "the newest day"


# --- raising --------------------------------------------------------------------------


async def raise_alert(
    session: AsyncSession,
    membership: TeamMembership,
    kind: AlertKind,
    day: date,
    severity: Severity,
    message: str,
    evidence: dict[str, Any],
) -> Alert | None:
    """Insert the alert unless the member already has one of this kind for this day.

    ``INSERT ... ON CONFLICT DO NOTHING`` on (membership_id, kind, date), so concurrent
    writers cannot duplicate it; returns the new alert, or None when one existed.
    """
    stmt = (
        dialect_insert(session, Alert)
        .values(
            team_id=membership.team_id,
            membership_id=membership.id,
            kind=kind,
            date=day,
            severity=severity,
            message=message[:500],
            evidence=evidence,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["membership_id", "kind", "date"])
        .returning(Alert.id)
    )
    alert_id = await session.scalar(stmt)
    if alert_id is None:
        return None
    alert = await session.get_one(Alert, alert_id)
    logger.info(
        '{"event": "alert_raised", "alert_id": %d, "kind": "%s", "membership_id": %d}',
        alert.id,
        kind.value,
        membership.id,
    )
    await outbound.enqueue(session, alert.team_id, outbound.ALERT_CREATED, alert_data(alert))
    return alert


def alert_data(alert: Alert) -> dict[str, Any]:
    """The alert as the ``alert.created`` webhook sends it (the same fields as the API)."""
    return {
        "id": alert.id,
        "team_id": alert.team_id,
        "membership_id": alert.membership_id,
        "kind": alert.kind.value,
        "date": alert.date.isoformat(),
        "severity": alert.severity.value,
        "message": alert.message,
        "evidence": alert.evidence,
        "created_at": alert.created_at.isoformat(),
        "acknowledged_at": None,
        "acknowledged_by": None,
    }


# --- rules raised by writes -------------------------------------------------------------


def wellness_red_evidence(log: WellnessLog) -> dict[str, Any] | None:
    """The ``WELLNESS_RED`` evidence for an entry whose flag is red (any item at 1)."""
    values = {item: getattr(log, item) for item in wellness.ITEMS}
    total, flag = wellness.score(list(values.values()))
    if flag != "red":
        return None
    return {
        "rule": "wellness_red",
        "params": {"red_at": 1, "amber_at": 2, "items": list(wellness.ITEMS)},
        "inputs": {
            "date": log.date.isoformat(),
            "items": values,
            "items_at_1": [item for item, value in values.items() if value == 1],
            "total": total,
            "flag": flag,
        },
    }


async def on_wellness(
    session: AsyncSession, membership: TeamMembership, log: WellnessLog
) -> Alert | None:
    """After a wellness upsert: ``WELLNESS_RED`` when the entry's flag is red."""
    evidence = wellness_red_evidence(log)
    if evidence is None:
        return None
    items = ", ".join(evidence["inputs"]["items_at_1"])
    return await raise_alert(
        session,
        membership,
        AlertKind.WELLNESS_RED,
        log.date,
        Severity.RED,
        f"Wellness red on {log.date.isoformat()}: {items} at 1",
        evidence,
    )


async def on_hrv(session: AsyncSession, membership: TeamMembership, day: date) -> Alert | None:
    """After an HRV value is stored: ``HRV_DROP`` when the day's value counts as a drop."""
    evidence = await hrv_series.drop_evidence(session, membership.id, day)
    if evidence is None:
        return None
    inputs = evidence["inputs"]
    return await raise_alert(
        session,
        membership,
        AlertKind.HRV_DROP,
        day,
        Severity.AMBER,
        f"rMSSD {inputs['rmssd_ms']:g} ms on {day.isoformat()} is {inputs['drop_pct']:.1f} % "
        f"below the previous {len(inputs['previous'])} days' mean "
        f"({inputs['previous_mean_ms']:.1f} ms)",
        evidence,
    )


# --- rules raised by the job ------------------------------------------------------------


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
        async with sessionmaker() as session:
            team_ids = list(await session.scalars(select(Team.id).order_by(Team.id)))
    raised = 0
    for team_id in team_ids:
        try:
            async with sessionmaker.begin() as session:
                team = await session.get(Team, team_id)
                if team is None:
                    continue
                raised += await team_alerts(session, team, now)
                await outbound.track_statuses(session, team)
        except Exception:
            logger.exception('{"event": "alerts_team_failed", "team_id": %d}', team_id)
    return raised


async def team_alerts(session: AsyncSession, team: Team, now: datetime) -> int:
    players = {
        m.id: m
        for m in await session.scalars(
            select(TeamMembership).where(
                TeamMembership.team_id == team.id,
                TeamMembership.active.is_(True),
                TeamMembership.role == Role.PLAYER,
            )
        )
    }
    if not players:
        return 0
    raised = await _acwr_alerts(session, team, players)
    raised += await _hrv_below_alerts(session, team, players)
    raised += await _missing_srpe_alerts(session, team, players, now)
    return raised


async def _acwr_alerts(
    session: AsyncSession, team: Team, players: dict[int, TeamMembership]
) -> int:
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
    rows = await session.execute(
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
    return await _raise_acwr(session, team, players, rows.all(), source)


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
    session: AsyncSession,
    team: Team,
    players: dict[int, TeamMembership],
    rows: Sequence[Any],
    source: LoadSource,
) -> int:
    """Raise ``ACWR_DANGER``/``ACWR_HIGH`` for the snapshot rows whose zone calls for it.

    Rows are ``(membership_id, date, load, acute, chronic, ratio, coverage, first_load_day)``.
    """
    params = acwr_snapshots.params_of(team)
    raised = 0
    for membership_id, day, load, acute, chronic, ratio, coverage, first_load in rows:
        zone = acwr_snapshots.zones_of(params, first_load, [day], [ratio], [coverage])[0]
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
            session,
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
    session: AsyncSession,
    team: Team,
    players: dict[int, TeamMembership],
    since: date,
    end: date,
) -> int:
    """The ACWR alerts of every day from ``since`` to ``end``, as the minute job would have
    raised them day after day (used to fill in history, e.g. by the demo)."""
    source = LoadSource.INTERNAL
    rows = await session.execute(
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
    return await _raise_acwr(session, team, players, rows.all(), source)


async def _hrv_below_alerts(
    session: AsyncSession, team: Team, players: dict[int, TeamMembership]
) -> int:
    """``HRV_BELOW_NORMAL`` when the flag of a player's newest day with a value is below."""
    recent = today(team_zone(team)) - timedelta(days=HRV_NEWEST_MAX_AGE_DAYS)
    newest = await session.execute(
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
        point = (await hrv_series.series(session, membership_id, DayRange(day, day)))[0]
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
            session,
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
    session: AsyncSession, team: Team, players: dict[int, TeamMembership], now: datetime
) -> int:
    """``MISSING_SRPE``: one per player and session day, for attended sessions that ended
    more than 24 hours ago (within the last 14 days) without an sRPE."""
    due = now - MISSING_SRPE_AFTER
    rows = await session.execute(
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
            session,
            players[membership_id],
            AlertKind.MISSING_SRPE,
            day,
            Severity.AMBER,
            f"No sRPE for {len(sessions)} attended session(s) on {day.isoformat()}",
            evidence,
        )
        raised += alert is not None
    return raised


# --- reading and acknowledging ------------------------------------------------------------


async def list_alerts(
    session: AsyncSession, team_id: int, *, open_only: bool, limit: int, offset: int
) -> list[Alert]:
    """The team's alerts, newest day first (then newest raised)."""
    query = select(Alert).where(Alert.team_id == team_id)
    if open_only:
        query = query.where(Alert.acknowledged_at.is_(None))
    rows = await session.scalars(
        query.order_by(Alert.date.desc(), Alert.id.desc()).limit(limit).offset(offset)
    )
    return list(rows)


async def acknowledge(session: AsyncSession, user: User, alert_id: int) -> Alert:
    """Staff of the alert's team acknowledge it; a second acknowledgement keeps the first.

    404 for an unknown alert or one of a team the caller is not in; 403 for a player.
    """
    alert = await session.get(Alert, alert_id)
    if alert is None:
        raise NotFound("Alert not found")
    try:
        await teams.require_staff(session, user.id, alert.team_id)
    except NotFound:
        raise NotFound("Alert not found") from None
    await session.execute(
        update(Alert)
        .where(Alert.id == alert_id, Alert.acknowledged_at.is_(None))
        .values(acknowledged_at=utcnow(), acknowledged_by=user.id)
    )
    return await session.get_one(Alert, alert_id, populate_existing=True)
