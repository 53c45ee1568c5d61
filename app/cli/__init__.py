"""The ``loadline`` command: serve, migrate, load demo data, create an admin, send a test
email, export the OpenAPI document."""

import argparse
import asyncio
import functools
import json
import logging
import secrets
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvicorn
from prometheus_client import start_http_server
from sqlalchemy import select
from sqlalchemy.engine import make_url

from app.cli import demo
from app.config import Settings, get_settings
from app.db import create_engine, create_sessionmaker, migrate
from app.errors import NotFound
from app.main import create_app
from app.models import EmailStatus, LoadSource, Team
from app.models.base import utcnow
from app.scheduler import Scheduler
from app.services.accounts import service as accounts
from app.services.acwr import jobs as acwr_jobs
from app.services.email import delivery as email_delivery
from app.services.email import jobs as email_jobs
from app.services.email import outbox
from app.services.integrations import devices
from app.services.integrations.context import VendorContext, new_http_client
from app.services.platform.crypto import DecryptionError


def _serve(args: argparse.Namespace) -> None:
    uvicorn.run("app.main:app", **uvicorn_options(args.host, args.port, args.workers))


def uvicorn_options(
    host: str, port: int, workers: int, settings: Settings | None = None
) -> dict[str, Any]:
    """How ``loadline serve`` runs uvicorn. On SIGTERM uvicorn stops accepting connections,
    lets the requests in flight finish for up to ``LOADLINE_SHUTDOWN_GRACE_SECONDS``, then
    runs the lifespan's shutdown (which gives running jobs the same grace): a rolling
    deploy drops no request that finishes within it.

    X-Forwarded-For and X-Forwarded-Proto are believed only from the peers in
    ``LOADLINE_FORWARDED_ALLOW_IPS``; with none, uvicorn does not read them at all. (Left
    to itself uvicorn believes its ``FORWARDED_ALLOW_IPS`` or else loopback, so a client on
    the same host could pick the address the sign-in throttle counts.)"""
    settings = settings or get_settings()
    proxies = settings.forwarded_allow_ip_list
    return {
        "host": host,
        "port": port,
        "workers": workers,
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": proxies,
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": settings.shutdown_grace_seconds,
    }


async def _db_upgrade(_: argparse.Namespace) -> None:
    settings = get_settings()
    print(f"Migrating {_safe_url(settings.database_url)} ...", flush=True)
    await migrate(settings.database_url)
    print("Database is at the newest revision.")


async def _worker(_: argparse.Namespace) -> None:
    """Run the scheduler alone until SIGTERM or SIGINT (API replicas then run with it off),
    then stop as the API does: running jobs end at their next stopping point, within
    ``LOADLINE_SHUTDOWN_GRACE_SECONDS``."""
    settings = get_settings()
    engine = create_engine(settings.database_url)
    vendors = VendorContext(settings, new_http_client())
    jobs = Scheduler(engine, create_sessionmaker(engine), vendors)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if settings.worker_metrics_port:
        # The API's /metrics cannot see this process's job counters: it serves its own.
        start_http_server(settings.worker_metrics_port, settings.worker_metrics_host)
    jobs.start()
    print("Worker running; stop with SIGTERM or Ctrl-C.", flush=True)
    try:
        await stop.wait()
        print("Worker stopping: letting running jobs reach a stopping point.", flush=True)
        await jobs.stop(settings.shutdown_grace_seconds)
    finally:
        jobs.shutdown()
        await vendors.http.aclose()
        await engine.dispose()
    print("Worker stopped.", flush=True)


async def _acwr_recompute(args: argparse.Namespace) -> None:
    """Rebuild every athlete's ACWR from their first day, with a progress bar."""
    engine = create_engine(get_settings().database_url)
    try:
        sessionmaker = create_sessionmaker(engine)
        async with sessionmaker() as db:
            query = select(Team).order_by(Team.id)
            if args.team is not None:
                query = query.where(Team.id == args.team)
            teams = list(await db.scalars(query))
        if not teams:
            raise SystemExit(f"No team with id {args.team}")
        total = 0
        for source in LoadSource:
            progress = functools.partial(_labelled_progress, f"ACWR {source.value.lower()}")
            total += await acwr_jobs.rebuild(
                sessionmaker,
                teams,
                source,
                workers=1 if engine.dialect.name == "sqlite" else 2,
                progress=progress,
            )
        print(f"Recomputed {total} athlete-days for {len(teams)} team(s).")
    finally:
        await engine.dispose()


async def _demo(args: argparse.Namespace) -> None:
    logging.getLogger("loadline.alerts").setLevel(logging.WARNING)  # the demo raises dozens

    engine = create_engine(get_settings().database_url)
    try:
        async with create_sessionmaker(engine).begin() as db:
            if args.if_empty and await accounts.count_users(db) > 0:
                print("Database already has data: demo not loaded.")
                return
            logins = await demo.seed(db, progress=_progress)
        print(f"\nDemo team loaded. Sign in with (password for all: {demo.PASSWORD}):")
        for role, email in logins:
            print(f"  {role:<7} {email}")
    finally:
        await engine.dispose()


async def _create_admin(args: argparse.Namespace) -> None:
    engine = create_engine(get_settings().database_url)
    try:
        try:
            async with create_sessionmaker(engine).begin() as db:
                await accounts.create_admin(db, args.email)
        except NotFound as exc:
            raise SystemExit(f"{args.email}: {exc.detail}") from None
        print(f"{args.email} is an admin.")
    finally:
        await engine.dispose()


