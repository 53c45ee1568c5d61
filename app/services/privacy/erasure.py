"""Erasure (contract: Privacy): a membership's data, or a whole account, forgotten in the
request's one transaction.

For a membership: every row that holds the person's data in that team is deleted
(wellness, sRPE, attendance, daily loads, ACWR snapshots and state, HRV, external loads,
OSTRC answers, health problems and their stages, alerts, linked devices with their vendor
tokens, the outbound status kept for change events, queued outbound deliveries and
webhook inbox rows about them, invitations, reminders), the membership row is kept (the audit log
refers to it) but inactive and stripped of position, number and GPS reference, and an
``erase`` entry is appended to the audit log, which itself is never changed.

Who the membership belonged to: when the account came with this team (made by its
invitation) and has no other membership and is no administrator's, it is erased as well
(:func:`forget_account`). Otherwise it is the person's own account, which an owner of one
team must not close (anyone can create a team and add a registered email; the person may
be in other teams): it stays theirs, and the erased membership is moved to a placeholder
account named ``Erased member <id>``, so this team keeps no name or email of them. The
person erases their account themselves with ``DELETE /auth/me``.

An account's erasure: name and email replaced (``Erased member <id>``,
``erased-<id>@erased.invalid``, an address nobody can register), password, refresh tokens,
password resets, invitations, stored idempotent answers, emails and the sign-in throttle
counters keyed by the email gone. The access tokens issued before stop working, as the
account has no password (:func:`app.services.teams.access.signed_in`).
"""

import json
import uuid
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import lock_team
from app.errors import Conflict, Forbidden, NotFound
from app.models import (
    AcwrSnapshot,
    AcwrState,
    Alert,
    Attendance,
    AuditAction,
    AuditResource,
    DailyHRV,
    DailyLoad,
    EmailMessage,
    ExternalLoad,
    HealthProblem,
    HealthStage,
    IdempotencyKey,
    Invitation,
    LinkedDevice,
    OstrcAnswer,
    OutboundDelivery,
    OutboundMemberStatus,
    PasswordReset,
    RefreshToken,
    Reminder,
    Role,
    SessionRPE,
    TeamMembership,
    User,
    WebhookEvent,
    WellnessLog,
)
from app.models.users import LoginThrottle
from app.services.accounts import service as accounts
from app.services.accounts import throttles
from app.services.audit import service as audit
from app.services.integrations.gps import PROVIDER as GPS_INBOX
from app.services.teams.access import TeamAccess

ERASED_DOMAIN = "erased.invalid"  # special-use (RFC 6761): never an address anyone has
SCAN_ROWS = 500

# Rows keyed by the membership, deleted as they are (children before parents).
MEMBER_TABLES: tuple[Any, ...] = (
    OstrcAnswer,
    HealthProblem,
    WellnessLog,
    SessionRPE,
    Attendance,
    DailyLoad,
    AcwrSnapshot,
    AcwrState,
    DailyHRV,
    ExternalLoad,
    Alert,
    LinkedDevice,
    OutboundMemberStatus,
    Invitation,
    Reminder,
)


def erased_name(user_id: int) -> tuple[str, str]:
    """The name and email an erased account keeps: ``Erased member <id>``."""
    return f"Erased member {user_id}", f"erased-{user_id}@{ERASED_DOMAIN}"


async def erase_member(
    db: AsyncSession, settings: Settings, access: TeamAccess, membership_id: int, ip: str | None
) -> None:
    """An owner's erasure of one member of their team (another team's member: 404).

    Erasing again finds nothing left to delete and answers alike. The team's last active
    owner cannot be erased (409): nobody could manage the team afterwards.
    """
    membership = await db.scalar(
        select(TeamMembership)
        .where(TeamMembership.id == membership_id, TeamMembership.team_id == access.team.id)
        .with_for_update()
    )
    if membership is None:
        raise NotFound("Membership not found")
    await _keep_an_owner(db, membership)
    user = await db.get(User, membership.user_id)
    assert user is not None  # the foreign key holds
    account_is_the_teams = await _account_is_the_teams(db, user, membership)
    await erase_membership_data(db, membership, actor_user_id=access.user.id)
    if account_is_the_teams:
        await forget_account(db, settings, user, ip)
    else:
        await _detach(db, membership, user)


