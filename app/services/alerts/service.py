"""Alerts in the request's transaction: raising one (at most one per member, kind and day,
with its ``alert.created`` webhook), the rules a write raises (``WELLNESS_RED`` after a
wellness upsert, ``HRV_DROP`` after an HRV value is stored, ``HEALTH_PROBLEM_REPORTED``
after an athlete records a health problem), listing and acknowledging.

The writers (:mod:`app.services.wellness.service`, :mod:`app.services.hrv.service`) call
:func:`on_wellness` and :func:`on_hrv`; the periodic rules are :mod:`app.services.alerts.jobs`.
Every alert carries ``evidence = {rule, params, inputs}``.
"""

import logging
from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import dialect_insert
from app.errors import NotFound
from app.models import (
    Alert,
    AlertKind,
    AuditAction,
    AuditResource,
    Availability,
    HealthProblem,
    Severity,
    TeamMembership,
    User,
    WellnessLog,
)
from app.models.base import utcnow
from app.services.audit import service as audit
from app.services.hrv import series as hrv_series
from app.services.outbound import deliveries as outbound
from app.services.teams import access as teams
from app.services.wellness import scoring as wellness

logger = logging.getLogger("loadline.alerts")


# --- raising --------------------------------------------------------------------------


async def raise_alert(
    db: AsyncSession,
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
        dialect_insert(db, Alert)
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
    alert_id = await db.scalar(stmt)
    if alert_id is None:
        return None
    alert = await db.get_one(Alert, alert_id)
    logger.info(
        '{"event": "alert_raised", "alert_id": %d, "kind": "%s", "membership_id": %d}',
        alert.id,
        kind.value,
        membership.id,
    )
    await outbound.enqueue(db, alert.team_id, outbound.ALERT_CREATED, alert_data(alert))
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


def wellness_red_evidence(
    log: WellnessLog, assessment: wellness.Assessment
) -> dict[str, Any] | None:
    """The ``WELLNESS_RED`` evidence for an entry whose raised flag is red: an item at 1,
    or an item at least 2 SD below the athlete's 28-day mean; the baseline it saw is in the
    inputs (null without 14 entries in the window)."""
    if assessment.flag != "red":
        return None
    values = dict(zip(wellness.ITEMS, wellness.values_of(log), strict=True))
    baseline = assessment.baseline
    return {
        "rule": "wellness_red",
        "params": {
            "red_at": 1,
            "amber_at": 2,
            "items": list(wellness.ITEMS),
            "baseline_days": wellness.WINDOW_DAYS,
            "baseline_min_entries": wellness.MIN_ENTRIES,
            "z_red": wellness.Z_RED,
            "z_amber": wellness.Z_AMBER,
        },
        "inputs": {
            "date": log.date.isoformat(),
            "items": values,
            "items_at_1": [item for item, value in values.items() if value == 1],
            "total": assessment.total,
            "items_flag": assessment.items_flag,
            "baseline": baseline.as_dict() if baseline is not None else None,
            "flag": assessment.flag,
            "flag_reason": assessment.reason,
        },
    }


async def on_wellness(
    db: AsyncSession, membership: TeamMembership, log: WellnessLog, assessment: wellness.Assessment
) -> Alert | None:
    """After a wellness upsert: ``WELLNESS_RED`` when the entry's raised flag is red."""
    evidence = wellness_red_evidence(log, assessment)
    if evidence is None:
        return None
    return await raise_alert(
        db,
        membership,
        AlertKind.WELLNESS_RED,
        log.date,
        Severity.RED,
        f"Wellness red on {log.date.isoformat()}: {assessment.reason}",
        evidence,
    )


async def on_hrv(db: AsyncSession, membership: TeamMembership, day: date) -> Alert | None:
    """After an HRV value is stored: ``HRV_DROP`` when the day's value counts as a drop."""
    evidence = await hrv_series.drop_evidence(db, membership.id, day)
    if evidence is None:
        return None
    inputs = evidence["inputs"]
    return await raise_alert(
        db,
        membership,
        AlertKind.HRV_DROP,
        day,
        Severity.AMBER,
        f"rMSSD {inputs['rmssd_ms']:g} ms on {day.isoformat()} is {inputs['drop_pct']:.1f} % "
        f"below the previous {len(inputs['previous'])} days' mean "
        f"({inputs['previous_mean_ms']:.1f} ms)",
        evidence,
    )


def health_problem_evidence(problem: HealthProblem, availability: Availability) -> dict[str, Any]:
    """The ``HEALTH_PROBLEM_REPORTED`` evidence: what the athlete reported, for staff to
    triage. Built from the fields every staff member may read; never a clinical field
    (diagnosis, OSIICS code, clinical notes), nor the free-text summary."""
    return {
        "rule": "health_problem_reported",
        "params": {"reported_by": "athlete"},
        "inputs": {
            "problem_id": problem.id,
            "kind": problem.kind.value,
            "onset_date": problem.onset_date.isoformat(),
            "context": problem.context.value,
            "body_area": problem.body_area.value if problem.body_area else None,
            "side": problem.side.value if problem.side else None,
            "availability": availability.value,
        },
    }


async def on_health_problem_reported(
    db: AsyncSession,
    membership: TeamMembership,
    problem: HealthProblem,
    availability: Availability,
    day: date,
) -> Alert | None:
    """After an athlete recorded a problem themselves: ``HEALTH_PROBLEM_REPORTED`` (amber)
    on ``day``, the day it was reported (at most one per member and day, as every alert)."""
    where = problem.body_area.value.lower().replace("_", " ") if problem.body_area else None
    return await raise_alert(
        db,
        membership,
        AlertKind.HEALTH_PROBLEM_REPORTED,
        day,
        Severity.AMBER,
        f"{problem.kind.value.capitalize()} reported by the athlete"
        f"{f' ({where})' if where else ''}, onset {problem.onset_date.isoformat()}: to triage",
        health_problem_evidence(problem, availability),
    )


# --- reading and acknowledging ------------------------------------------------------------


async def list_alerts(
    db: AsyncSession, team_id: int, *, open_only: bool, limit: int, offset: int
) -> list[Alert]:
    """The team's alerts, newest day first (then newest raised)."""
    query = select(Alert).where(Alert.team_id == team_id)
    if open_only:
        query = query.where(Alert.acknowledged_at.is_(None))
    rows = await db.scalars(
        query.order_by(Alert.date.desc(), Alert.id.desc()).limit(limit).offset(offset)
    )
    return list(rows)


async def acknowledge(db: AsyncSession, user: User, alert_id: int) -> Alert:
    """Staff of the alert's team acknowledge it; a second acknowledgement keeps the first.

    404 for an unknown alert or one of a team the caller is not in; 403 for a player.
    The answer shows the member's health data in its evidence for the kinds of
    :data:`AUDITED`: that read is recorded in the audit log.
    """
    alert = await db.get(Alert, alert_id)
    if alert is None:
        raise NotFound("Alert not found")
    try:
        await teams.require_staff(db, user.id, alert.team_id)
    except NotFound:
        raise NotFound("Alert not found") from None
    await db.execute(
        update(Alert)
        .where(Alert.id == alert_id, Alert.acknowledged_at.is_(None))
        .values(acknowledged_at=utcnow(), acknowledged_by=user.id)
    )
    acknowledged = await db.get_one(Alert, alert_id, populate_existing=True)
    resource = AUDITED.get(acknowledged.kind)
    if resource is not None:
        problem_id = acknowledged.evidence.get("inputs", {}).get("problem_id")
        await audit.record(
            db,
            actor_user_id=user.id,
            action=AuditAction.READ,
            resource=resource,
            team_id=acknowledged.team_id,
            membership_id=acknowledged.membership_id,
            resource_id=problem_id if isinstance(problem_id, int) else None,
        )
    return acknowledged


# The alerts whose evidence is health data, and what of the member's it shows. The team's
# list of alerts is a team view (recorded by its access function); the ACWR and sRPE
# alerts show loads only.
AUDITED = {
    AlertKind.WELLNESS_RED: AuditResource.WELLNESS,
    AlertKind.HRV_DROP: AuditResource.HRV,
    AlertKind.HRV_BELOW_NORMAL: AuditResource.HRV,
    AlertKind.HEALTH_PROBLEM_REPORTED: AuditResource.HEALTH_PROBLEM,
}
