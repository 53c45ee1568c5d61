"""Invitations: an account staff created is claimed only with its token (issue 13).

The attack the issue names: a coach adds an address; a stranger registers it. Without the
token that is a 409 and the stranger reads nothing of the team.
"""

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.main import create_app
from app.models import EmailMessage, Invitation, User
from app.services.email import outbox
from tests.fixtures.actors import Actor, Api, Squad
from tests.fixtures.databases import BACKEND

NEW_PASSWORD = "a new long passphrase"


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    """Email on (printed, not sent): invitations land in the outbox."""
    return settings.model_copy(update={"email_backend": "console"})


async def _add(
    api: Api, team: dict[str, Any], staff: Actor, email: str, role: str = "PLAYER"
) -> httpx.Response:
    return await api.client.post(
        f"/teams/{team['id']}/members",
        json={"email": email, "full_name": "Robin Newcomer", "role": role},
        headers=staff.headers,
    )


async def _register(
    client: httpx.AsyncClient, email: str, token: str | None, password: str = NEW_PASSWORD
) -> httpx.Response:
    body = {"email": email, "password": password, "full_name": "Robin Claimed"}
    if token is not None:
        body["invitation_token"] = token
    return await client.post("/auth/register", json=body)


async def _login(
    client: httpx.AsyncClient, email: str, password: str = NEW_PASSWORD
) -> httpx.Response:
    return await client.post("/auth/token", data={"username": email, "password": password})


def _refused(response: httpx.Response, status: int, field: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["loc"] for e in response.json()["errors"]] == [["body", field]]


async def _account(api: Api, email: str) -> tuple[str, str | None]:
    async with api.sessionmaker() as db:
        user = await db.scalar(select(User).where(User.email == email))
        assert user is not None
        return user.full_name, user.password_hash


async def _emails(api: Api, settings: Settings, kind: str = "invitation") -> list[outbox.Email]:
    async with api.sessionmaker() as db:
        rows = await db.scalars(
            select(EmailMessage).where(EmailMessage.kind == kind).order_by(EmailMessage.id)
        )
        return [email for row in rows if (email := outbox.open_payload(settings, row))]


async def test_adding_an_unknown_email_answers_an_invitation_stored_hashed_and_emailed(
    api: Api, squad: Squad, app_settings: Settings
) -> None:
    before = datetime.now(UTC)
    added = await _add(api, squad.team, squad.coach, "robin@example.com")
    assert added.status_code == 201, added.text
    invitation = added.json()["invitation"]
    token = invitation["token"]
    expires = datetime.fromisoformat(invitation["expires_at"])
    assert before + timedelta(days=7) <= expires <= datetime.now(UTC) + timedelta(days=7)

    async with api.sessionmaker() as db:
        rows = list(await db.scalars(select(Invitation)))
    assert len(rows) == 1
    row = rows[0]
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr([getattr(row, c.key) for c in Invitation.__table__.columns])
    assert (row.membership_id, row.team_id) == (added.json()["id"], squad.team["id"])

    [email] = await _emails(api, app_settings)
    assert email.to == "robin@example.com"
    assert email.subject == "You are invited to Loadline"
    assert token in email.text and token in email.html
    assert squad.team["name"] in email.text
    assert "Coach" in email.text  # who invited: the coach's name
    assert expires.strftime("%Y-%m-%d %H:%M UTC") in email.text


async def test_a_registered_person_gets_no_invitation(
    api: Api, squad: Squad, app_settings: Settings
) -> None:
    newcomer = await api.user("newcomer")
    added = await _add(api, squad.team, squad.owner, newcomer.email)
    assert added.status_code == 201, added.text
    assert added.json()["invitation"] is None
    # The other members' answers never carry one.
    listed = await api.client.get(f"/teams/{squad.team['id']}/members", headers=squad.owner.headers)
    assert all("invitation" not in member for member in listed.json())
    assert await _emails(api, app_settings) == []


async def test_a_stranger_registering_a_coach_added_address_gets_409_and_reads_nothing(
    api: Api, squad: Squad
) -> None:
    """The attack of issue 13: without the token the address stays unclaimed."""
    email = "target@example.com"
    added = await _add(api, squad.team, squad.coach, email)
    token = added.json()["invitation"]["token"]
    await api.session(squad.team, squad.coach)
    other = await _add(api, squad.team, squad.coach, "someone.else@example.com")
    others_token = other.json()["invitation"]["token"]

    for guess in (None, "", "not-the-token", token[:-2] + "xx", others_token):
        response = await _register(api.client, email, guess)
        if guess == "":
            _refused(response, 422, "invitation_token")  # an empty token is malformed
        else:
            _refused(response, 409, "invitation_token")
        assert await _account(api, email) == ("Robin Newcomer", None)
    assert (await _login(api.client, email)).status_code == 401
    sessions = await api.client.get(f"/performance/sessions?team_id={squad.team['id']}")
    assert sessions.status_code == 401
    # The token is untouched by the failures: its owner still claims the account.
    assert (await _register(api.client, email, token)).status_code == 201


