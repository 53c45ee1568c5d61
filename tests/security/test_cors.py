"""CORS: only the origins in LOADLINE_CORS_ORIGINS, and no CORS headers at all by default."""

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.main import create_app

ALLOWED = "https://coach.example.com"
REFUSED = "https://evil.example.net"


def _preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"cors_origins": f"{ALLOWED}, https://staff.example.com"})


async def test_an_allowed_origin_gets_cors_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"Origin": ALLOWED})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "x-request-id" in response.headers["access-control-expose-headers"].lower()


async def test_an_allowed_preflight_is_answered(client: httpx.AsyncClient) -> None:
    response = await client.options("/teams", headers=_preflight(ALLOWED))
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "authorization" in response.headers["access-control-allow-headers"].lower()


async def test_another_origin_gets_no_cors_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"Origin": REFUSED})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers

    preflight = await client.options("/teams", headers=_preflight(REFUSED))
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers


async def test_no_setting_means_no_cors_at_all(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    assert settings.cors_origins == ""
    app = create_app(settings, sessionmaker)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        response = await client.get("/healthz", headers={"Origin": ALLOWED})
        preflight = await client.options("/teams", headers=_preflight(ALLOWED))
    assert not [h for h in response.headers if h.startswith("access-control-")]
    assert not [h for h in preflight.headers if h.startswith("access-control-")]
    assert preflight.status_code == 405
