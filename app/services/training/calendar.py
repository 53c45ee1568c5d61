"""The team calendar feed: a per-team secret token and the sessions as iCalendar.

The token is the only credential of the feed (calendar apps cannot send a bearer
token), so only its SHA-256 is stored and the plain token exists in the one answer
that creates it. Creating a new token replaces the hash, which revokes the old token at
once. The feed is looked up by team id and token hash together, so an unknown team, a
missing, wrong or revoked token all give the same 404.

Each session is one VEVENT whose UID is derived from the session id alone, so a calendar
app that polls the feed updates a moved or renamed session instead of duplicating it.
The feed holds the sessions that start at most ``FEED_HISTORY_DAYS`` days ago and every
later one; older sessions drop out of the feed (calendar apps then remove them).
"""

import hashlib
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event, vDuration
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import NotFound
from app.models import Team, TrainingSession

FEED_HISTORY_DAYS = 90
PRODID = "-//Loadline//Team calendar//EN"
REFRESH_INTERVAL = timedelta(hours=1)


def hash_token(token: str) -> str:
    """The stored form of a token: its SHA-256 in hex (64 characters)."""
    return hashlib.sha256(token.encode()).hexdigest()


def feed_url(settings: Settings, team_id: int, token: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}/teams/{team_id}/calendar.ics?token={token}"


def event_uid(session_id: int) -> str:
    """Stable per session, so calendar apps update an event rather than add a copy."""
    return f"session-{session_id}@loadline"


async def create_token(db: AsyncSession, team: Team) -> str:
    """A new feed token for the team; it replaces (revokes) the previous one at once."""
    token = secrets.token_urlsafe(32)
    team.calendar_token_hash = hash_token(token)
    await db.flush()
    return token


async def team_for_token(db: AsyncSession, team_id: int, token: str | None) -> Team:
    """The team whose current feed token this is; 404 alike for every other case."""
    if token:
        team = (
            await db.execute(
                select(Team).where(
                    Team.id == team_id, Team.calendar_token_hash == hash_token(token)
                )
            )
        ).scalar_one_or_none()
        if team is not None:
            return team
    raise NotFound("Calendar not found")


async def feed_sessions(
    db: AsyncSession, team: Team, now: datetime | None = None
) -> Sequence[TrainingSession]:
    """The team's sessions starting ``FEED_HISTORY_DAYS`` ago or later, oldest first."""
    since = (now or datetime.now(UTC)) - timedelta(days=FEED_HISTORY_DAYS)
    return (
        await db.scalars(
            select(TrainingSession)
            .where(TrainingSession.team_id == team.id, TrainingSession.start >= since)
            .order_by(TrainingSession.start, TrainingSession.id)
        )
    ).all()


def render(team: Team, sessions: Sequence[TrainingSession], now: datetime | None = None) -> bytes:
    """The sessions as one VCALENDAR, times in UTC, named after the team.

    DTSTAMP is the time the feed was made: sessions keep no revision time, so that is the
    latest moment the information is known to be current (and LAST-MODIFIED is left out).
    """
    stamp = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", team.name)
    calendar.add("x-wr-timezone", team.timezone)
    calendar.add("refresh-interval", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH_INTERVAL))
    for training in sessions:
        event = Event()
        event.add("uid", event_uid(training.id))
        event.add("dtstamp", stamp)
        event.add("created", training.created_at.astimezone(UTC).replace(microsecond=0))
        event.add("dtstart", training.start.astimezone(UTC))
        event.add("dtend", training.end.astimezone(UTC))
        event.add("summary", f"{training.title} ({training.session_type.value})")
        event.add("categories", [training.session_type.value])
        if training.location:
            event.add("location", training.location)
        description = _description(training)
        if description:
            event.add("description", description)
        calendar.add_component(event)
    data: bytes = calendar.to_ical()
    return data


def _description(training: TrainingSession) -> str:
    """The notes, then the plan: players see in their calendar how hard it is meant to be."""
    lines = [training.notes] if training.notes else []
    if training.planned_rpe is not None:
        lines.append(f"Planned RPE {training.planned_rpe} ({training.planned_load_au} AU)")
    return "\n".join(lines)


async def feed(db: AsyncSession, team: Team) -> bytes:
    now = datetime.now(UTC)
    return render(team, await feed_sessions(db, team, now), now)
