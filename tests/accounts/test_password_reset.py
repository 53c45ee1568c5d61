"""Password reset by email: one answer for every email, a single-use token valid an hour,
every refresh token revoked, throttled so nobody can fill an inbox through it."""

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from app.config import Settings
from app.main import create_app
from app.models import EmailMessage, PasswordReset, User
from app.services.email import outbox
from tests.fixtures.actors import PASSWORD, Actor, Api, Squad
from tests.fixtures.databases import BACKEND

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    """Email on (printed, not sent): reset emails land in the outbox."""
    return settings.model_copy(update={"email_backend": "console"})


async def _ask(client: httpx.AsyncClient, email: str, **kwargs: object) -> httpx.Response:
    return await client.post("/auth/password-reset", json={"email": email}, **kwargs)  # type: ignore[arg-type]


async def _confirm(
    client: httpx.AsyncClient, token: str, password: str = NEW_PASSWORD
) -> httpx.Response:
    return await client.post(
        "/auth/password-reset/confirm", json={"token": token, "password": password}
    )


async def _login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/auth/token", data={"username": email, "password": password})


async def _tokens(api: Api, settings: Settings, to: str) -> list[str]:
    """The tokens of the reset emails queued for ``to``, oldest first."""
    async with api.sessionmaker() as db:
        rows = await db.scalars(
            select(EmailMessage)
            .where(EmailMessage.kind == "password_reset")
            .order_by(EmailMessage.id)
        )
        emails = [email for row in rows if (email := outbox.open_payload(settings, row))]
    found = []
    for email in emails:
        if email.to == to:
            assert email.subject == "Reset your Loadline password"
            token = email.text.split("token in the Loadline app:\n\n    ", 1)[1].split()[0]
            assert token in email.html
            found.append(token)
    return found


async def _count(api: Api, model: type[PasswordReset] | type[EmailMessage]) -> int:
    async with api.sessionmaker() as db:
        return int(await db.scalar(select(func.count()).select_from(model)) or 0)


def _bad_token(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["loc"] for e in response.json()["errors"]] == [["body", "token"]]


async def test_the_emailed_token_sets_the_password_once_and_signs_out_everywhere(
    api: Api, app_settings: Settings
) -> None:
    user = await api.user("forgetful")
    signed_in = await _login(api.client, user.email, PASSWORD)
    refresh = signed_in.json()["refresh_token"]

    asked = await _ask(api.client, user.email.upper())
    assert asked.status_code == 202, asked.text
    [token] = await _tokens(api, app_settings, user.email)
    async with api.sessionmaker() as db:
        [reset] = list(await db.scalars(select(PasswordReset)))
    assert reset.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr([getattr(reset, c.key) for c in PasswordReset.__table__.columns])
    assert timedelta(minutes=59) < reset.expires_at - datetime.now(UTC) <= timedelta(hours=1)

    confirmed = await _confirm(api.client, token)
    assert confirmed.status_code == 204, confirmed.text
    assert confirmed.content == b""
    assert (await _login(api.client, user.email, NEW_PASSWORD)).status_code == 200
    assert (await _login(api.client, user.email, PASSWORD)).status_code == 401
    refreshed = await api.client.post("/auth/refresh", json={"refresh_token": refresh})
    assert refreshed.status_code == 401
    # Spent.
    _bad_token(await _confirm(api.client, token, "yet another passphrase"))
    assert (await _login(api.client, user.email, NEW_PASSWORD)).status_code == 200


async def test_every_email_gets_the_same_answer_and_unknown_ones_leave_nothing(
    api: Api, squad: Squad, app_settings: Settings
) -> None:
    """A registered email, an unknown one and one staff added but nobody claimed: the same
    status, headers that matter and body; only the registered one gets a reset."""
    added = await api.client.post(
        f"/teams/{squad.team['id']}/members",
        json={"email": "unclaimed@example.com", "full_name": "Not Yet"},
        headers=squad.coach.headers,
    )
    assert added.status_code == 201
    invitations = await _count(api, EmailMessage)

    unknown = await _ask(api.client, "nobody-here@example.com")
    unclaimed = await _ask(api.client, "unclaimed@example.com")
    assert await _count(api, PasswordReset) == 0
    assert await _count(api, EmailMessage) == invitations
    known = await _ask(api.client, squad.player.email)
    answers = [
        (r.status_code, r.headers["content-type"], r.content) for r in (unknown, unclaimed, known)
    ]
    assert answers[0][0] == 202
    assert answers[0] == answers[1] == answers[2]
    assert await _count(api, PasswordReset) == 1
    assert len(await _tokens(api, app_settings, squad.player.email)) == 1