async def _tokens_rotate(_: argparse.Namespace) -> None:
    """Re-encrypt every stored vendor token and secret under the newest key, in one
    transaction, so the old key can be removed from ``LOADLINE_TOKEN_KEYS`` afterwards."""
    settings = get_settings()
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine).begin() as db:
            progress = functools.partial(_labelled_progress, "Re-encrypting")
            total = await devices.reencrypt_secrets(db, settings, progress=progress)
        print(f"Re-encrypted {total} value(s) under the newest key; older keys may now go.")
    except DecryptionError:
        raise SystemExit(
            "\nA stored value opens with none of LOADLINE_TOKEN_KEYS: keep the old key after "
            "the new one and run again. Nothing was changed."
        ) from None
    finally:
        await engine.dispose()


async def _email_test(args: argparse.Namespace) -> None:
    if await email_test(get_settings(), args.address) != 0:
        raise SystemExit(1)


async def email_test(settings: Settings, address: str) -> int:
    """``loadline email test ADDRESS``: IT's check of the mail settings. The test email goes
    through the outbox like any other and is sent at once, and the outcome is printed
    (0 when the server took it). One that failed for now stays queued for the worker."""
    if "@" not in address:
        print(f"{address!r} is not an email address.")
        return 1
    if settings.email_delivery == "none":
        print("Email is off: set LOADLINE_SMTP_URL (or LOADLINE_EMAIL_BACKEND=console).")
        return 1
    server = email_delivery.describe(settings)
    engine = create_engine(settings.database_url)
    try:
        sessionmaker = create_sessionmaker(engine)
        async with sessionmaker.begin() as db:
            message = await outbox.enqueue_message(
                db,
                settings,
                template="email_check",
                to=address,
                context={
                    "base_url": settings.public_base_url,
                    "server": server,
                    "sent_at": f"{utcnow():%Y-%m-%d %H:%M} UTC",
                },
                user_id=None,
            )
        outcome = None
        if message is not None:  # always, since email is on
            outcome = await email_jobs.deliver_message(sessionmaker, settings, message.id)
    finally:
        await engine.dispose()
    if outcome is not None and outcome.status == EmailStatus.SENT:
        print(f"Sent to {address} through {server}.")
        return 0
    if outcome is not None and outcome.status == EmailStatus.PENDING:
        print(
            f"Not sent through {server}: {outcome.error}.\nIt stays in the outbox and the "
            f"worker tries again after {outcome.retry_at:%H:%M} UTC."
        )
    else:
        print(f"Refused by {server}: {outcome.error if outcome else 'not sent'}. Not retried.")
    return 1


def openapi_document() -> str:
    """The app's OpenAPI document as committed in ``docs/openapi.json``: sorted keys and a
    fixed indent, so a regenerated file differs only where the API did, and a test can
    compare the committed file with this text. The app is only built, never started, so no
    database is needed; a throwaway secret keeps the insecure-key warning out of the output."""
    settings = get_settings().model_copy(update={"secret_key": secrets.token_hex(32)})
    schema = create_app(settings).openapi()
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _openapi(args: argparse.Namespace) -> None:
    document = openapi_document()
    if args.output == "-":
        sys.stdout.write(document)
        return
    Path(args.output).write_text(document, encoding="utf-8")
    print(f"Wrote {args.output}.")


def _progress(done: int, total: int, label: str) -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    sys.stdout.write(f"\r{label:<18} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    sys.stdout.flush()
    if done >= total:
        sys.stdout.write("\n")


def _labelled_progress(label: str, done: int, total: int) -> None:
    _progress(done, total, label)


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="loadline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the API with uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(run=_serve)

    db = commands.add_parser("db", help="database commands")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply every migration").set_defaults(run=_db_upgrade)

    commands.add_parser("worker", help="run the background jobs alone").set_defaults(run=_worker)

    acwr = commands.add_parser("acwr", help="ACWR maintenance")
    acwr_commands = acwr.add_subparsers(dest="acwr_command", required=True)
    recompute = acwr_commands.add_parser("recompute", help="rebuild ACWR from scratch")
    recompute.add_argument("--team", type=int, help="only this team (default: every team)")
    recompute.set_defaults(run=_acwr_recompute)

    tokens = commands.add_parser("tokens", help="encrypted vendor tokens")
    tokens_commands = tokens.add_subparsers(dest="tokens_command", required=True)
    tokens_commands.add_parser(
        "rotate", help="re-encrypt every stored token under the newest key"
    ).set_defaults(run=_tokens_rotate)

    demo = commands.add_parser("demo", help="load a demo team with months of data")
    demo.add_argument("--if-empty", action="store_true", help="only when there are no users yet")
    demo.set_defaults(run=_demo)

    admin = commands.add_parser("create-admin", help="make an account an admin")
    admin.add_argument("email")
    admin.set_defaults(run=_create_admin)

    mail = commands.add_parser("email", help="email delivery")
    mail_commands = mail.add_subparsers(dest="email_command", required=True)
    check = mail_commands.add_parser("test", help="send a test email now, print the outcome")
    check.add_argument("address")
    check.set_defaults(run=_email_test)

    openapi = commands.add_parser("openapi", help="write the OpenAPI document clients use")
    openapi.add_argument("--output", default="-", help="file to write (default: standard output)")
    openapi.set_defaults(run=_openapi)
    return parser


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=get_settings().log_level, format="%(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    args = _parser().parse_args(argv)
    run: Callable[[argparse.Namespace], Awaitable[None] | None] = args.run
    result = run(args)
    if result is not None:
        asyncio.run(result)  # type: ignore[arg-type]
