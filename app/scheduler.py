"""Background jobs: keep ACWR current, advance every team at its local midnight, tidy up.

APScheduler runs them in the API process (``LOADLINE_SCHEDULER=on``, the single-node
default) or alone in ``loadline worker``. Each job owns its transactions and, on
PostgreSQL, holds an advisory lock while it runs, so two processes never run the same
job at once: the second one skips that run. On shutdown (``Scheduler.stop``) no job starts
any more and the running ones end at their next stopping point (between teams or steps),
so a SIGTERM neither cuts a team's recompute in half nor waits for every team.
"""

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.models import Team
from app.services.acwr import jobs as acwr_jobs
from app.services.alerts import jobs as alerts
from app.services.coach import jobs as coach_jobs
from app.services.email import jobs as email_jobs
from app.services.integrations import jobs as integration_jobs
from app.services.integrations import oauth, registry
from app.services.integrations.context import VendorContext
from app.services.outbound import jobs as outbound_jobs
from app.services.platform import idempotency, metrics
from app.services.reminders import jobs as reminder_jobs

logger = logging.getLogger("loadline.jobs")
Job = Callable[[], Awaitable[None]]


@asynccontextmanager
async def job_lock(engine: AsyncEngine, name: str) -> AsyncIterator[bool]:
    """Yield whether this process may run job ``name`` now.

    PostgreSQL: a transaction-level advisory lock (``pg_try_advisory_xact_lock``) in a
    transaction kept open on its own connection for the whole run; the lock ends with that
    transaction, at its commit or when the connection dies. This is what PgBouncer's
    transaction pooling can carry: the server connection stays with this client while the
    transaction is open, and no lock can be left on a pooled connection for another client
    to inherit, as a session-level lock whose unlock was missed would be. The transaction
    only ran a ``SELECT``, so it holds no snapshot that would keep VACUUM back; a server
    ``idle_in_transaction_session_timeout`` must exceed the longest job, though.
    SQLite serves one process only.
    """
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = int.from_bytes(
        hashlib.sha256(f"loadline:{name}".encode()).digest()[:8], "big", signed=True
    )
    async with engine.connect() as connection, connection.begin():
        lock = text("SELECT pg_try_advisory_xact_lock(:k)")
        yield bool(await connection.scalar(lock, {"k": key}))


