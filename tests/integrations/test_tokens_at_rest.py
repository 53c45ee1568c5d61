"""Vendor tokens and client secrets never sit in the database in plain text; keys rotate."""

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import LargeBinary, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import cli
from app.config import Settings, get_settings
from app.db import create_engine, create_sessionmaker, migrate
from app.models import Base, LinkedDevice, Provider, Role, Team, TeamMembership, User
from app.services.integrations import devices, jobs
from app.services.integrations.context import VendorContext
from app.services.platform import crypto
from tests.fixtures import fake_vendor as fv
from tests.fixtures.actors import Squad

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    """As tests/integrations/conftest.py, with a known key, so rotation can be tested."""
    return fv.vendor_settings(settings, token_keys=OLD_KEY)


def keys(settings: Settings, *names: str) -> Settings:
    return settings.model_copy(update={"token_keys": ",".join(names)})


async def dump_text_columns(sessionmaker: async_sessionmaker[AsyncSession]) -> list[str]:
    """Every value of every text or binary column of every table, as text."""
    values: list[str] = []
    async with sessionmaker() as session:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text | LargeBinary)]
            if not columns:
                continue
            for row in await session.execute(select(*columns)):
                for value in row:
                    if isinstance(value, bytes):
                        values.append(value.decode("utf-8", errors="replace"))
                    elif value is not None:
                        values.append(str(value))
    return values


async def test_no_token_or_secret_in_plain_text(
    client: httpx.AsyncClient,
    fake: fv.FakeVendors,
    squad: Squad,
    sessionmaker: async_sessionmaker[AsyncSession],
    ctx: VendorContext,
    app_settings: Settings,
) -> None:
    member_id = squad.player_membership["id"]
    for provider in ("whoop", "oura"):
        assert (
            await fv.connect(client, fake, provider, squad.player, member_id)
        ).status_code == 200
    for device in await fv.devices_of(sessionmaker, member_id):
        await fv.expire_device(sessionmaker, device.id)
    assert await jobs.refresh_expiring(sessionmaker, ctx) == 2  # a second pair each
    body = fv.whoop_body("s-1")
    await client.post("/webhooks/whoop", content=body, headers=fv.whoop_headers(body))

    dump = "\n".join(await dump_text_columns(sessionmaker))

    secrets = fake.secrets_issued | {
        app_settings.whoop_client_secret,
        app_settings.oura_client_secret,
    }
    assert len(secrets) == 2 + 2 * 4  # two client secrets, two pairs per vendor
    for secret in secrets:
        assert secret not in dump
    # ... yet the current pair is there, encrypted.
    for device in await fv.devices_of(sessionmaker, member_id):
        vendor = fake.vendor(device.provider.value.lower())
        assert (
            crypto.decrypt(app_settings, device.access_token_enc)
            == vendor.issued[-1]["access_token"]
        )


async def test_key_rotation(
    client: httpx.AsyncClient,
    fake: fv.FakeVendors,
    squad: Squad,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    member_id = squad.player_membership["id"]
    await fv.connect(client, fake, "oura", squad.player, member_id)
    [device] = await fv.devices_of(sessionmaker, member_id)
    token = fake.oura.issued[-1]["access_token"]
    old_only, both, new_only = (
        keys(settings, OLD_KEY),
        keys(settings, NEW_KEY, OLD_KEY),
        keys(settings, NEW_KEY),
    )

    # A new key in front: old values still decrypt; the new key alone cannot read them yet.
    assert crypto.decrypt(both, device.access_token_enc) == token
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(new_only, device.access_token_enc)

    progress: list[tuple[int, int]] = []
    async with sessionmaker.begin() as session:
        count = await devices.reencrypt_secrets(
            session, both, progress=lambda done, total: progress.append((done, total))
        )

    assert count == 2  # the access and the refresh token
    assert progress[0] == (0, 2) and progress[-1] == (2, 2)
    [device] = await fv.devices_of(sessionmaker, member_id)
    assert crypto.decrypt(new_only, device.access_token_enc) == token
    assert (
        crypto.decrypt(new_only, device.refresh_token_enc or "")
        == fake.oura.issued[-1]["refresh_token"]
    )
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(old_only, device.access_token_enc)  # the old key may now be removed


@pytest.fixture
def cli_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated SQLite file with one device encrypted under the old key (the command
    opens its own engine, so it gets a database of its own whatever the test backend)."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('cli')}/rotate.db"
    asyncio.run(_seed_cli_database(url))
    yield url
    get_settings.cache_clear()


async def _seed_cli_database(url: str) -> None:
    await migrate(url)
    engine = create_engine(url)
    old = Settings(token_keys=OLD_KEY)
    async with create_sessionmaker(engine).begin() as session:
        user = User(email="cli@example.com", full_name="Cli", password_hash="x")
        team = Team(name="Cli", timezone="UTC")
        session.add_all([user, team])
        await session.flush()
        membership = TeamMembership(team_id=team.id, user_id=user.id, role=Role.PLAYER)
        session.add(membership)
        await session.flush()
        session.add(
            LinkedDevice(
                team_id=team.id,
                membership_id=membership.id,
                provider=Provider.WHOOP,
                external_user_id="1",
                access_token_enc=crypto.encrypt(old, "cli-access-token"),
                refresh_token_enc=None,
                expires_at=datetime.now(UTC) + timedelta(hours=1),
            )
        )
    await engine.dispose()


async def _stored_access_token(url: str) -> str:
    engine = create_engine(url)
    async with create_sessionmaker(engine)() as session:
        value: str | None = await session.scalar(select(LinkedDevice.access_token_enc))
    await engine.dispose()
    assert value is not None
    return value


def test_tokens_rotate_command(
    cli_database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOADLINE_DATABASE_URL", cli_database)
    monkeypatch.setenv("LOADLINE_TOKEN_KEYS", f"{NEW_KEY},{OLD_KEY}")
    get_settings.cache_clear()

    cli.main(["tokens", "rotate"])

    output = capsys.readouterr().out
    assert "Re-encrypting" in output and "1/1" in output
    assert "Re-encrypted 1 value(s)" in output
    stored = asyncio.run(_stored_access_token(cli_database))
    assert crypto.decrypt(Settings(token_keys=NEW_KEY), stored) == "cli-access-token"
    assert "cli-access-token" not in output
