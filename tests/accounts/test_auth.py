"""Accounts: register, claim, token, refresh rotation, me."""

import httpx
import pytest

from tests.fixtures.actors import Api, Squad

PASSWORD = "s3cure-enough"


async def _register(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, **fields: str
) -> httpx.Response:
    return await client.post(
        "/auth/register",
        json={"email": email, "password": password, "full_name": "Alex Doe", **fields},
    )


async def _login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/auth/token", data={"username": email, "password": password})


async def test_register_then_sign_in_and_read_me(client: httpx.AsyncClient) -> None:
    response = await _register(client, "Alex@Example.com")
    assert response.status_code == 201
    user = response.json()
    assert user == {
        "id": user["id"],
        "email": "alex@example.com",
        "full_name": "Alex Doe",
        "is_admin": False,
    }

    tokens = (await _login(client, "alex@example.com")).json()
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] > 0
    me = await client.get("/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200
    assert me.json()["email"] == "alex@example.com"
    assert me.json()["memberships"] == []


async def test_wrong_password_and_unknown_email_are_401(client: httpx.AsyncClient) -> None:
    await _register(client, "sam@example.com")
    for email, password in (
        ("sam@example.com", "wrong-password"),
        ("nobody@example.com", PASSWORD),
    ):
        response = await _login(client, email, password)
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_register_twice_is_409(client: httpx.AsyncClient) -> None:
    assert (await _register(client, "kim@example.com")).status_code == 201
    response = await _register(client, "KIM@example.com")
    assert response.status_code == 409
    assert response.json()["status"] == 409


async def test_registering_claims_the_account_staff_created(
    client: httpx.AsyncClient, api: Api
) -> None:
    owner = await api.user("owner")
    team = await api.team(owner)
    added = await client.post(
        f"/teams/{team['id']}/members",
        json={"email": "new.player@example.com", "full_name": "New Player", "role": "PLAYER"},
        headers=owner.headers,
    )
    assert added.status_code == 201
    # Not claimed yet: nobody can sign in with it.
    assert (await _login(client, "new.player@example.com")).status_code == 401

    token = added.json()["invitation"]["token"]
    claimed = await _register(client, "new.player@example.com", invitation_token=token)
    assert claimed.status_code == 201, claimed.text
    assert claimed.json()["id"] == added.json()["user"]["id"]
    tokens = (await _login(client, "new.player@example.com")).json()
    me = await client.get("/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert [(m["team_id"], m["role"], m["team_name"]) for m in me.json()["memberships"]] == [
        (team["id"], "PLAYER", team["name"])
    ]


async def test_refresh_rotates_and_a_used_token_is_refused(client: httpx.AsyncClient) -> None:
    await _register(client, "rot@example.com")
    first = (await _login(client, "rot@example.com")).json()
    second = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]

    reused = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401
    # Reuse means the token leaked: the whole family is revoked, the newer token too.
    after = await client.post(
        "/auth/refresh", json={"refresh_token": second.json()["refresh_token"]}
    )
    assert after.status_code == 401


async def test_bad_bearer_tokens_are_401(client: httpx.AsyncClient, squad: Squad) -> None:
    token = squad.player.headers["Authorization"]
    for header in ("Bearer nonsense", token[:-3] + "abc", "Basic abc"):
        response = await client.get("/auth/me", headers={"Authorization": header})
        assert response.status_code == 401, header
    assert (await client.get("/auth/me")).status_code == 401


async def test_create_admin_refuses_an_unclaimed_account(
    client: httpx.AsyncClient, api: Api
) -> None:
    """Otherwise whoever registers that email first would own an admin account."""
    from app.errors import NotFound
    from app.services.accounts import service as accounts

    owner = await api.user("owner")
    team = await api.team(owner)
    await client.post(
        f"/teams/{team['id']}/members",
        json={"email": "pending@example.com", "full_name": "Pending", "role": "PLAYER"},
        headers=owner.headers,
    )
    async with api.sessionmaker() as session:
        with pytest.raises(NotFound):
            await accounts.create_admin(session, "pending@example.com")
        with pytest.raises(NotFound):
            await accounts.create_admin(session, "nobody@example.com")
        user = await accounts.create_admin(session, owner.email)
        assert user.is_admin
