"""Access tokens: only unexpired ones, for this audience, signed with this service's key."""

import base64
import json
import time
from collections.abc import Mapping

import httpx
import pytest
from joserfc import jwt

from app.config import Settings
from app.services.accounts import tokens
from tests.fixtures.actors import Api


def _b64(data: Mapping[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def _me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})


async def test_a_valid_token_is_accepted(client: httpx.AsyncClient, api: Api) -> None:
    user = await api.user("valid")
    assert (await client.get("/auth/me", headers=user.headers)).status_code == 200


@pytest.mark.parametrize(
    "change",
    [
        {"access_token_minutes": -1},  # expired a minute ago
        {"jwt_audience": "another-service"},
        {"secret_key": "another-deployment-with-its-own-long-secret"},
    ],
    ids=["expired", "other-audience", "other-key"],
)
async def test_refused_tokens_are_401(
    client: httpx.AsyncClient, api: Api, settings: Settings, change: dict[str, object]
) -> None:
    user = await api.user("refused")
    token = tokens.encode_access_token(settings.model_copy(update=change), user.id)
    response = await _me(client, token)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_an_unsigned_alg_none_token_is_401(client: httpx.AsyncClient, api: Api) -> None:
    user = await api.user("forger")
    now = int(time.time())
    claims = {"sub": str(user.id), "iss": "loadline", "aud": "loadline", "iat": now}
    claims["exp"] = now + 600
    for header in ({"alg": "none", "typ": "JWT"}, {"alg": "None"}, {"alg": "HS512"}):
        forged = f"{_b64(header)}.{_b64(claims)}."
        assert (await _me(client, forged)).status_code == 401, header


async def test_a_token_with_its_claims_changed_is_401(
    client: httpx.AsyncClient, api: Api, settings: Settings
) -> None:
    user = await api.user("tamperer")
    other = await api.user("victim")
    header, _, signature = tokens.encode_access_token(settings, user.id).split(".")
    now = int(time.time())
    claims = {"sub": str(other.id), "iss": "loadline", "aud": "loadline", "iat": now}
    claims["exp"] = now + 600
    assert (await _me(client, f"{header}.{_b64(claims)}.{signature}")).status_code == 401


@pytest.mark.parametrize("sub", ["99999999999999999999", "2147483648", "0", "-5"])
async def test_a_signed_token_naming_an_impossible_user_id_is_401(
    client: httpx.AsyncClient, settings: Settings, sub: str
) -> None:
    """A token signed with our key whose ``sub`` is no user id at all (beyond the 32-bit
    keys, or not positive) is a bad credential, not a database error: a POST with an
    ``Idempotency-Key`` (decoded by the middleware) and a team route both answer 401."""
    now = int(time.time())
    claims = {"sub": sub, "iss": "loadline", "aud": settings.jwt_audience, "iat": now}
    claims["exp"] = now + 600
    token = jwt.encode({"alg": tokens.ALGORITHM}, claims, tokens._jwt_key(settings))
    headers = {"Authorization": f"Bearer {token}"}
    assert (await _me(client, token)).status_code == 401
    assert (await client.get("/teams/1/roster", headers=headers)).status_code == 401
    created = await client.post(
        "/teams", json={"name": "X"}, headers=headers | {"Idempotency-Key": "k1"}
    )
    assert created.status_code == 401, created.text
