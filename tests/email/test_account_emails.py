"""Invitations and password resets end to end: what the person finds in their mailbox (a
real aiosmtpd server) is what lets them in."""

import re

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.services.email import jobs
from tests.fixtures.actors import PASSWORD, Api, Squad
from tests.fixtures.smtp import MailServer

Maker = async_sessionmaker[AsyncSession]
NEW_PASSWORD = "a brand new tidal phrase"


@pytest.fixture
def app_settings(settings: Settings, smtp_server: MailServer) -> Settings:
    """The API sends through the test's SMTP server."""
    return smtp_server.settings(settings)


def _token_in(server: MailServer, to: str) -> str:
    """The one token of the one email ``to`` received, read from its plain-text part."""
    (received,) = [m for m in server.received if m["To"] == to]
    text = received.get_body(preferencelist=("plain",))
    assert text is not None
    (token,) = re.findall(r"^ {4}(\S{40,})\r?$", text.get_content(), flags=re.M)
    html = received.get_body(preferencelist=("html",))
    assert html is not None and token in html.get_content()
    return token


async def _sign_in(client: httpx.AsyncClient, email: str, password: str) -> int:
    response = await client.post("/auth/token", data={"username": email, "password": password})
    return response.status_code


async def test_an_invited_player_claims_the_account_with_the_emailed_token(
    api: Api, squad: Squad, sessionmaker: Maker, app_settings: Settings, smtp_server: MailServer
) -> None:
    email = "new.winger@example.com"
    added = await api.client.post(
        f"/teams/{squad.team['id']}/members",
        json={"email": email, "full_name": "New Winger", "role": "PLAYER"},
        headers=squad.coach.headers,
    )
    assert added.status_code == 201, added.text
    assert smtp_server.received == []  # nothing is sent inside the request

    assert await jobs.deliver_due(sessionmaker, app_settings) == 1
    token = _token_in(smtp_server, email)
    assert token == added.json()["invitation"]["token"]
    (received,) = smtp_server.received
    assert received["Subject"] == "You are invited to Loadline"

    registered = await api.client.post(
        "/auth/register",
        json={
            "email": email,
            "password": PASSWORD,
            "full_name": "New Winger",
            "invitation_token": token,
        },
    )
    assert registered.status_code == 201, registered.text
    assert await _sign_in(api.client, email, PASSWORD) == 200


async def test_a_reset_token_from_the_mailbox_sets_a_new_password(
    api: Api, sessionmaker: Maker, app_settings: Settings, smtp_server: MailServer
) -> None:
    user = await api.user("forgetful")
    asked = await api.client.post("/auth/password-reset", json={"email": user.email})
    assert asked.status_code == 202
    unknown = await api.client.post("/auth/password-reset", json={"email": "nobody@example.com"})
    assert unknown.status_code == 202 and unknown.content == asked.content

    assert await jobs.deliver_due(sessionmaker, app_settings) == 1  # none for the unknown
    token = _token_in(smtp_server, user.email)

    confirmed = await api.client.post(
        "/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD}
    )
    assert confirmed.status_code == 204, confirmed.text
    assert await _sign_in(api.client, user.email, NEW_PASSWORD) == 200
    assert await _sign_in(api.client, user.email, PASSWORD) == 401
    again = await api.client.post(
        "/auth/password-reset/confirm", json={"token": token, "password": "another fine phrase"}
    )
    assert again.status_code == 400