async def erase_account(
    db: AsyncSession, settings: Settings, user: User, password: str, ip: str | None
) -> None:
    """The user's own erasure of their account in every team, confirmed by their password
    (a wrong one: 403 naming ``password``, nothing changed). The only active owner of a
    team: 409, nothing changed (hand the team to another owner first)."""
    if not await accounts.password_matches(user, password):
        raise Forbidden("The password is not this account's", field=("body", "password"))
    memberships = list(
        await db.scalars(
            select(TeamMembership)
            .where(TeamMembership.user_id == user.id)
            .order_by(TeamMembership.id)
            .with_for_update()
        )
    )
    for membership in memberships:
        await _keep_an_owner(db, membership)
    for membership in memberships:
        await erase_membership_data(db, membership, actor_user_id=user.id)
    await forget_account(db, settings, user, ip)


async def _keep_an_owner(db: AsyncSession, membership: TeamMembership) -> None:
    if membership.role != Role.OWNER or not membership.active:
        return
    others = await db.scalar(
        select(func.count())
        .select_from(TeamMembership)
        .where(
            TeamMembership.team_id == membership.team_id,
            TeamMembership.role == Role.OWNER,
            TeamMembership.active.is_(True),
            TeamMembership.id != membership.id,
        )
    )
    if not others:
        raise Conflict(
            f"This is the only active owner of team {membership.team_id}: make another "
            "member owner first, or a team nobody can manage would be left behind"
        )


async def _account_is_the_teams(db: AsyncSession, user: User, membership: TeamMembership) -> bool:
    """Whether an owner's erasure of ``membership`` may erase the account too: only when
    the account came with this team (made by its invitation) and has no other membership,
    active or not, and is no administrator's. Anything else is the person's own account,
    which one team's owner must not close (anyone can create a team and add a registered
    email): the membership is moved to a placeholder instead, and the person erases their
    account themselves (``DELETE /auth/me``)."""
    if user.is_admin:
        return False
    other = await db.scalar(
        select(TeamMembership.id)
        .where(TeamMembership.user_id == user.id, TeamMembership.id != membership.id)
        .limit(1)
    )
    if other is not None:
        return False
    invited = await db.scalar(
        select(Invitation.id).where(Invitation.membership_id == membership.id).limit(1)
    )
    return invited is not None


async def erase_membership_data(
    db: AsyncSession, membership: TeamMembership, *, actor_user_id: int
) -> None:
    """Delete everything held about the membership, make it inactive, and record it.

    The team's load lock is held exclusively first, so no sRPE, attendance or GPS write of
    the team is halfway through while the member's loads are deleted.
    """
    await lock_team(db, membership.team_id, exclusive=True)
    devices = list(
        await db.execute(
            select(LinkedDevice.provider, LinkedDevice.external_user_id).where(
                LinkedDevice.membership_id == membership.id
            )
        )
    )
    await _forget_inbox(db, [(p.value.lower(), str(e)) for p, e in devices])
    if membership.external_ref:
        await _forget_gps_events(db, membership.team_id, membership.external_ref)
    await _forget_deliveries(db, membership.team_id, membership.id)
    problem_ids = select(HealthProblem.id).where(HealthProblem.membership_id == membership.id)
    await db.execute(delete(HealthStage).where(HealthStage.problem_id.in_(problem_ids)))
    for model in MEMBER_TABLES:
        await db.execute(delete(model).where(model.membership_id == membership.id))
    await db.execute(
        delete(EmailMessage).where(
            EmailMessage.user_id == membership.user_id,
            EmailMessage.team_id == membership.team_id,
        )
    )
    membership.active = False
    membership.primary_position = None
    membership.jersey_number = None
    membership.external_ref = None
    await db.flush()
    await audit.record(
        db,
        actor_user_id=actor_user_id,
        action=AuditAction.ERASE,
        resource=AuditResource.MEMBER,
        team_id=membership.team_id,
        membership_id=membership.id,
    )


