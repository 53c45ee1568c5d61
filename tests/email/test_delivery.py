"""Email delivery from the outbox, judged by what a real SMTP server (aiosmtpd) received."""

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.cli import email_test
from app.config import Settings
from app.models import EmailMessage, EmailStatus
from app.models.base import utcnow
from app.services.email import delivery, jobs, outbox
from tests.fixtures.databases import BACKEND
from tests.fixtures.smtp import MailServer

Maker = async_sessionmaker[AsyncSession]
MARKER = "https://club.test/marker-7f3a"  # appears in the body only
CONTEXT = {"base_url": MARKER, "server": "the test server", "sent_at": "today"}


async def enqueue(maker: Maker, settings: Settings, to: str = "coach@club.test") -> None:
    async with maker.begin() as db:
        assert await outbox.enqueue(
            db, settings, template="email_check", to=to, context=CONTEXT, user_id=None
        )


async def messages(maker: Maker) -> list[EmailMessage]:
    async with maker() as db:
        return list(await db.scalars(select(EmailMessage).order_by(EmailMessage.id)))


async def only_message(maker: Maker) -> EmailMessage:
    (message,) = await messages(maker)
    return message


def body_of(received: object, subtype: str) -> str:
    part = received.get_body(preferencelist=(subtype,))  # type: ignore[attr-defined]
    assert part is not None and part.get_content_type() == f"text/{subtype}"
    content: str = part.get_content()
    return content


async def test_an_email_arrives_with_text_and_html(
    sessionmaker: Maker, settings: Settings, smtp_server: MailServer
) -> None:
    config = smtp_server.settings(settings)
    await enqueue(sessionmaker, config)

    assert await jobs.deliver_due(sessionmaker, config) == 1

    (received,) = smtp_server.received
    assert received["From"] == "Loadline <loadline@club.test>"
    assert received["To"] == "coach@club.test"
    assert received["Subject"] == "Loadline test email"
    assert received["Message-ID"].endswith("@club.test>")
    assert received["Date"] is not None
    assert received.get_content_type() == "multipart/alternative"
    assert "This is a test email from Loadline" in body_of(received, "plain")
    assert f'<a href="{MARKER}">' in body_of(received, "html")
    assert smtp_server.recipients == [["coach@club.test"]]
    message = await only_message(sessionmaker)
    assert message.status == EmailStatus.SENT
    assert message.sent_at is not None and message.attempts == 1
    assert await jobs.deliver_due(sessionmaker, config) == 0  # sent once only
    assert len(smtp_server.received) == 1


async def test_the_url_credentials_are_used_url_decoded(
    sessionmaker: Maker, settings: Settings, start_smtp: Callable[..., MailServer]
) -> None:
    mail = start_smtp(auth=("mailer@club.test", "p@ss:w/rd%"))
    config = mail.settings(settings)
    assert "p%40ss%3Aw%2Frd%25" in config.smtp_url
    await enqueue(sessionmaker, config)

    assert await jobs.deliver_due(sessionmaker, config) == 1

    assert mail.logins == ["mailer@club.test"]
    assert len(mail.received) == 1


async def test_a_wrong_password_is_retried_and_never_stored(
    sessionmaker: Maker, settings: Settings, start_smtp: Callable[..., MailServer]
) -> None:
    mail = start_smtp(auth=("mailer", "right-password"))
    config = settings.model_copy(
        update={"smtp_url": f"smtp://mailer:wrong-password@127.0.0.1:{mail.port}"}
    )
    await enqueue(sessionmaker, config)

    assert await jobs.deliver_due(sessionmaker, config) == 0

    message = await only_message(sessionmaker)
    assert message.status == EmailStatus.PENDING  # IT fixes the setting, then it goes out
    assert message.last_error == "authentication refused: 535"
    assert mail.received == []


