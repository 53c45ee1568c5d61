"""A client generated from docs/openapi.json by openapi-python-client drives the real app.

The generator runs once per module into a temporary folder, with ``--fail-on-warning``, so a
schema construct it cannot express fails here rather than in a mobile team's build. Every
request below goes through the generated functions and models, over ASGITransport to an
app bound to the test database.
"""

import importlib
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.main import create_app
from tests.fixtures.actors import started_at

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
PACKAGE = "loadline_client"
BASE_URL = "http://testserver"
PASSWORD = "long enough password"

# The generator's own settings: the package name, no ruff post-hooks (slow, and the code is
# only imported), and the PDF report and the export's ZIP read as bytes (the generator knows
# neither application/pdf nor application/zip).
GENERATOR_CONFIG = {
    "package_name_override": PACKAGE,
    "project_name_override": "loadline-client",
    "post_hooks": [],
    "content_type_overrides": {
        "application/pdf": "application/octet-stream",
        "application/zip": "application/octet-stream",
    },
}


class Generated:
    """The imported client package: ``api("auth.register")`` is an operation's module."""

    def __init__(self) -> None:
        self.client: Any = importlib.import_module(f"{PACKAGE}.client")
        self.models: Any = importlib.import_module(f"{PACKAGE}.models")

    def api(self, name: str) -> Any:
        return importlib.import_module(f"{PACKAGE}.api.{name}")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Generated]:
    root = tmp_path_factory.mktemp("generated_client")
    config = root / "config.json"
    config.write_text(json.dumps(GENERATOR_CONFIG), encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "openapi_python_client",
        "generate",
        "--path",
        str(DOCUMENT),
        "--output-path",
        str(root / PACKAGE),
        "--meta",
        "none",
        "--config",
        str(config),
        "--fail-on-warning",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603
    assert result.returncode == 0, f"generator failed:\n{result.stdout}\n{result.stderr}"
    sys.path.insert(0, str(root))
    try:
        yield Generated()
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


@pytest.fixture
async def transport(
    sessionmaker: async_sessionmaker[AsyncSession], app_settings: Settings
) -> AsyncIterator[httpx.ASGITransport]:
    """The in-process app on the test database, as the generated clients' transport."""
    yield httpx.ASGITransport(app=create_app(app_settings, sessionmaker))


async def _sign_up(
    gen: Generated, anonymous: Any, name: str, email: str = "", invitation: str = ""
) -> tuple[str, str]:
    """Register through the generated client (claiming ``email``'s account with the
    ``invitation`` token when given) and sign in: (email, access token)."""
    email = email or f"{name}-{uuid.uuid4().hex[:8]}@example.com"
    body = gen.models.UserCreate(email=email, full_name=name.title(), password=PASSWORD)
    if invitation:
        body.invitation_token = invitation
    registered = await gen.api("auth.register").asyncio_detailed(client=anonymous, body=body)
    assert registered.status_code == 201, registered.content
    assert registered.parsed.email == email
    form = gen.models.BodyCreateToken(username=email, password=PASSWORD)
    token = await gen.api("auth.create_token").asyncio_detailed(client=anonymous, body=form)
    assert token.status_code == 200, token.content
    assert isinstance(token.parsed, gen.models.Token)
    return email, token.parsed.access_token


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.content
    return response.parsed


async def test_coach_and_player_journey(
    generated: Generated, transport: httpx.ASGITransport
) -> None:
    gen, models = generated, generated.models
    connection = {"base_url": BASE_URL, "httpx_args": {"transport": transport}}
    player_email = f"player-{uuid.uuid4().hex[:8]}@example.com"
    async with gen.client.Client(**connection) as anonymous:
        _, coach_token = await _sign_up(gen, anonymous, "coach")
        async with gen.client.AuthenticatedClient(token=coach_token, **connection) as coach:
            # The coach creates the team and adds the player, who has no account yet: the
            # answer carries the invitation the player registers with.
            team = _ok(
                await gen.api("teams.create_team").asyncio_detailed(
                    client=coach, body=models.TeamCreate(name="Harbour RFC", timezone="UTC")
                ),
                201,
            )
            member = _ok(
                await gen.api("members.create_member").asyncio_detailed(
                    team.id,
                    client=coach,
                    body=models.MemberCreate(
                        email=player_email,
                        full_name="Pat Player",
                        role=models.Role.PLAYER,
                        jersey_number=9,
                    ),
                ),
                201,
            )
        assert (member.user.email, member.role, member.active) == (
            player_email,
            models.Role.PLAYER,
            True,
        )
        assert isinstance(member.invitation, models.Invitation)
        assert member.invitation.expires_at > datetime.now(UTC) + timedelta(days=6)
        _, player_token = await _sign_up(
            gen, anonymous, "player", email=player_email, invitation=member.invitation.token
        )
    async with (
        gen.client.AuthenticatedClient(token=coach_token, **connection) as coach,
        gen.client.AuthenticatedClient(token=player_token, **connection) as player,
    ):
        me = _ok(await gen.api("auth.get_me").asyncio_detailed(client=player))
        assert me.email == player_email
        assert [m.id for m in me.memberships] == [member.id]

        # A 90-minute session today; the player took part for 80 minutes.
        today = datetime.now(UTC).date()
        start = started_at(today)
        session = _ok(
            await gen.api("sessions.create_session").asyncio_detailed(
                client=coach,
                body=models.SessionCreate(
                    team_id=team.id,
                    title="Contact session",
                    start=start,
                    end=start + timedelta(minutes=90),
                    session_type=models.SessionType.TACTICAL,
                ),
            ),
            201,
        )
        assert session.duration_min == 90
        attendance = _ok(
            await gen.api("sessions.record_attendance").asyncio_detailed(
                session.id,
                client=coach,
                body=[
                    models.AttendanceCreate(
                        membership_id=member.id,
                        status=models.AttendanceStatus.PRESENT,
                        minutes_participated=80,
                    )
                ],
            )
        )
        assert [(row.membership_id, row.status) for row in attendance] == [
            (member.id, models.AttendanceStatus.PRESENT)
        ]

        # The player rates the session: without a duration the attendance minutes count.
        srpe = _ok(
            await gen.api("srpe.upsert_srpe").asyncio_detailed(
                session.id,
                client=player,
                body=models.SRPECreate(membership_id=member.id, rpe_0_10=7.5),
            ),
            201,
        )
        assert (srpe.duration_min, srpe.load_au) == (80, 600)  # 7.5 x 80

        # The morning check: one item at 2 makes the day amber.
        wellness = _ok(
            await gen.api("wellness.upsert_wellness").asyncio_detailed(
                client=player,
                body=models.WellnessCreate(
                    membership_id=member.id, sleep_quality=4, mood=4, soreness=2, stress=5
                ),
            ),
            201,
        )
        assert (wellness.date, wellness.total, wellness.flag) == (
            today,
            15,
            models.WellnessFlag.AMBER,
        )

        # A week of ACWR: one point per day, the series starting on the day of the load.
        acwr = _ok(
            await gen.api("loads.get_acwr").asyncio_detailed(
                member.id,
                client=player,
                from_=today - timedelta(days=6),
                to=today,
                source=models.LoadSource.INTERNAL,
            )
        )
        assert acwr.membership_id == member.id
        assert [point.date for point in acwr.points] == [
            today - timedelta(days=6 - offset) for offset in range(7)
        ]
        *before, first = acwr.points
        assert all(p.load == 0 and p.acute_ewma is None for p in before)
        assert (first.load, first.acute_ewma, first.chronic_ewma, first.ratio) == (
            600,
            600,
            600,
            1.0,
        )
        assert first.zone == models.AcwrPointZone.INSUFFICIENT_DATA

        # The coach's roster: the player, amber from the wellness entry.
        roster = _ok(await gen.api("coach.get_roster").asyncio_detailed(team.id, client=coach))
        assert [entry.membership_id for entry in roster] == [member.id]
        (entry,) = roster
        assert (entry.user.email, entry.jersey_number) == (player_email, 9)
        assert entry.status == models.RosterEntryStatus.AMBER
        assert (entry.wellness_today.total, entry.wellness_today.flag) == (
            15,
            models.WellnessTodayFlag.AMBER,
        )
        assert entry.latest_acwr.zone == "insufficient_data"


async def test_errors_arrive_as_problem_models(
    generated: Generated, transport: httpx.ASGITransport
) -> None:
    """A client reads refusals through the generated Problem model, field by field."""
    gen, models = generated, generated.models
    connection = {"base_url": BASE_URL, "httpx_args": {"transport": transport}}
    async with gen.client.Client(**connection) as anonymous:
        _, coach_token = await _sign_up(gen, anonymous, "coach")
        player_email, player_token = await _sign_up(gen, anonymous, "player")
        wrong = await gen.api("auth.create_token").asyncio_detailed(
            client=anonymous,
            body=models.BodyCreateToken(username=player_email, password="not the password"),
        )
        assert wrong.status_code == 401
        assert isinstance(wrong.parsed, models.Problem)
    async with (
        gen.client.AuthenticatedClient(token=coach_token, **connection) as coach,
        gen.client.AuthenticatedClient(token=player_token, **connection) as player,
    ):
        team = _ok(
            await gen.api("teams.create_team").asyncio_detailed(
                client=coach, body=models.TeamCreate(name="Harbour RFC")
            ),
            201,
        )
        member = _ok(
            await gen.api("members.create_member").asyncio_detailed(
                team.id,
                client=coach,
                body=models.MemberCreate(email=player_email, full_name="Pat Player"),
            ),
            201,
        )
        start = started_at(datetime.now(UTC).date())
        session = _ok(
            await gen.api("sessions.create_session").asyncio_detailed(
                client=coach,
                body=models.SessionCreate(
                    team_id=team.id, title="Training", start=start, end=start + timedelta(hours=1)
                ),
            ),
            201,
        )
        too_hard = await gen.api("srpe.upsert_srpe").asyncio_detailed(
            session.id,
            client=player,
            body=models.SRPECreate(membership_id=member.id, rpe_0_10=11),
        )
        assert too_hard.status_code == 422
        assert isinstance(too_hard.parsed, models.Problem)
        assert [error.loc[-1] for error in too_hard.parsed.errors] == ["rpe_0_10"]

        # The roster is a coach view: the team's own player is refused it.
        roster = await gen.api("coach.get_roster").asyncio_detailed(team.id, client=player)
        assert roster.status_code == 403
        assert isinstance(roster.parsed, models.Problem)
        assert roster.parsed.status == roster.status_code
