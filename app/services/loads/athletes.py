"""The team's athletes as GPS data names them: by external_ref, jersey number or full name.

Both ways external load comes in, a bridge's webhook (``app.services.integrations.gps``) and
a staff CSV import (``app.services.loads.gps_csv``), find each row's athlete here, read
what the row says and never guess: one active player must fit, or the row is reported.
"""

import re
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Role, TeamMembership, User


def name_key(name: str) -> str:
    """Full names compare exactly, except for letter case and runs of spaces."""
    return " ".join(name.split()).casefold()


@dataclass(frozen=True)
class Roster:
    """The team's active PLAYER memberships, indexed the three ways exports name athletes."""

    by_ref: dict[str, int]
    by_jersey: dict[int, list[int]]
    by_name: dict[str, list[int]]

    def identify(self, ref: str, jersey: str, name: str) -> int | str:
        """The membership id, or why no single athlete fits (external_ref, jersey, name)."""
        problems: list[str] = []
        if ref:
            if ref in self.by_ref:
                return self.by_ref[ref]
            problems.append(f"no active player has external_ref {ref!r}")
        if jersey:
            number = _jersey(jersey)
            ids = self.by_jersey.get(number, []) if number is not None else []
            found = _one(ids, f"jersey {jersey}")
            if isinstance(found, int):
                return found
            problems.append(found)
        if name:
            found = _one(self.by_name.get(name_key(name), []), f"name {name!r}")
            if isinstance(found, int):
                return found
            problems.append(found)
        if not problems:
            return "no athlete given"
        return "athlete not identified: " + "; ".join(problems)


def _one(ids: list[int], what: str) -> int | str:
    if len(ids) == 1:
        return ids[0]
    if ids:
        return f"{len(ids)} active players have {what}"
    return f"no active player has {what}"


def _jersey(text: str) -> int | None:
    match = re.fullmatch(r"#?\s*(\d{1,3})(?:\.0+)?", text)
    return int(match.group(1)) if match else None


async def load_roster(db: AsyncSession, team_id: int) -> Roster:
    """Only active players take new load, as for every other per-member write."""
    result = await db.execute(
        select(
            TeamMembership.id,
            TeamMembership.external_ref,
            TeamMembership.jersey_number,
            User.full_name,
        )
        .join(User, User.id == TeamMembership.user_id)
        .where(
            TeamMembership.team_id == team_id,
            TeamMembership.active.is_(True),
            TeamMembership.role == Role.PLAYER,
        )
        .order_by(TeamMembership.id)
    )
    by_ref: dict[str, int] = {}
    by_jersey: dict[int, list[int]] = defaultdict(list)
    by_name: dict[str, list[int]] = defaultdict(list)
    for membership_id, ref, jersey, full_name in result.all():
        if ref is not None:
            by_ref[ref] = membership_id
        if jersey is not None:
            by_jersey[jersey].append(membership_id)
        by_name[name_key(full_name)].append(membership_id)
    return Roster(by_ref, dict(by_jersey), dict(by_name))