async def test_a_server_that_is_down_is_retried_until_it_is_back(
    sessionmaker: Maker, settings: Settings, smtp_server: MailServer
) -> None:
    config = smtp_server.settings(settings)
    smtp_server.stop()
    await enqueue(sessionmaker, config)
    start = utcnow()

    assert await jobs.deliver_due(sessionmaker, config, now=start) == 0
    message = await only_message(sessionmaker)
    assert message.status == EmailStatus.PENDING and message.attempts == 1
    assert message.next_attempt_at == start + timedelta(minutes=1)
    assert message.last_error and "connect" in message.last_error.lower()
    assert await jobs.deliver_due(sessionmaker, config, now=start + timedelta(seconds=59)) == 0
    assert (await only_message(sessionmaker)).attempts == 1  # not due: not tried

    second = start + timedelta(minutes=1)
    assert await jobs.deliver_due(sessionmaker, config, now=second) == 0
    assert (await only_message(sessionmaker)).next_attempt_at == second + timedelta(minutes=2)

    smtp_server.start()
    assert await jobs.deliver_due(sessionmaker, config, now=second + timedelta(minutes=2)) == 1
    assert [m["To"] for m in smtp_server.received] == ["coach@club.test"]
    message = await only_message(sessionmaker)
    assert message.status == EmailStatus.SENT and message.attempts == 3


async def test_it_gives_up_after_the_last_attempt(
    sessionmaker: Maker, settings: Settings, smtp_server: MailServer
) -> None:
    config = smtp_server.settings(settings, email_max_attempts=3)
    smtp_server.stop()
    await enqueue(sessionmaker, config)
    moment = utcnow()
    waits = []
    for _ in range(3):
        assert await jobs.deliver_due(sessionmaker, config, now=moment) == 0
        message = await only_message(sessionmaker)
        waits.append(message.next_attempt_at - moment)
        moment = message.next_attempt_at

    assert waits[:2] == [timedelta(minutes=1), timedelta(minutes=2)]
    message = await only_message(sessionmaker)
    assert message.status == EmailStatus.FAILED and message.attempts == 3
    assert message.payload is None
    smtp_server.start()
    assert await jobs.deliver_due(sessionmaker, config, now=moment + timedelta(hours=2)) == 0
    assert smtp_server.received == []


def test_the_wait_doubles_from_a_minute_up_to_an_hour() -> None:
    minutes = [jobs.backoff(n) / timedelta(minutes=1) for n in range(1, 10)]
    assert minutes == [1, 2, 4, 8, 16, 32, 60, 60, 60]


async def test_a_refused_recipient_fails_at_once_and_is_not_retried(
    sessionmaker: Maker, settings: Settings, smtp_server: MailServer
) -> None:
    config = smtp_server.settings(settings)
    smtp_server.refuse = {"gone@club.test"}
    await enqueue(sessionmaker, config, to="gone@club.test")

    assert await jobs.deliver_due(sessionmaker, config) == 0

    message = await only_message(sessionmaker)
    assert message.status == EmailStatus.FAILED and message.attempts == 1
    assert message.payload is None
    assert message.last_error is not None and "550" in message.last_error
    assert "gone@club.test" not in message.last_error  # no address kept in the row
    assert await jobs.deliver_due(sessionmaker, config, now=utcnow() + timedelta(days=1)) == 0
    assert smtp_server.received == []


