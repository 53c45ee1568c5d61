"""The password policy: length, the common-password list, not the email; on every set."""

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from app.errors import Invalid
from app.models import User
from app.services.accounts import passwords
from tests.fixtures.actors import PASSWORD, Api

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "password",
    ["short", "password1", "PassWord1", "qwertyuiop", "iloveyou", "sam.jones", "SAM.JONES"],
)
def test_weak_passwords_are_refused_naming_the_field(password: str) -> None:
    with pytest.raises(Invalid) as refused:
        passwords.check(password, email="Sam.Jones@example.com")
    assert refused.value.field == ("body", "password")


def test_the_email_itself_is_refused() -> None:
    with pytest.raises(Invalid):
        passwords.check("sam.jones@example.com", email="sam.jones@example.com")


@pytest.mark.parametrize("password", [PASSWORD, "s3cure-enough", "long enough pw", "x" * 256])
def test_reasonable_passwords_pass(password: str) -> None:
    passwords.check(password, email="sam.jones@example.com")


def test_the_list_is_the_lowercased_list_shipped() -> None:
    common = passwords.common_passwords()
    assert len(common) == 19_640
    assert all(entry == entry.lower() for entry in common)
    assert {"password", "123456789", "qwerty"} <= common
    assert passwords.common_passwords() is common  # read once


def test_the_list_is_not_read_at_import() -> None:
    """`loadline --help` and every other command import the app: the list (~10 ms, 2 MB)
    is read by the first password check, not then."""
    probe = (
        "import app.cli, app.main\n"
        "from app.services.accounts import passwords\n"
        "print(passwords.common_passwords.cache_info().currsize)\n"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "0"


async def _users(api: Api) -> int:
    async with api.sessionmaker() as db:
        return int(await db.scalar(select(func.count()).select_from(User)) or 0)


@pytest.mark.parametrize("password", ["password123", "Football1", "ada.lovelace"])
async def test_registering_with_a_weak_password_is_422_and_creates_nothing(
    client: httpx.AsyncClient, api: Api, password: str
) -> None:
    before = await _users(api)
    response = await client.post(
        "/auth/register",
        json={"email": "ada.lovelace@example.com", "password": password, "full_name": "Ada"},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["loc"] for e in response.json()["errors"]] == [["body", "password"]]
    assert await _users(api) == before


async def test_seven_characters_are_422_from_the_schema(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/auth/register",
        json={"email": "seven@example.com", "password": "x1y2z3w", "full_name": "Seven"},
    )
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == [["body", "password"]]
