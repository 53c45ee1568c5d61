"""Access tokens: only unexpired ones, for this audience, signed with this service's key."""

import base64
import json
import time

import httpx
import pytest

from app.config import Settings
from app.services import tokens
from tests.conftest import Api


def _b64(data: dict[str, object]) -> str:
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