async def test_a_server_that_does_not_answer_in_time_is_retried(
    sessionmaker: Maker,
    settings: Settings,
    smtp_server: MailServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(delivery, "STEP_TIMEOUT", 0.5)
    config = smtp_server.settings(settings)
    await enqueue(sessionmaker, config)
    smtp_server.stall()
    try:
        assert await jobs.deliver_due(sessionmaker, config) == 0
    finally:
        smtp_server.release()
    message = await only_message(sessionmaker)
    assert message.status == EmailStatus.PENDING and message.attempts == 1
    assert message.last_error == f"no answer from 127.0.0.1:{smtp_server.port} in time"


async def test_a_rolled_back_transaction_sends_nothing(
    committed_db: Maker, settings: Settings, smtp_server: MailServer
) -> None:
    config = smtp_server.settings(settings)
    with pytest.raises(RuntimeError):
        async with committed_db.begin() as db:
            await outbox.enqueue(
                db,
                config,
                template="email_check",
                to="coach@club.test",
                context=CONTEXT,
                user_id=None,
            )
            raise RuntimeError("the request failed after deciding to send")

    assert await jobs.deliver_due(committed_db, config) == 0
    assert smtp_server.received == []
    assert await messages(committed_db) == []


async def test_the_payload_is_encrypted_at_rest_and_cleared_once_sent(
    sessionmaker: Maker, settings: Settings, smtp_server: MailServer
) -> None:
    config = smtp_server.settings(settings)
    await enqueue(sessionmaker, config)
    raw = EmailMessage.__table__.c.payload
    async with sessionmaker() as db:
        stored = await db.scalar(select(raw))
    assert stored is not None
    for plain in (MARKER, "coach@club.test", "Loadline test email", "This is a test"):
        assert plain.encode() not in stored

    assert await jobs.deliver_due(sessionmaker, config) == 1

    async with sessionmaker() as db:
        assert await db.scalar(select(raw)) is None


async def test_the_console_backend_prints_the_email(
    sessionmaker: Maker,
    settings: Settings,
    smtp_server: MailServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = smtp_server.settings(settings, email_backend="console")
    await enqueue(sessionmaker, config)

    assert await jobs.deliver_due(sessionmaker, config) == 1

    out = capsys.readouterr().out
    assert "To: coach@club.test" in out
    assert "Subject: Loadline test email" in out
    assert f"This is a test email from Loadline at {MARKER}" in out
    assert smtp_server.received == []  # printed instead
    assert (await only_message(sessionmaker)).status == EmailStatus.SENT


async def test_with_email_off_the_outbox_is_left_alone(
    sessionmaker: Maker, settings: Settings, smtp_server: MailServer
) -> None:
    config = smtp_server.settings(settings)
    await enqueue(sessionmaker, config)
    off = config.model_copy(update={"email_backend": "none"})

    assert await jobs.deliver_due(sessionmaker, off) == 0

    assert (await only_message(sessionmaker)).status == EmailStatus.PENDING
    assert smtp_server.received == []


async def test_a_crashed_workers_claim_expires(
    sessionmaker: Maker, settings: Settings, smtp_server: MailServer
) -> None:
    config = smtp_server.settings(settings)
    await enqueue(sessionmaker, config)
    now = utcnow()
    async with sessionmaker.begin() as db:  # what a worker that died mid-send leaves
        await db.execute(update(EmailMessage).values(locked_until=now + jobs.LEASE))

    assert await jobs.deliver_due(sessionmaker, config, now=now) == 0
    assert smtp_server.received == []
    assert await jobs.deliver_due(sessionmaker, config, now=now + jobs.LEASE) == 1
    assert len(smtp_server.received) == 1


async def test_sent_and_failed_emails_are_forgotten_after_30_days(
    sessionmaker: Maker, settings: Settings, smtp_server: MailServer
) -> None:
    config = smtp_server.settings(settings)
    for to in ("old@club.test", "refused@club.test", "waiting@club.test", "new@club.test"):
        await enqueue(sessionmaker, config, to=to)
    old, refused, waiting, new = await messages(sessionmaker)
    smtp_server.refuse = {"refused@club.test"}
    async with sessionmaker.begin() as db:  # not due yet: stays pending
        await db.execute(
            update(EmailMessage)
            .where(EmailMessage.id == waiting.id)
            .values(next_attempt_at=utcnow() + timedelta(hours=1))
        )
    assert await jobs.deliver_due(sessionmaker, config) == 2
    async with sessionmaker.begin() as db:
        await db.execute(
            update(EmailMessage)
            .where(EmailMessage.id.in_([old.id, refused.id, waiting.id]))
            .values(created_at=utcnow() - timedelta(days=31))
        )

    assert await jobs.purge_old(sessionmaker) == 2

    assert [m.id for m in await messages(sessionmaker)] == [waiting.id, new.id]


def test_smtp_urls_are_read_with_their_credentials_decoded() -> None:
    server = delivery.smtp_server("smtps://it%40club.test:s3cr%3At@mail.club.test")
    assert (server.hostname, server.port, server.implicit_tls) == ("mail.club.test", 465, True)
    assert (server.username, server.password) == ("it@club.test", "s3cr:t")
    assert "s3cr" not in repr(server)
    plain = delivery.smtp_server("smtp://mail.club.test")
    assert (plain.port, plain.implicit_tls, plain.username) == (587, False, None)
    with pytest.raises(delivery.TemporaryFailure, match="smtp://host:port"):
        delivery.smtp_server("http://secret@mail.club.test")


# --- Workers and transactions (real commits) ----------------------------------------------


async def _wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


async def test_no_transaction_is_open_while_the_server_stalls(
    committed_db: Maker, settings: Settings, smtp_server: MailServer
) -> None:
    config = smtp_server.settings(settings)
    await enqueue(committed_db, config)
    claimed = await only_message(committed_db)
    smtp_server.stall()
    worker = asyncio.create_task(jobs.deliver_due(committed_db, config))
    try:
        await _wait_until(lambda: smtp_server.receiving == 1)
        async with committed_db.begin() as db:
            if BACKEND == "postgresql":
                idle = await db.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                        "current_database() AND pid <> pg_backend_pid() "
                        "AND state LIKE 'idle in transaction%'"
                    )
                )
                assert idle == 0
            # The row being sent is neither locked nor behind an open write: it can be
            # changed at once (a held lock would make this wait for the stalled server).
            message = await asyncio.wait_for(
                db.get(EmailMessage, claimed.id, with_for_update=True), timeout=5
            )
            assert message is not None and message.locked_until is not None  # claimed
    finally:
        smtp_server.release()
    assert await worker == 1
    assert len(smtp_server.received) == 1


