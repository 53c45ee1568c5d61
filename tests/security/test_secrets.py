"""Secrets come from the environment only, and never come back out of the service."""

import ast
import logging
import re
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.main import create_app
from app.services.accounts import tokens

APP = Path(__file__).resolve().parents[2] / "app"
SECRET_FIELDS = {
    "secret_key",
    "token_keys",
    "whoop_client_secret",
    "oura_client_secret",
    "oura_verification_token",
    "metrics_token",
}
DEV_SECRET_KEY = "dev-insecure-change-me"  # documented in the README as the dev default


def test_every_secret_setting_is_known_and_empty_by_default() -> None:
    """Only the documented development secret key has a value in code."""
    fields = Settings.model_fields
    looks_secret = {
        name
        for name in fields
        if re.search(r"secret|password|(^|_)token($|_keys)|_keys$", name) and "url" not in name
    }
    assert looks_secret == SECRET_FIELDS
    defaults = {name: fields[name].default for name in SECRET_FIELDS}
    assert defaults == dict.fromkeys(SECRET_FIELDS, "") | {"secret_key": DEV_SECRET_KEY}


def _looks_like_key(value: str) -> bool:
    """A PEM block, or a long token of base64 characters mixing cases and digits."""
    if "-----BEGIN" in value:
        return True
    if len(value) < 32 or not re.fullmatch(r"[A-Za-z0-9+/_=\-]+", value):
        return False
    classes = (r"[a-z]", r"[A-Z]", r"[0-9]")
    return all(re.search(pattern, value) for pattern in classes)


def test_no_key_material_is_written_in_the_source() -> None:
    """No Fernet key, PEM block or long random-looking literal in app/."""
    found = [
        f"{path.relative_to(APP.parent)}:{node.lineno}"
        for path in sorted(APP.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and _looks_like_key(node.value)
    ]
    assert found == []
    assert _looks_like_key(Fernet.generate_key().decode())


def test_the_default_secret_key_is_warned_about(
    caplog: pytest.LogCaptureFixture, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    caplog.set_level(logging.WARNING, logger="loadline")
    create_app(Settings(database_url="unused", scheduler="off"), sessionmaker)
    assert "insecure_secret_key" in caplog.text
    caplog.clear()
    create_app(Settings(database_url="unused", secret_key="x" * 40), sessionmaker)
    assert "insecure_secret_key" not in caplog.text


async def test_no_secret_reaches_an_answer_or_a_log_line(
    caplog: pytest.LogCaptureFixture,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    token_key = Fernet.generate_key().decode()
    secrets = {
        "secret_key": "s3cret-key-marker-0123456789abcdef",
        "token_keys": token_key,
        "metrics_token": "metrics-token-marker-0123456789",
        "whoop_client_secret": "whoop-secret-marker-0123456789",
        "oura_client_secret": "oura-secret-marker-0123456789",
        "oura_verification_token": "oura-verify-marker-0123456789",
    }
    configured = settings.model_copy(update=secrets)
    derived = tokens.derive_key(configured, "access-token")
    needles = [*secrets.values(), derived.hex(), derived.decode("latin-1")]
    caplog.set_level(logging.DEBUG, logger="loadline")
    app = create_app(configured, sessionmaker)
    answers = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        bearer = {"Authorization": f"Bearer {secrets['metrics_token']}"}
        for path in ("/openapi.json", "/healthz", "/readyz", "/docs", "/metrics"):
            response = await client.get(path, headers=bearer)
            assert response.status_code == 200, path
            answers.append(str(response.headers) + response.text)
    seen = "\n".join(answers) + caplog.text
    assert "loadline_http_requests_total" in seen
    leaked = [needle for needle in needles if needle in seen]
    assert leaked == []