async def _forget_inbox(db: AsyncSession, accounts_: list[tuple[str, str]]) -> None:
    """Vendor notifications about the member's linked accounts (both vendors name the
    account ``user_id``); with the devices gone they could never be processed anyway."""
    for provider, external_user_id in accounts_:
        doomed: list[int] = []
        query = select(WebhookEvent.id, WebhookEvent.body).where(WebhookEvent.provider == provider)
        result = await db.stream(query.execution_options(yield_per=SCAN_ROWS))
        async for event_id, body in result:
            payload = _json(body)
            if isinstance(payload, dict) and str(payload.get("user_id")) == external_user_id:
                doomed.append(event_id)
        if doomed:
            await db.execute(delete(WebhookEvent).where(WebhookEvent.id.in_(doomed)))


async def _forget_gps_events(db: AsyncSession, team_id: int, athlete_ref: str) -> None:
    """The member's events in the team's GPS deliveries: a delivery that was theirs alone
    is deleted, one shared with teammates keeps only the teammates' events."""
    query = select(WebhookEvent.id, WebhookEvent.body).where(
        WebhookEvent.provider == GPS_INBOX, WebhookEvent.team_id == team_id
    )
    changes: dict[int, bytes | None] = {}
    result = await db.stream(query.execution_options(yield_per=SCAN_ROWS))
    async for event_id, body in result:
        payload = _json(body)
        events = payload.get("events") if isinstance(payload, dict) else None
        if not isinstance(events, list):
            continue
        kept = [
            e for e in events if not (isinstance(e, dict) and e.get("athlete_ref") == athlete_ref)
        ]
        if len(kept) == len(events):
            continue
        changes[event_id] = json.dumps({**payload, "events": kept}).encode() if kept else None
    for event_id, new_body in changes.items():
        if new_body is None:
            await db.execute(delete(WebhookEvent).where(WebhookEvent.id == event_id))
        else:
            await db.execute(
                update(WebhookEvent).where(WebhookEvent.id == event_id).values(body=new_body)
            )


async def _forget_deliveries(db: AsyncSession, team_id: int, membership_id: int) -> None:
    """Outbound deliveries about the member (every event's data names ``membership_id``)."""
    doomed: list[int] = []
    query = select(OutboundDelivery.id, OutboundDelivery.payload).where(
        OutboundDelivery.team_id == team_id
    )
    result = await db.stream(query.execution_options(yield_per=SCAN_ROWS))
    async for delivery_id, payload in result:
        if isinstance(payload, dict) and payload.get("membership_id") == membership_id:
            doomed.append(delivery_id)
    if doomed:
        await db.execute(delete(OutboundDelivery).where(OutboundDelivery.id.in_(doomed)))


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


async def _detach(db: AsyncSession, membership: TeamMembership, user: User) -> None:
    """Give the erased membership a placeholder account of its own: the person keeps
    theirs for their other teams, and this team keeps no trace of who it was."""
    placeholder = User(email=f"erased-{uuid.uuid4().hex}@{ERASED_DOMAIN}", full_name="Erased")
    db.add(placeholder)
    await db.flush()
    placeholder.full_name, placeholder.email = erased_name(placeholder.id)
    membership.user_id = placeholder.id
    await db.execute(delete(Invitation).where(Invitation.membership_id == membership.id))
    await db.execute(delete(IdempotencyKey).where(IdempotencyKey.user_id == user.id))
    await db.flush()


async def forget_account(db: AsyncSession, settings: Settings, user: User, ip: str | None) -> None:
    """Everything that holds the account's person, and the account's name and email."""
    keys = [throttles.email_key(settings, user.email)]
    if ip is not None:
        keys += [
            throttles.email_ip_key(settings, user.email, ip),
            throttles.known_key(settings, user.email, ip),
        ]
    await db.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(keys)))
    for model in (RefreshToken, PasswordReset, Invitation, EmailMessage, IdempotencyKey):
        await db.execute(delete(model).where(model.user_id == user.id))
    user.full_name, user.email = erased_name(user.id)
    user.password_hash = None
    user.is_admin = False
    await db.flush()
