"""The demo's people: the team and its season, the owner, the coach, the physiotherapist
and 20 players, each player with habits of their own."""

import random
from datetime import date, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli.demo import bulk
from app.cli.demo.scenario import PASSWORD, SPIKE_JERSEY, TEAM_NAME, TIMEZONE, Athlete
from app.models import Role, Season, Team, TeamMembership, User
from app.services.accounts import service as accounts

# Jersey order: 1-15 start, 16-20 are the replacements.
SQUAD: tuple[tuple[str, str], ...] = (
    ("Tom Hargreaves", "Prop"),
    ("Dan Okafor", "Hooker"),
    ("Rhys Pritchard", "Prop"),
    ("Callum Fraser", "Lock"),
    ("Joe Whitfield", "Lock"),
    ("Sam Adeyemi", "Flanker"),
    ("Owen Llewellyn", "Flanker"),
    ("Ben Castleton", "Number 8"),
    ("Alfie Doyle", "Scrum-half"),
    ("Harry Kingsley", "Fly-half"),
    ("Jamie Fitzgerald", "Winger"),
    ("Luke Mensah", "Centre"),
    ("Ethan Marsh", "Centre"),
    ("Kieran O'Neill", "Winger"),
    ("Will Ashby", "Full-back"),
    ("Max Turnbull", "Hooker"),
    ("Ollie Brennan", "Prop"),
    ("Tariq Hussain", "Lock"),
    ("Finn Gallagher", "Flanker"),
    ("Charlie Bell", "Scrum-half"),
)


WELLNESS_REMINDER_AT = time(8, 0)
SRPE_REMINDER_AFTER_MINUTES = 30

STAFF = (
    (Role.OWNER, "Margaret Quinn", "owner"),
    (Role.COACH, "Gareth Rowlands", "coach"),
    (Role.MEDICAL, "Nia Bevan", "physio"),
)


async def create_team(db: AsyncSession, first: date, end: date) -> tuple[int, int]:
    """The team and a season that spans the demo period and runs on past it. Reminders
    are on: wellness at 08:00, sRPE 30 minutes after each session."""
    team = Team(
        name=TEAM_NAME,
        timezone=TIMEZONE,
        reminder_wellness_at=WELLNESS_REMINDER_AT,
        reminder_srpe_after_minutes=SRPE_REMINDER_AFTER_MINUTES,
    )
    db.add(team)
    await db.flush()
    start_year = first.year if first.month >= 7 else first.year - 1
    season = Season(
        team_id=team.id,
        name=f"{start_year}/{(start_year + 1) % 100:02d} season",
        start_date=first,
        end_date=max(end + timedelta(days=60), date(start_year + 1, 5, 31)),
    )
    db.add(season)
    await db.flush()
    return team.id, season.id


async def free_domain(db: AsyncSession) -> str:
    """An email domain nobody uses yet, so loading the demo twice does not collide."""
    for n in range(1, 1000):
        domain = "harbour-rfc.example.com" if n == 1 else f"harbour-rfc-{n}.example.com"
        taken = await db.scalar(select(User.id).where(User.email.like(f"%@{domain}")).limit(1))
        if taken is None:
            return domain
    raise RuntimeError("demo team loaded too many times")


async def create_people(
    db: AsyncSession, team_id: int, domain: str, rng: random.Random
) -> tuple[list[tuple[str, str]], list[Athlete]]:
    """Owner, coach, physio and the 20 players, all with the one demo password (hashed
    once)."""
    password_hash = accounts.hash_password(PASSWORD)
    people: list[tuple[Role, str, str, str | None, int | None]] = [
        (role, name, f"{local}@{domain}", None, None) for role, name, local in STAFF
    ]
    for jersey, (name, position) in enumerate(SQUAD, start=1):
        local = name.lower().replace("'", "").replace(" ", ".")
        people.append((Role.PLAYER, name, f"{local}@{domain}", position, jersey))
    user_ids = await bulk.insert_returning(
        db,
        User,
        [
            {"email": email, "full_name": name, "password_hash": password_hash}
            for _, name, email, _, _ in people
        ],
    )
    membership_ids = await bulk.insert_returning(
        db,
        TeamMembership,
        [
            {
                "team_id": team_id,
                "user_id": user_id,
                "role": role,
                "primary_position": position,
                "jersey_number": jersey,
                "external_ref": f"CAT-{jersey:04d}" if jersey else None,
            }
            for user_id, (role, _, _, position, jersey) in zip(user_ids, people, strict=True)
        ],
    )
    athletes = [
        _athlete(membership_id, jersey, rng)
        for membership_id, (_, _, _, _, jersey) in zip(membership_ids, people, strict=True)
        if jersey is not None
    ]
    players = {jersey: email for _, _, email, _, jersey in people if jersey is not None}
    logins = [(str(role), email) for role, _, email, _, jersey in people if jersey is None]
    logins += [(str(Role.PLAYER), players[j]) for j in (SPIKE_JERSEY, 10, 2)]
    return logins, athletes


FORGETFUL_JERSEYS = (7, 14)


def _srpe_rate(jersey: int, rng: random.Random) -> float:
    """Most players rate nearly every session; two forgetful ones leave coverage below 0.9,
    so the demo shows how missing sRPE greys a player's ACWR zone out."""
    if jersey == SPIKE_JERSEY:
        return 1.0
    if jersey in FORGETFUL_JERSEYS:
        return rng.uniform(0.7, 0.8)
    return rng.uniform(0.95, 1.0)


def _athlete(membership_id: int, jersey: int, rng: random.Random) -> Athlete:
    """Habits differ: some players rate hard, some forget their RPE, some sleep badly."""
    return Athlete(
        membership_id=membership_id,
        jersey=jersey,
        rpe_offset=rng.gauss(0, 0.45),
        srpe_rate=_srpe_rate(jersey, rng),
        wellness_rate=rng.uniform(0.76, 0.96),
        wellness_base=rng.uniform(3.5, 4.2),
        absence_rate=rng.uniform(0.01, 0.06),
    )
