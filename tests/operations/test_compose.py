"""compose.yaml, the PgBouncer config and the Dockerfile, checked without a Docker daemon:
the services and their wiring as parsed YAML, every ``LOADLINE_`` variable against the
settings, and the image's start command run by ``sh`` with a stand-in ``loadline``."""

import configparser
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # hints are in types-PyYAML, not installed

from app.config import Settings

ROOT = Path(__file__).resolve().parents[2]
IMAGE_ONLY = {"LOADLINE_MIGRATE_ON_START"}  # read by the image's start command, not the app


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def _env(service: dict[str, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in service.get("environment", {}).items()}


def test_the_services_are_the_production_shape(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == {"postgres", "pgbouncer", "migrate", "api", "worker", "lb"}
    assert services["postgres"]["image"] == "postgres:15"
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    assert services["api"]["deploy"]["replicas"] == 2
    assert services["migrate"]["command"] == ["loadline", "db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    assert services["worker"]["command"] == ["loadline", "worker"]


def test_migrations_run_once_before_the_api_and_the_worker(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in ("api", "worker"):
        condition = services[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully", name
    assert _env(services["api"])["LOADLINE_MIGRATE_ON_START"] == "0"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["lb"]["depends_on"]["api"]["condition"] == "service_healthy"


def test_the_api_goes_through_pgbouncer_and_the_rest_goes_direct(
    services: dict[str, dict[str, Any]],
) -> None:
    api = _env(services["api"])
    assert "@pgbouncer:6432/" in api["LOADLINE_DATABASE_URL"]
    assert (api["LOADLINE_DATABASE_POOLER"], api["LOADLINE_SCHEDULER"]) == ("pgbouncer", "off")
    for name in ("migrate", "worker"):
        env = _env(services[name])
        assert "@postgres:5432/" in env["LOADLINE_DATABASE_URL"], name
        assert env.get("LOADLINE_DATABASE_POOLER", "none") == "none", name
    assert _env(services["worker"])["LOADLINE_SCHEDULER"] == "on"
    assert services["pgbouncer"]["build"] == "deploy/pgbouncer"


def test_healthchecks_fit_each_service(services: dict[str, dict[str, Any]]) -> None:
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    # The image's own check asks /healthz, which only the API serves.
    assert services["worker"]["healthcheck"] == {"disable": True}
    assert services["migrate"]["healthcheck"] == {"disable": True}


def test_every_loadline_variable_is_a_setting(services: dict[str, dict[str, Any]]) -> None:
    """A typo in a variable name would be ignored silently by the settings."""
    known = {f"LOADLINE_{name.upper()}" for name in Settings.model_fields} | IMAGE_ONLY
    used = {key for s in services.values() for key in _env(s) if key.startswith("LOADLINE_")}
    assert used - known == set()


def test_docker_waits_longer_than_the_grace_period(services: dict[str, dict[str, Any]]) -> None:
    for name in ("api", "worker"):
        grace = float(_env(services[name])["LOADLINE_SHUTDOWN_GRACE_SECONDS"])
        assert float(services[name]["stop_grace_period"].removesuffix("s")) > grace, name


def test_pgbouncer_pools_transactions_and_resets_connections() -> None:
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "deploy" / "pgbouncer" / "pgbouncer.ini")
    pgbouncer = config["pgbouncer"]
    assert pgbouncer["pool_mode"] == "transaction"
    assert pgbouncer["server_reset_query"] == "DISCARD ALL"
    assert pgbouncer["server_reset_query_always"] == "1"
    assert config["databases"]["loadline"].startswith("host=postgres port=5432")


def _dockerfile_start_command() -> str:
    line = next(
        line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD ")
    )
    command: list[str] = json.loads(line.removeprefix("CMD "))
    assert command[:2] == ["sh", "-c"]
    return command[2]


@pytest.mark.parametrize(
    ("migrate", "migration_status", "expected", "status"),
    [
        ("1", 0, ["db upgrade", "serve --host 0.0.0.0 --port 8000"], 0),
        ("0", 0, ["serve --host 0.0.0.0 --port 8000"], 0),
        ("1", 3, ["db upgrade"], 1),  # a failed migration never serves
    ],
)
def test_the_image_migrates_on_start_unless_told_not_to(
    tmp_path: Path, migrate: str, migration_status: int, expected: list[str], status: int
) -> None:
    stub = tmp_path / "loadline"
    stub.write_text(
        f'#!/bin/sh\necho "$*" >> {tmp_path / "calls"}\n'
        f'[ "$1" = db ] && exit {migration_status}\nexit 0\n'
    )
    stub.chmod(0o755)
    env = os.environ | {
        "PATH": f"{tmp_path}:{os.environ['PATH']}",
        "LOADLINE_MIGRATE_ON_START": migrate,
    }
    done = subprocess.run(  # noqa: S603
        ["/bin/sh", "-c", _dockerfile_start_command()], env=env, check=False
    )
    assert done.returncode == status
    assert (tmp_path / "calls").read_text().splitlines() == expected


def test_the_image_runs_as_a_user_with_a_healthcheck() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "USER loadline" in dockerfile
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile
    assert "ENV LOADLINE_MIGRATE_ON_START=1" in dockerfile


def test_docker_compose_accepts_the_file() -> None:
    """Only where a compose CLI is installed (it needs no daemon to check a file)."""
    if shutil.which("docker-compose"):
        command = ["docker-compose"]
    elif shutil.which("docker") and _compose_plugin():
        command = ["docker", "compose"]
    else:
        pytest.skip("no docker compose CLI here; the YAML checks above still ran")
    env = os.environ | {"LOADLINE_SECRET_KEY": "x" * 32, "POSTGRES_PASSWORD": "secret"}
    done = subprocess.run(  # noqa: S603
        [*command, "-f", str(ROOT / "compose.yaml"), "config", "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def _compose_plugin() -> bool:
    done = subprocess.run(
        ["docker", "compose", "version"],  # noqa: S607
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def test_nginx_overwrites_the_forwarded_address() -> None:
    """The replicas trust X-Forwarded-For and take its first address as the client's (the
    login throttle counts per address): a client must not be able to choose it."""
    nginx = (ROOT / "deploy" / "nginx" / "nginx.conf").read_text()
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in nginx
    directives = [line.split("#")[0] for line in nginx.splitlines()]
    assert not any("$proxy_add_x_forwarded_for" in line for line in directives)


def test_the_replicas_believe_the_forwarded_address_of_nginx(
    services: dict[str, dict[str, Any]],
) -> None:
    """`loadline serve` believes X-Forwarded-For only from LOADLINE_FORWARDED_ALLOW_IPS
    (uvicorn's own FORWARDED_ALLOW_IPS is not read): unset, every sign-in behind nginx would
    count against nginx's one address."""
    api = _env(services["api"])
    assert "FORWARDED_ALLOW_IPS" not in api
    trusted = Settings(forwarded_allow_ips=api["LOADLINE_FORWARDED_ALLOW_IPS"])
    assert trusted.forwarded_allow_ip_list == ["*"]
    # Any peer is believed only because nothing but the project's containers reach them.
    assert "ports" not in services["api"]
    assert services["lb"]["ports"] == ["${LOADLINE_PORT:-8000}:8000"]


def test_the_public_entry_point_does_not_serve_metrics() -> None:
    """Counters are per replica and tell strangers about traffic: scrape replicas directly."""
    nginx = (ROOT / "deploy" / "nginx" / "nginx.conf").read_text()
    block = nginx[nginx.index("location = /metrics") :]
    assert "return 404;" in block[: block.index("}")]
