"""`loadline serve` believes X-Forwarded-For only from the proxies it is told of
(LOADLINE_FORWARDED_ALLOW_IPS): else a client could pick the address that the sign-in
throttle counts. Real server processes on a free loopback port (the plumbing of
test_shutdown.py), real sign-ins."""

import sys

import httpx
import pytest
from pydantic import ValidationError

from app.config import Settings
from app.db import migrate
from tests.fixtures.databases import create_database, drop_database
from tests.operations.test_shutdown import _env, _free_port, _kill, _listening, _start, _until

PER_IP = 2  # failed sign-ins per address before 429


async def _guesses_behind(
    tmp_path_factory: pytest.TempPathFactory, forwarded_for: list[str], **env: str
) -> list[int]:
    """Start `loadline serve`, send one wrong sign-in per X-Forwarded-For value from
    loopback, and give the statuses."""
    url = await create_database(tmp_path_factory)
    try:
        await migrate(url)
        folder = tmp_path_factory.mktemp("serve")
        port = _free_port()
        environment = _env(
            folder,
            LOADLINE_DATABASE_URL=url,
            LOADLINE_LOGIN_MAX_ATTEMPTS_PER_IP=str(PER_IP),
            **env,
        )
        environment.pop("FORWARDED_ALLOW_IPS", None)  # uvicorn's own: not to be read
        command = [sys.executable, "-c", "from app.cli import main; main()", "serve"]
        log = folder / "server.log"
        process = _start([*command, "--port", str(port)], environment, log)
        try:
            await _until(lambda: _listening(port), 30, "the server starting")
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=20) as c:
                statuses = [(await _sign_in(c, address)).status_code for address in forwarded_for]
        finally:
            _kill(process)
        assert "Traceback" not in log.read_text(), log.read_text()
        return statuses
    finally:
        await drop_database(url)


async def _sign_in(client: httpx.AsyncClient, forwarded_for: str) -> httpx.Response:
    return await client.post(
        "/auth/token",
        data={"username": "nobody@example.com", "password": "a guess"},
        headers={"X-Forwarded-For": forwarded_for},
    )


async def test_by_default_a_forged_forwarded_address_does_not_dodge_the_throttle(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A new X-Forwarded-For on each guess: all of them count against the real peer."""
    forged = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"]
    assert await _guesses_behind(tmp_path_factory, forged) == [401] * PER_IP + [429] * 2


async def test_a_configured_proxys_forwarded_address_is_the_client(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """From 127.0.0.1 as the proxy, each forwarded address is throttled on its own."""
    forwarded = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.3", "203.0.113.3"]
    statuses = await _guesses_behind(
        tmp_path_factory, forwarded, LOADLINE_FORWARDED_ALLOW_IPS="127.0.0.1"
    )
    assert statuses == [401, 401, 401, 401, 429]


@pytest.mark.parametrize(
    "value", ["127.0.0.1,proxy.internal", "10.0.0.1/8", "*,10.0.0.1", "10.0.0.300"]
)
def test_a_proxy_list_uvicorn_would_misread_is_refused(value: str) -> None:
    """uvicorn would take these entries as names no peer ever has (or `*` as one), and
    silently trust no proxy: the settings refuse them, naming the setting."""
    with pytest.raises(ValidationError, match="forwarded_allow_ips"):
        Settings(forwarded_allow_ips=value)


@pytest.mark.parametrize(
    ("value", "entries"),
    [("", []), ("*", ["*"]), (" 10.0.0.2, 10.1.0.0/16,::1 ", ["10.0.0.2", "10.1.0.0/16", "::1"])],
)
def test_a_proxy_list_is_read_entry_by_entry(value: str, entries: list[str]) -> None:
    assert Settings(forwarded_allow_ips=value).forwarded_allow_ip_list == entries
