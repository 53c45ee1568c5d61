"""Engine, sessions and the few dialect differences (SQLite pragmas, upserts, row locks)."""

import functools
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from alembic import command
from alembic.config import Config
from fastapi import Depends, Request
from sqlalchemy import event, literal_column, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql.dml import Insert

from app.config import get_settings
from app.models.base import Base

Pooler = Literal["none", "pgbouncer"]
M = TypeVar("M", bound=Base)


def create_engine(url: str, *, echo: bool = False, pooler: Pooler | None = None) -> AsyncEngine:
    """Build the engine. SQLite gets foreign keys, WAL and writer serialisation.

    ``pooler`` defaults to the ``LOADLINE_DATABASE_POOLER`` setting, so every command (the
    API, the worker, ``loadline acwr recompute``...) is configured alike for PgBouncer.
    """
    if url.startswith("sqlite"):
        engine = create_async_engine(
            url, echo=echo, hide_parameters=True, connect_args={"timeout": 30}
        )
        _configure_sqlite(engine)
        return engine
    settings = get_settings()
    if pooler is None:
        pooler = settings.database_pooler
    return create_async_engine(
        url,
        echo=echo,
        hide_parameters=True,
        pool_size=settings.database_pool_size,
        max_overflow=10,
        pool_recycle=1800,
        connect_args=pgbouncer_connect_args() if pooler == "pgbouncer" else {},
    )


def create_probe_engine(url: str) -> AsyncEngine:
    """The readiness probe's engine: one connection of its own (and one spare), apart from
    the request pool, so ``/readyz`` never waits behind the requests (``services.readiness``).
    Pre-pinged, since the probe must notice a connection the database has dropped. On
    SQLite, plain deferred transactions: a read takes no write lock, so it never waits."""
    if url.startswith("sqlite"):
        return create_async_engine(url, hide_parameters=True, connect_args={"timeout": 1})
    pooler = get_settings().database_pooler
    return create_async_engine(
        url,
        hide_parameters=True,
        pool_size=1,
        max_overflow=1,
        pool_timeout=1,
        pool_pre_ping=True,
        connect_args=pgbouncer_connect_args() if pooler == "pgbouncer" else {},
    )


def pgbouncer_connect_args() -> dict[str, Any]:
    """asyncpg settings for PgBouncer in transaction pooling mode.

    Each transaction may run on another server connection, so a prepared statement must
    not outlive its transaction: no statement cache in asyncpg (``statement_cache_size``)
    nor in SQLAlchemy's adapter (``prepared_statement_cache_size``). The statements that
    are still prepared get a random name, because a server connection keeps the ones
    another client (another replica, whose asyncpg counts from 1 too) left there and a
    counter's name would collide: "prepared statement __asyncpg_stmt_1__ already exists".
    PgBouncer's ``server_reset_query`` (``deploy/pgbouncer/pgbouncer.ini``) clears them.
    """
    return {
        "statement_cache_size": 0,
        "prepared_statement_cache_size": 0,
        "prepared_statement_name_func": _unique_statement_name,
    }


def _unique_statement_name() -> str:
    return f"__asyncpg_{uuid.uuid4().hex}__"


def _configure_sqlite(engine: AsyncEngine) -> None:
    """Take transaction control from pysqlite so SAVEPOINTs work and writers queue.

    ``BEGIN IMMEDIATE`` takes SQLite's write lock at the start of each transaction:
    two concurrent writers then wait for each other (busy timeout) instead of failing
    with "database is locked" when a read lock is upgraded.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        deferred = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


def create_sessionmaker(bind: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions keep loaded objects usable after commit (``expire_on_commit=False``)."""
    return async_sessionmaker(bind, expire_on_commit=False, autoflush=False)


# Execution option of a connection that only reads (:func:`read_snapshot`): on SQLite its
# transaction begins deferred, a WAL snapshot that takes no write lock, so a long read (an
# export streaming for seconds) never holds back the writers.
READ_ONLY = "loadline_read_only"