async def test_the_token_claims_the_account_with_its_memberships(api: Api, squad: Squad) -> None:
    email = "claimer@example.com"
    added = await _add(api, squad.team, squad.coach, email)
    token = added.json()["invitation"]["token"]
    session = await api.session(squad.team, squad.coach)

    claimed = await _register(api.client, email.upper(), token)
    assert claimed.status_code == 201, claimed.text
    assert claimed.json()["id"] == added.json()["user"]["id"]
    assert claimed.json()["full_name"] == "Robin Claimed"
    signed_in = await _login(api.client, email)
    assert signed_in.status_code == 200
    headers = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
    me = await api.client.get("/auth/me", headers=headers)
    assert [m["id"] for m in me.json()["memberships"]] == [added.json()["id"]]
    sessions = await api.client.get(
        f"/performance/sessions?team_id={squad.team['id']}", headers=headers
    )
    assert [s["id"] for s in sessions.json()] == [session["id"]]

    # Used: the account is claimed now, so a second registration is the email's 409.
    again = await _register(api.client, email, token, password="another long passphrase")
    _refused(again, 409, "email")
    assert (await _login(api.client, email)).status_code == 200


async def test_an_expired_token_is_409_and_a_new_one_works(api: Api, squad: Squad) -> None:
    email = "late@example.com"
    added = await _add(api, squad.team, squad.coach, email)
    token = added.json()["invitation"]["token"]
    async with api.sessionmaker.begin() as db:
        await db.execute(
            update(Invitation).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    _refused(await _register(api.client, email, token), 409, "invitation_token")
    assert await _account(api, email) == ("Robin Newcomer", None)

    reissued = await api.client.post(
        f"/teams/{squad.team['id']}/members/{added.json()['id']}/invitation",
        headers=squad.coach.headers,
    )
    assert reissued.status_code == 201, reissued.text
    assert (await _register(api.client, email, reissued.json()["token"])).status_code == 201


async def test_reissuing_revokes_the_previous_token_and_emails_the_new_one(
    api: Api, squad: Squad, app_settings: Settings
) -> None:
    email = "lost.email@example.com"
    added = await _add(api, squad.team, squad.owner, email, role="COACH")
    first = added.json()["invitation"]["token"]
    url = f"/teams/{squad.team['id']}/members/{added.json()['id']}/invitation"
    reissued = await api.client.post(url, headers=squad.owner.headers)
    assert reissued.status_code == 201, reissued.text
    second = reissued.json()
    assert set(second) == {"token", "expires_at"}
    assert second["token"] != first

    assert [e.to for e in await _emails(api, app_settings)] == [email, email]
    assert second["token"] in (await _emails(api, app_settings))[-1].text
    async with api.sessionmaker() as db:
        rows = list(await db.scalars(select(Invitation).order_by(Invitation.id)))
    assert [row.revoked_at is not None for row in rows] == [True, False]

    _refused(await _register(api.client, email, first), 409, "invitation_token")
    assert (await _register(api.client, email, second["token"])).status_code == 201
    # Claimed now: nothing left to invite to.
    after = await api.client.post(url, headers=squad.owner.headers)
    assert after.status_code == 409, after.text


async def test_who_may_reissue_an_invitation(api: Api, squad: Squad) -> None:
    """Whoever may add that role: owners any role, coaches players; medical nobody; a
    claimed account 409; another team's membership 404."""
    team_id = squad.team["id"]
    physio = await api.user("physio")
    await api.join(squad.team, squad.owner, physio, role="MEDICAL")
    player = (await _add(api, squad.team, squad.coach, "p@example.com")).json()["id"]
    coach = (await _add(api, squad.team, squad.owner, "c@example.com", "COACH")).json()["id"]
    outsiders_team = (await api.client.get("/teams", headers=squad.outsider.headers)).json()[0]
    foreign = (await _add(api, outsiders_team, squad.outsider, "f@example.com")).json()["id"]

    def url(membership_id: int, team: int = team_id) -> str:
        return f"/teams/{team}/members/{membership_id}/invitation"

    cases = [
        (squad.coach, url(player), 201),
        (squad.owner, url(player), 201),
        (squad.owner, url(coach), 201),
        (squad.coach, url(coach), 403),
        (physio, url(player), 403),
        (squad.player, url(player), 403),
        (squad.outsider, url(player), 404),
        (squad.owner, url(squad.player_membership["id"]), 409),  # claimed
        (squad.owner, url(foreign), 404),  # the outsider's membership, via our team
        (squad.owner, url(999_999), 404),
    ]
    for actor, path, expected in cases:
        response = await api.client.post(path, headers=actor.headers)
        assert response.status_code == expected, (actor.email, path, response.text)
    assert (await api.client.post(url(player))).status_code == 401


async def test_another_team_cannot_add_an_account_invited_elsewhere_and_claim_it(
    api: Api, squad: Squad
) -> None:
    """The token is shown to the staff who add an email: if a second team could add an
    account the first team invited, its token would claim the first team's membership
    too (a MEDICAL one, say). Refused with 409 until the person has registered; then the
    second team adds them like anyone registered."""
    email = "two.teams@example.com"
    first = await api.client.post(
        f"/teams/{squad.team['id']}/members",
        json={"email": email, "full_name": "Physio", "role": "MEDICAL"},
        headers=squad.owner.headers,
    )
    assert first.status_code == 201, first.text
    outsiders_team = (await api.client.get("/teams", headers=squad.outsider.headers)).json()[0]
    second = await _add(api, outsiders_team, squad.outsider, email)
    _refused(second, 409, "email")
    async with api.sessionmaker() as db:
        rows = list(await db.scalars(select(Invitation).order_by(Invitation.id)))
    assert len(rows) == 1  # no token was issued to the second team

    token = first.json()["invitation"]["token"]
    assert (await _register(api.client, email, token)).status_code == 201
    again = await _add(api, outsiders_team, squad.outsider, email)
    assert again.status_code == 201, again.text
    assert again.json()["invitation"] is None


async def test_no_invitation_for_an_inactive_membership(api: Api, squad: Squad) -> None:
    added = await _add(api, squad.team, squad.coach, "leaving@example.com")
    member = f"/teams/{squad.team['id']}/members/{added.json()['id']}"
    patched = await api.client.patch(member, json={"active": False}, headers=squad.owner.headers)
    assert patched.status_code == 200, patched.text
    response = await api.client.post(f"{member}/invitation", headers=squad.owner.headers)
    assert response.status_code == 409, response.text


async def test_a_token_for_an_email_without_an_account_is_409(api: Api, squad: Squad) -> None:
    token = (await _add(api, squad.team, squad.coach, "real@example.com")).json()["invitation"][
        "token"
    ]
    response = await _register(api.client, "brand.new@example.com", token)
    _refused(response, 409, "invitation_token")
    async with api.sessionmaker() as db:
        assert await db.scalar(select(User).where(User.email == "brand.new@example.com")) is None
    assert (await _register(api.client, "real@example.com", token)).status_code == 201


async def test_a_weak_password_at_claim_is_422_and_the_token_still_works(
    api: Api, squad: Squad
) -> None:
    email = "weak@example.com"
    token = (await _add(api, squad.team, squad.coach, email)).json()["invitation"]["token"]
    _refused(await _register(api.client, email, token, password="password1"), 422, "password")
    assert await _account(api, email) == ("Robin Newcomer", None)
    assert (await _register(api.client, email, token)).status_code == 201


async def test_with_email_off_the_answer_alone_carries_the_token(
    api: Api, squad: Squad, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """No mail server configured (``settings``): nothing is queued, the 201 still has it."""
    assert settings.email_delivery == "none"
    transport = httpx.ASGITransport(app=create_app(settings, sessionmaker))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as quiet:
        added = await quiet.post(
            f"/teams/{squad.team['id']}/members",
            json={"email": "offline@example.com", "full_name": "Off Line"},
            headers=squad.coach.headers,
        )
    assert added.status_code == 201, added.text
    assert added.json()["invitation"]["token"]
    async with api.sessionmaker() as db:
        assert list(await db.scalars(select(EmailMessage))) == []
    assert (
        await _register(api.client, "offline@example.com", added.json()["invitation"]["token"])
    ).status_code == 201


@pytest.mark.skipif(BACKEND != "postgresql", reason="concurrent writers need PostgreSQL")
async def test_two_claims_with_one_token_at_once_one_wins(live_api: Api) -> None:
    owner = await live_api.user("owner")
    team = await live_api.team(owner)
    email = "race@example.com"
    token = (await _add(live_api, team, owner, email)).json()["invitation"]["token"]
    answers = await asyncio.gather(
        *(
            _register(live_api.client, email, token, password=f"racing passphrase {n}")
            for n in range(2)
        )
    )
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    winner = next(n for n, a in enumerate(answers) if a.status_code == 201)
    assert (await _login(live_api.client, email, f"racing passphrase {winner}")).status_code == 200
    assert (
        await _login(live_api.client, email, f"racing passphrase {1 - winner}")
    ).status_code == 401