async def purge_idempotency_keys(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker.begin() as db:
        return await idempotency.purge_expired(db)


async def purge_spent_states(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Spent OAuth states past their expiry: a handful per athlete linking, so hourly will do."""
    async with sessionmaker.begin() as db:
        return await oauth.purge_spent_states(db)


class Scheduler:
    """The jobs, wired to one engine. ``start()`` and ``shutdown()`` bracket its life."""

    def __init__(
        self,
        engine: AsyncEngine,
        sessionmaker: async_sessionmaker[AsyncSession],
        vendors: VendorContext,
    ) -> None:
        self.engine = engine
        self.sessionmaker = sessionmaker
        self.vendors = vendors
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self.stopping = False
        self._shut_down = False
        self._running: set[asyncio.Task[object]] = set()

    def start(self) -> None:
        add = self.scheduler.add_job
        add(
            self._locked("acwr.dirty", self._dirty),
            IntervalTrigger(minutes=1),
            id="acwr.dirty",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now().astimezone(),
        )
        add(
            self._locked("teams.sync", self.sync_team_jobs),
            IntervalTrigger(minutes=5),
            id="teams.sync",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now().astimezone(),
        )
        add(
            self._locked("inbox.process", self._inbox),
            IntervalTrigger(seconds=15),
            id="inbox.process",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now().astimezone(),
        )
        add(
            self._locked("outbound.deliver", self._outbound),
            IntervalTrigger(seconds=15),
            id="outbound.deliver",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now().astimezone(),
        )
        add(
            self._locked("email.deliver", self._email),
            IntervalTrigger(seconds=15),
            id="email.deliver",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now().astimezone(),
        )
        add(
            self._locked("reminders.send", self._reminders),
            IntervalTrigger(minutes=1),
            id="reminders.send",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now().astimezone(),
        )
        for vendor_job in registry.daily_jobs():  # Oura's webhook subscriptions
            add(
                self._locked(vendor_job.id, vendor_job.bound(self.vendors)),
                IntervalTrigger(days=1),
                id=vendor_job.id,
                max_instances=1,
                coalesce=True,
                next_run_time=datetime.now().astimezone(),
            )
        add(
            self._locked("idempotency.purge", self._purge),
            IntervalTrigger(hours=1),
            id="idempotency.purge",
            max_instances=1,
            coalesce=True,
        )
        metrics.watch_jobs(self.scheduler)
        self.scheduler.start()
        logger.info('{"event": "scheduler_started"}')

    def shutdown(self) -> None:
        """Stop at once: APScheduler cancels the running jobs (their transactions roll back).
        Idempotent: AsyncIOScheduler stops on the loop's next turn, and ``running`` stays
        true until then, so a second call must not queue a second shutdown."""
        if self.scheduler.running and not self._shut_down:
            self._shut_down = True
            self.scheduler.shutdown(wait=False)

    async def stop(self, grace: float) -> None:
        """Stop gracefully: no job starts any more, the running ones see ``stopping`` and end
        at their next stopping point; those still running after ``grace`` seconds are
        cancelled, which rolls back only their current transaction."""
        self.stopping = True
        if self.scheduler.running:
            self.scheduler.pause()
        running = [task for task in self._running if not task.done()]
        if running:
            _, late = await asyncio.wait(running, timeout=grace)
            if late:
                logger.warning('{"event": "jobs_cancelled", "count": %d}', len(late))
                for task in late:
                    task.cancel()
                await asyncio.wait(late, timeout=5)  # their rollbacks, before the engine goes
        self.shutdown()
        logger.info('{"event": "scheduler_stopped"}')

    async def sync_team_jobs(self) -> None:
        """One midnight job per team, in the team's zone; new teams and zone changes follow."""
        async with self.sessionmaker() as db:
            teams = (await db.execute(select(Team.id, Team.timezone))).all()
        for team_id, zone in teams:
            job_id = f"acwr.advance.{team_id}"
            trigger = CronTrigger(hour=0, minute=0, second=30, timezone=zone)
            existing = self.scheduler.get_job(job_id)
            if existing is not None and str(existing.trigger.timezone) == zone:
                continue
            self.scheduler.add_job(
                self._locked(job_id, self._advance(team_id)),
                trigger,
                id=job_id,
                replace_existing=True,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=3600,
            )

    def _locked(self, name: str, job: Job) -> Job:
        async def run() -> None:
            task = asyncio.current_task()
            if self.stopping or task is None:
                return
            self._running.add(task)
            try:
                async with job_lock(self.engine, name) as mine:
                    if not mine:
                        logger.info('{"event": "job_skipped", "job": "%s"}', name)
                        return
                    try:
                        await job()
                    except Exception:
                        logger.exception('{"event": "job_failed", "job": "%s"}', name)
                        raise  # so APScheduler reports EVENT_JOB_ERROR (job metrics)
            finally:
                self._running.discard(task)

        return run

    def _stop_requested(self) -> bool:
        return self.stopping

    async def _dirty(self) -> None:
        computed = await acwr_jobs.recompute_dirty(self.sessionmaker, stop=self._stop_requested)
        if computed:
            logger.info('{"event": "acwr_recomputed", "athlete_days": %d}', computed)
        if self.stopping:
            return
        # Right after the refresh, so ACWR alerts follow a write within a minute.
        raised = await alerts.raise_due_alerts(self.sessionmaker)
        if raised:
            logger.info('{"event": "alerts_raised", "count": %d}', raised)
        if self.stopping:
            return
        await coach_jobs.track_status_changes(self.sessionmaker, stop=self._stop_requested)

    def _advance(self, team_id: int) -> Job:
        async def run() -> None:
            computed = await acwr_jobs.advance_team(self.sessionmaker, team_id)
            logger.info(
                '{"event": "team_advanced", "team_id": %d, "athlete_days": %d}', team_id, computed
            )

        return run

    async def _inbox(self) -> None:
        """Vendor events: refresh the tokens they will need (committed on their own, since
        vendors rotate refresh tokens), then process what is due."""
        await integration_jobs.refresh_for_inbox(self.sessionmaker, self.vendors)
        if self.stopping:
            return
        await integration_jobs.process_due(
            self.sessionmaker, registry.inbox_handlers(self.vendors), stop=self._stop_requested
        )

    async def _outbound(self) -> None:
        await outbound_jobs.deliver_due(
            self.sessionmaker,
            self.vendors.http,
            self.vendors.settings,
            stop=self._stop_requested,
        )

    async def _email(self) -> None:
        await email_jobs.deliver_due(
            self.sessionmaker, self.vendors.settings, stop=self._stop_requested
        )

    async def _reminders(self) -> None:
        """Wellness and sRPE reminders; a run that was late or missed catches up (due.py)."""
        postgresql = self.engine.dialect.name == "postgresql"
        await reminder_jobs.send_due(
            self.sessionmaker,
            self.vendors.settings,
            stop=self._stop_requested,
            concurrency=reminder_jobs.POSTGRESQL_CONCURRENCY if postgresql else 1,
        )

    async def _purge(self) -> None:
        """The hourly tidy-up (job ``idempotency.purge``, its name kept for its metrics),
        which also forgets sent and failed emails after 30 days."""
        await purge_idempotency_keys(self.sessionmaker)
        await purge_spent_states(self.sessionmaker)
        await email_jobs.purge_old(self.sessionmaker)