async def test_a_wrong_or_expired_token_is_400_and_changes_nothing(
    api: Api, app_settings: Settings
) -> None:
    user = await api.user("late")
    await _ask(api.client, user.email)
    [token] = await _tokens(api, app_settings, user.email)
    _bad_token(await _confirm(api.client, "not-a-token"))
    _bad_token(await _confirm(api.client, token[:-2] + "zz"))
    async with api.sessionmaker.begin() as db:
        await db.execute(
            update(PasswordReset).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    _bad_token(await _confirm(api.client, token))
    assert (await _login(api.client, user.email, PASSWORD)).status_code == 200


async def test_a_weak_password_is_422_and_the_token_still_works(
    api: Api, app_settings: Settings
) -> None:
    user = await api.user("weak")
    await _ask(api.client, user.email)
    [token] = await _tokens(api, app_settings, user.email)
    local_part = user.email.split("@")[0]
    for weak in ("password1", local_part, "short"):
        response = await _confirm(api.client, token, weak)
        assert response.status_code == 422, (weak, response.text)
        assert [e["loc"] for e in response.json()["errors"]] == [["body", "password"]]
    assert (await _login(api.client, user.email, PASSWORD)).status_code == 200
    assert (await _confirm(api.client, token)).status_code == 204


async def test_a_confirm_spends_the_other_open_resets(api: Api, app_settings: Settings) -> None:
    user = await api.user("twice")
    await _ask(api.client, user.email)
    await _ask(api.client, user.email)
    first, second = await _tokens(api, app_settings, user.email)
    assert (await _confirm(api.client, second)).status_code == 204
    _bad_token(await _confirm(api.client, first, "someone elses passphrase"))
    assert (await _login(api.client, user.email, NEW_PASSWORD)).status_code == 200


async def _throttled_client(api: Api, settings: Settings, **limits: int) -> httpx.AsyncClient:
    app = create_app(settings.model_copy(update=limits), api.sessionmaker)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_requests_past_the_per_email_bound_answer_202_and_send_nothing(
    api: Api, app_settings: Settings
) -> None:
    user = await api.user("bombed")
    async with await _throttled_client(api, app_settings, reset_max_per_email=2) as client:
        answers = [await _ask(client, user.email) for _ in range(4)]
    assert {a.status_code for a in answers} == {202}
    assert len({a.content for a in answers}) == 1
    assert len(await _tokens(api, app_settings, user.email)) == 2
    assert await _count(api, PasswordReset) == 2


async def test_requests_past_the_per_address_bound_send_nothing(
    api: Api, app_settings: Settings
) -> None:
    """One address asking for many accounts: the first ones get their email, the rest not."""
    users: list[Actor] = [await api.user(f"member{n}") for n in range(3)]
    async with await _throttled_client(api, app_settings, reset_max_per_ip=2) as client:
        answers = [await _ask(client, u.email) for u in users]
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert [len(await _tokens(api, app_settings, u.email)) for u in users] == [1, 1, 0]


async def test_an_idempotency_key_never_replays_a_reset_request(
    api: Api, squad: Squad, app_settings: Settings
) -> None:
    """The route is public: a bearer header and a key sent along do not make it replayable
    (a replay would hand back a 202 without the email being asked for again)."""
    headers = {**squad.player.headers, "Idempotency-Key": "reset-1"}
    for _ in range(2):
        assert (await _ask(api.client, squad.player.email, headers=headers)).status_code == 202
    [token, _] = await _tokens(api, app_settings, squad.player.email)
    confirm = {"token": token, "password": NEW_PASSWORD}
    first = await api.client.post("/auth/password-reset/confirm", json=confirm, headers=headers)
    again = await api.client.post("/auth/password-reset/confirm", json=confirm, headers=headers)
    assert (first.status_code, again.status_code) == (204, 400)


async def test_bad_bodies_are_422(client: httpx.AsyncClient) -> None:
    for path, body, field in (
        ("/auth/password-reset", {"email": "not an email"}, "email"),
        ("/auth/password-reset", {}, "email"),
        ("/auth/password-reset/confirm", {"password": NEW_PASSWORD}, "token"),
        ("/auth/password-reset/confirm", {"token": "t", "password": "short"}, "password"),
    ):
        response = await client.post(path, json=body)
        assert response.status_code == 422, (path, body, response.text)
        assert ["body", field] in [e["loc"] for e in response.json()["errors"]]


@pytest.mark.skipif(BACKEND != "postgresql", reason="concurrent writers need PostgreSQL")
async def test_two_confirms_of_one_token_at_once_one_wins(live_api: Api) -> None:
    settings = live_api.settings.model_copy(update={"email_backend": "console"})
    user = await live_api.user("racer")
    async with await _throttled_client(live_api, settings) as client:
        assert (await _ask(client, user.email)).status_code == 202
    [token] = await _tokens(live_api, settings, user.email)
    answers = await asyncio.gather(
        *(_confirm(live_api.client, token, f"racing passphrase {n}") for n in range(2))
    )
    assert sorted(a.status_code for a in answers) == [204, 400], [a.text for a in answers]
    winner = next(n for n, a in enumerate(answers) if a.status_code == 204)
    async with live_api.sessionmaker() as db:
        spent = list(await db.scalars(select(PasswordReset.used_at)))
        assert len(spent) == 1 and spent[0] is not None
        assert await db.scalar(select(User.password_hash).where(User.id == user.id))
    good = await _login(live_api.client, user.email, f"racing passphrase {winner}")
    assert good.status_code == 200