async def test_two_workers_at_once_send_each_email_once(
    committed_db: Maker, settings: Settings, smtp_server: MailServer
) -> None:
    config = smtp_server.settings(settings)
    addresses = [f"player{n}@club.test" for n in range(8)]
    for address in addresses:
        await enqueue(committed_db, config, to=address)
    smtp_server.delay = 0.2

    counts = await asyncio.gather(
        jobs.deliver_due(committed_db, config), jobs.deliver_due(committed_db, config)
    )

    assert sum(counts) == 8
    assert all(count > 0 for count in counts), counts  # both worked, side by side
    assert sorted(m["To"] for m in smtp_server.received) == sorted(addresses)
    assert {m.status for m in await messages(committed_db)} == {EmailStatus.SENT}


# --- loadline email test -------------------------------------------------------------------


def _url_of(maker: Maker) -> str:
    bind = maker.kw["bind"]
    url: str = bind.url.render_as_string(hide_password=False)
    return url


async def test_the_email_test_command_sends_and_says_so(
    committed_db: Maker,
    settings: Settings,
    start_smtp: Callable[..., MailServer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    mail = start_smtp(auth=("mailer", "hunter2-secret"))
    config = mail.settings(settings, database_url=_url_of(committed_db))

    assert await email_test(config, "it@club.test") == 0

    out = capsys.readouterr().out
    assert out.startswith("Sent to it@club.test through 127.0.0.1:")
    assert "hunter2-secret" not in out
    (received,) = mail.received
    assert received["Subject"] == "Loadline test email"
    assert "hunter2-secret" not in body_of(received, "plain")
    assert (await only_message(committed_db)).status == EmailStatus.SENT


async def test_the_email_test_command_reports_a_server_that_is_down(
    committed_db: Maker,
    settings: Settings,
    smtp_server: MailServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = smtp_server.settings(settings, database_url=_url_of(committed_db))
    smtp_server.stop()

    assert await email_test(config, "it@club.test") == 1

    out = capsys.readouterr().out
    assert out.startswith(f"Not sent through 127.0.0.1:{smtp_server.port}")
    assert "worker tries again" in out
    assert (await only_message(committed_db)).status == EmailStatus.PENDING


async def test_the_email_test_command_with_email_off(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await email_test(settings, "it@club.test") == 1
    assert "Email is off" in capsys.readouterr().out