@asynccontextmanager
async def read_snapshot(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session of its own that only reads, and sees one snapshot of the database from
    its first statement to its end: every file of an export agrees with the others although
    writes go on meanwhile. PostgreSQL: a ``REPEATABLE READ, READ ONLY`` transaction;
    SQLite: a deferred transaction (WAL gives it a snapshot without taking the write lock).

    Never committed: whatever it is, it ends rolled back when the block is left. A
    sessionmaker bound to a connection (the tests' transaction that is rolled back) is
    joined as it is, in that transaction's own snapshot.
    """
    bind = sessionmaker.kw.get("bind")
    async with sessionmaker() as db:
        if isinstance(bind, AsyncEngine):
            if bind.dialect.name == "postgresql":
                options: dict[str, Any] = {
                    "isolation_level": "REPEATABLE READ",
                    "postgresql_readonly": True,
                }
            else:
                options = {READ_ONLY: True}
            await db.connection(execution_options=options)
        yield db


# Set in the ASGI scope of a request that is run only to be judged (an idempotent replay,
# authorised again under today's rules): its transaction is rolled back, never committed.
DRY_RUN = "loadline.dry_run"


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed before the response, rolled back on error
    (and always for a dry run, see :data:`DRY_RUN`)."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as db:
        try:
            yield db
        except BaseException:
            await db.rollback()
            raise
        if request.scope.get(DRY_RUN):
            await db.rollback()
        else:
            await db.commit()


Db = Annotated[AsyncSession, Depends(get_db, scope="function")]


def dialect_name(db: AsyncSession) -> str:
    return db.get_bind().dialect.name


def dialect_insert(db: AsyncSession, model: type[Base]) -> Any:
    """The dialect's ``insert`` (PostgreSQL's or SQLite's), which knows ``ON CONFLICT``."""
    return insert_for(dialect_name(db), model)


def insert_for(dialect: str, target: Any) -> Any:
    """``insert(target)`` of the named dialect, for statements built once per dialect."""
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(target)


@functools.cache
def _upsert_statement(
    dialect: str,
    model: type[Base],
    conflict: tuple[str, ...],
    update: tuple[str, ...],
    *,
    table_only: bool,
) -> Insert:
    """``INSERT ... ON CONFLICT DO UPDATE`` without values, built once per shape.

    Building it costs more than running it (the ``excluded`` alias copies every column of
    the table, and a new statement needs a new cache key), so the values come as execution
    parameters and the statement is reused. ``table_only``: a Core statement on the table,
    for many rows without ORM objects (one ``executemany``).
    """
    stmt = insert_for(dialect, model.__table__ if table_only else model)
    result: Insert = stmt.on_conflict_do_update(
        index_elements=list(conflict),
        set_={name: stmt.excluded[name] for name in update},
    )
    return result


@functools.cache
def _upsert_returning(
    dialect: str, model: type[Base], conflict: tuple[str, ...], update: tuple[str, ...]
) -> Insert:
    """The upsert returning the stored row; on PostgreSQL also whether it was created
    (``xmax = 0`` only on a row this statement inserted)."""
    stmt = _upsert_statement(dialect, model, conflict, update, table_only=False)
    if dialect == "postgresql":
        return stmt.returning(model, literal_column("xmax = 0"))
    return stmt.returning(model)


async def upsert(
    db: AsyncSession,
    model: type[Base],
    rows: Sequence[Mapping[str, Any]],
    *,
    conflict: Iterable[str],
    update: Iterable[str],
) -> None:
    """Insert or update ``rows`` (all with the same keys) for PostgreSQL and SQLite alike."""
    if not rows:
        return
    stmt = _upsert_statement(
        dialect_name(db), model, tuple(conflict), tuple(update), table_only=True
    )
    await db.execute(stmt, list(rows))


async def upsert_one(
    db: AsyncSession,
    model: type[M],
    values: Mapping[str, Any],
    *,
    conflict: Sequence[str],
    update: Iterable[str],
) -> tuple[M, bool]:
    """Insert or update one row; returns it as stored (an ORM object, refreshed from the
    statement's ``RETURNING``, no second read) and whether it was created.

    Safe under concurrency: PostgreSQL resolves the race in ``ON CONFLICT`` and reports
    creation through ``xmax = 0``; SQLite transactions already hold the write lock, so
    looking first cannot race.
    """
    dialect = dialect_name(db)
    stmt = _upsert_returning(dialect, model, tuple(conflict), tuple(update))
    refresh = {"populate_existing": True}
    if dialect == "postgresql":
        row = await db.execute(stmt, dict(values), execution_options=refresh)
        stored, is_new = row.one()
        return stored, bool(is_new)
    table = model.__table__
    match = [table.c[name] == values[name] for name in conflict]
    existing = await db.scalar(select(table.c.id).where(*match))
    stored = (await db.scalars(stmt, dict(values), execution_options=refresh)).one()
    return stored, existing is None


# --- Lock order -------------------------------------------------------------------------
# Every write path takes its locks in this order, and none takes an earlier one after a
# later one (that is how two writers deadlock: PostgreSQL then aborts one, a 503):
#   1. the training session's row (FOR SHARE by entry writers, FOR UPDATE by a move or a
#      delete of the session), see ``sessions.lock_for_write``;
#   2. the team's advisory lock (shared by load writers; exclusive by a time-zone change,
#      which takes the team's session rows first, in id order, per rule 1);
#   3. the (member, day slot) advisory locks, in slot order, all in one statement;
#   4. only then the rows that hold loads: sRPE, attendance, external loads, daily loads
#      (an upsert or a DELETE locks its row, so it must come after the advisory locks).
# ``lock_member_days`` takes 2 and 3 together.


def _team_lock_key(team_id: int) -> int:
    """A bigint advisory key per team (the one-key space never meets the two-key one)."""
    return (0x4C4C << 32) | team_id


async def lock_team(db: AsyncSession, team_id: int, *, exclusive: bool) -> None:
    """Every load writer holds its team's lock shared; re-dating a whole team holds it
    exclusively, so a time-zone change never overwrites a concurrent writer's totals."""
    if dialect_name(db) != "postgresql":
        return
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    await db.execute(text(f"SELECT {function}(:key)"), {"key": _team_lock_key(team_id)})


# Member-day locks are taken by day of the year modulo this: a bulk import of a year of one
# member's days then holds 16 locks, not 365. PostgreSQL's lock table is shared and fixed
# in size (max_locks_per_transaction x connections); running it out fails every other
# transaction. Two writers of days 16 apart take turns, which costs them microseconds.
MEMBER_DAY_LOCK_SLOTS = 16
# The team's lock (shared) first, then the slots: the slots' locks are taken on rows of
# the join, which cannot produce a row before the materialised team lock has been taken.
_MEMBER_DAY_LOCKS = text(
    "WITH team AS MATERIALIZED (SELECT pg_advisory_xact_lock_shared(:team) AS held) "
    "SELECT count(pg_advisory_xact_lock(:member, slot)) "
    "FROM team, unnest(CAST(:slots AS integer[])) AS slot"
)


def member_day_slots(days: Iterable[date]) -> list[int]:
    """The lock slots of these days, sorted so that two writers cannot deadlock on them."""
    return sorted({day.toordinal() % MEMBER_DAY_LOCK_SLOTS for day in days})


async def lock_member_days(
    db: AsyncSession, team_id: int, membership_id: int, days: Iterable[date]
) -> None:
    """Serialise writers of one member's days until this transaction ends.

    PostgreSQL: the team's lock shared, then transaction-level advisory locks on the
    (member, day slot) pairs, all in one statement and in sorted order so that two writers
    touching the same days cannot deadlock. Taking them again in the same transaction is
    free. SQLite: every transaction already holds the database's write lock (BEGIN
    IMMEDIATE).
    """
    if dialect_name(db) != "postgresql":
        return
    slots = member_day_slots(days)
    if not slots:
        await lock_team(db, team_id, exclusive=False)
        return
    params = {"team": _team_lock_key(team_id), "member": membership_id, "slots": slots}
    await db.execute(_MEMBER_DAY_LOCKS, params)


def _alembic_ini() -> Path:
    """The source checkout's ``alembic.ini``; in an installed image, the one in the work dir."""
    beside_source = Path(__file__).resolve().parent.parent / "alembic.ini"
    return beside_source if beside_source.exists() else Path.cwd() / "alembic.ini"


async def migrate(url: str, revision: str = "head") -> None:
    """Apply Alembic migrations to ``url`` up to ``revision`` (``loadline db upgrade``)."""
    config = Config(str(_alembic_ini()))
    config.attributes["configure_logger"] = False
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            config.attributes["connection"] = connection
            await connection.run_sync(lambda _: command.upgrade(config, revision))
    finally:
        await engine.dispose()
