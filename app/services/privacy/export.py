"""Export (contract: Privacy): a person's data as a ZIP, streamed.

Two steps, because the answer streams after the request's transaction has ended:

1. :func:`prepare_member` / :func:`prepare_user`, in the request's transaction: who may
   export what, each exported membership's ACWR brought up to date (the stream only
   reads) and one ``export`` audit entry per membership. The request commits them before
   the first byte is sent: no export goes unrecorded.
2. :func:`stream`, after the handler returned: a session of its own in one read-only
   snapshot (:func:`app.db.read_snapshot`), so that the files agree with one another,
   reading each table a chunk at a time and handing the files to ``stream-zip``. Memory
   stays bounded whatever the member's history.
"""

import io
import stat
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pydantic_core import to_json
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import joinedload
from stream_zip import ZIP_64, AsyncMemberFile, async_stream_zip

from app.db import read_snapshot
from app.errors import NotFound
from app.models import AuditAction, AuditResource, LoadSource, TeamMembership, User
from app.services.acwr import reads as acwr_reads
from app.services.audit import service as audit
from app.services.platform.days import DayRange, team_zone, today
from app.services.platform.spreadsheets import SafeCsvWriter
from app.services.privacy import catalogue, readers
from app.services.teams.access import TeamAccess

CHUNK_BYTES = 64 * 1024  # a CSV file is handed on in pieces of about this size
FILE_MODE = stat.S_IFREG | 0o600

CsvReader = Callable[[AsyncSession, TeamMembership], AsyncIterator[readers.Row]]
JsonReader = Callable[[AsyncSession, TeamMembership], AsyncIterator[dict[str, Any]]]

# Each member file's reader, by name; the catalogue describes them in this order.
CSV_READERS: dict[str, CsvReader] = {
    "wellness.csv": readers.wellness,
    "srpe.csv": readers.srpe,
    "attendance.csv": readers.attendance,
    "daily_loads.csv": readers.daily_loads,
    "external_loads.csv": readers.external_loads,
    "acwr.csv": readers.acwr,
    "hrv.csv": readers.hrv,
    "ostrc.csv": readers.ostrc,
    "audit.csv": readers.audit_entries,
}
JSON_READERS: dict[str, JsonReader] = {
    "health_problems.json": readers.health_problems,
    "devices.json": readers.devices,
}


@dataclass(frozen=True)
class ExportPlan:
    """What one export streams: the account and which of its memberships."""

    user_id: int
    membership_ids: tuple[int, ...]
    filename: str


async def _record(
    db: AsyncSession, actor_user_id: int, memberships: Sequence[TeamMembership]
) -> None:
    """ACWR made current (the stream cannot write) and the export entry, per membership."""
    for membership in memberships:
        team = membership.team
        local_today = today(team_zone(team))
        for source in LoadSource:
            await acwr_reads.series(
                db, team, membership.id, source, DayRange(local_today, local_today)
            )
        await audit.record(
            db,
            actor_user_id=actor_user_id,
            action=AuditAction.EXPORT,
            resource=AuditResource.MEMBER,
            team_id=membership.team_id,
            membership_id=membership.id,
        )


async def prepare_member(db: AsyncSession, access: TeamAccess, membership_id: int) -> ExportPlan:
    """An owner's export of one member of their team (a member of another team: 404)."""
    membership = await db.scalar(
        select(TeamMembership)
        .options(joinedload(TeamMembership.team))
        .where(TeamMembership.id == membership_id, TeamMembership.team_id == access.team.id)
    )
    if membership is None:
        raise NotFound("Membership not found")
    await _record(db, access.user.id, [membership])
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    name = f"loadline-export-{catalogue.folder_of(membership.team_id, membership.id)}-{stamp}.zip"
    return ExportPlan(membership.user_id, (membership.id,), name)


async def prepare_user(db: AsyncSession, user: User) -> ExportPlan:
    """The user's own export: every membership they have, active or not, in every team."""
    memberships = list(
        await db.scalars(
            select(TeamMembership)
            .options(joinedload(TeamMembership.team))
            .where(TeamMembership.user_id == user.id)
            .order_by(TeamMembership.id)
        )
    )
    await _record(db, user.id, memberships)
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    return ExportPlan(
        user.id, tuple(m.id for m in memberships), f"loadline-export-user-{user.id}-{stamp}.zip"
    )


async def stream(
    sessionmaker: async_sessionmaker[AsyncSession], plan: ExportPlan
) -> AsyncIterator[bytes]:
    """The ZIP's bytes, read in one snapshot by a session of its own."""
    async with read_snapshot(sessionmaker) as db:
        async for chunk in async_stream_zip(_files(db, plan)):
            yield chunk


async def _files(db: AsyncSession, plan: ExportPlan) -> AsyncIterator[AsyncMemberFile]:
    now = datetime.now(UTC)
    user = await db.get(User, plan.user_id)
    memberships = list(
        await db.scalars(
            select(TeamMembership)
            .options(joinedload(TeamMembership.team), joinedload(TeamMembership.user))
            .where(TeamMembership.id.in_(plan.membership_ids))
            .order_by(TeamMembership.id)
        )
    )
    yield "README.txt", now, FILE_MODE, ZIP_64, _once(catalogue.readme().encode())
    yield "profile.json", now, FILE_MODE, ZIP_64, _once(_profile(now, user, memberships))
    for membership in memberships:
        folder = catalogue.folder_of(membership.team_id, membership.id)
        for file in catalogue.MEMBER_FILES:
            path = f"{folder}/{file.name}"
            if file.name in CSV_READERS:
                rows = CSV_READERS[file.name](db, membership)
                yield path, now, FILE_MODE, ZIP_64, _csv(file.header, rows)
            else:
                items = JSON_READERS[file.name](db, membership)
                yield path, now, FILE_MODE, ZIP_64, _json_array(items)


async def _once(content: bytes) -> AsyncIterator[bytes]:
    yield content


def _profile(now: datetime, user: User | None, memberships: list[TeamMembership]) -> bytes:
    profile: dict[str, Any] = {
        "exported_at": now,
        "user": None
        if user is None
        else {
            "id": user.id,
            "email": user.email,
            "full_name": user.full_name,
            "is_admin": user.is_admin,
            "created_at": user.created_at,
        },
        "memberships": [
            {
                "id": m.id,
                "team_id": m.team_id,
                "team_name": m.team.name,
                "role": m.role.value,
                "active": m.active,
                "primary_position": m.primary_position,
                "jersey_number": m.jersey_number,
                "external_ref": m.external_ref,
                "created_at": m.created_at,
                "folder": catalogue.folder_of(m.team_id, m.id),
            }
            for m in memberships
        ],
    }
    return to_json(profile, indent=2) + b"\n"


async def _csv(header: list[str], rows: AsyncIterator[readers.Row]) -> AsyncIterator[bytes]:
    """CSV through the formula-safe writer, handed on about ``CHUNK_BYTES`` at a time."""
    buffer = io.StringIO()
    writer = SafeCsvWriter(buffer)
    writer.writerow(header)
    async for row in rows:
        writer.writerow(_cells(row))
        if buffer.tell() >= CHUNK_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _cells(row: readers.Row) -> list[Any]:
    """Dates as ISO days; everything else as the CSV writer prints it."""
    return [value.isoformat() if isinstance(value, date) else value for value in row]


async def _json_array(items: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    separator = b"[\n"
    async for item in items:
        yield separator + to_json(item, indent=2)
        separator = b",\n"
    yield b"[]\n" if separator == b"[\n" else b"\n]\n"
