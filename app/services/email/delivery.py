"""Sending one rendered email: through SMTP with aiosmtplib, or printed (the console backend).

``LOADLINE_SMTP_URL`` says where: ``smtp://user:password@host:587`` upgrades with STARTTLS
when the server offers it, ``smtps://user:password@host:465`` speaks TLS from the start;
user and password are URL-decoded (a ``@`` in a password is ``%40``). A failure is
:class:`TemporaryFailure` (the server is down, slow, or answers 4xx: try again later) or
:class:`PermanentFailure` (the server refused the message or its recipient with a 5xx:
sending it again would be refused again). Their text is short and never carries the
password or the message: it is stored in ``email_messages.last_error`` and logged.
"""

import asyncio
import email.message
import email.utils
import sys
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote, urlsplit

import aiosmtplib

from app.config import Settings
from app.services.email.outbox import Email

# Each SMTP step (connect, a command, the upload) gets this long; the whole conversation
# at most SEND_TIMEOUT, which stays well under the job's claim on a message.
STEP_TIMEOUT = 20.0
SEND_TIMEOUT = 60.0
ERROR_LENGTH = 200


class DeliveryFailed(Exception):
    """The email was not sent; ``str()`` is a short reason without secrets."""


class TemporaryFailure(DeliveryFailed):
    """Worth another try later: no answer, a timeout, a 4xx, or our own configuration."""


class PermanentFailure(DeliveryFailed):
    """Refused for good (a 5xx for the message or its recipient): never retried."""


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to connect, read from ``LOADLINE_SMTP_URL``."""

    hostname: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool

    def __repr__(self) -> str:  # never the password, also not in a traceback's locals
        scheme = "smtps" if self.implicit_tls else "smtp"
        user = f"{self.username}@" if self.username else ""
        return f"SmtpServer({scheme}://{user}{self.hostname}:{self.port})"


def smtp_server(url: str) -> SmtpServer:
    """Parse ``smtp://`` or ``smtps://`` URLs; a malformed one is a :class:`TemporaryFailure`
    (IT fixes the setting, then the outbox goes out), and its text names no password."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise TemporaryFailure("LOADLINE_SMTP_URL is not a valid URL") from None
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise TemporaryFailure("LOADLINE_SMTP_URL must be smtp://host:port or smtps://host:port")
    implicit_tls = parts.scheme == "smtps"
    return SmtpServer(
        hostname=parts.hostname,
        port=port or (465 if implicit_tls else 587),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        implicit_tls=implicit_tls,
    )


def describe(settings: Settings) -> str:
    """Where emails go, for people to read: never the password."""
    if settings.email_delivery != "smtp":
        return f"the {settings.email_delivery} backend"
    try:
        server = smtp_server(settings.smtp_url)
    except TemporaryFailure as exc:
        return str(exc)
    tls = "TLS" if server.implicit_tls else "STARTTLS when offered"
    user = f" as {server.username}" if server.username else ""
    return f"{server.hostname}:{server.port} ({tls}){user}"


def message_id(settings: Settings, key: str) -> str:
    """A Message-ID that stays the same for every attempt at one outbox row (``key``), so
    a receiver can drop a duplicate if a worker died between sending and recording it."""
    _, address = email.utils.parseaddr(settings.email_from)
    domain = address.rpartition("@")[2] or "localhost"
    return f"<loadline.{key}@{domain}>"


def build(
    settings: Settings, mail: Email, *, msg_id: str, date: datetime
) -> email.message.EmailMessage:
    """multipart/alternative: the plain text first, the HTML as the preferred part."""
    message = email.message.EmailMessage()
    message["From"] = settings.email_from
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = email.utils.format_datetime(date)
    message["Message-ID"] = msg_id
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


async def send(settings: Settings, mail: Email, *, msg_id: str, date: datetime) -> None:
    """Send ``mail`` the way ``settings.email_delivery`` says (``none`` sends nothing).
    Raises :class:`TemporaryFailure` or :class:`PermanentFailure`."""
    if settings.email_delivery == "console":
        print_email(mail)
        return
    if settings.email_delivery != "smtp":
        return
    server = smtp_server(settings.smtp_url)
    try:
        message = build(settings, mail, msg_id=msg_id, date=date)
    except ValueError:  # e.g. a line break in an address: it will never be sendable
        raise PermanentFailure("not a valid email: a header is malformed") from None
    try:
        async with asyncio.timeout(SEND_TIMEOUT):
            await aiosmtplib.send(
                message,
                hostname=server.hostname,
                port=server.port,
                username=server.username,
                password=server.password,
                use_tls=server.implicit_tls,
                start_tls=False if server.implicit_tls else None,
                timeout=STEP_TIMEOUT,
            )
    except TimeoutError:
        raise TemporaryFailure(f"no answer from {server.hostname}:{server.port} in time") from None
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [refused.code for refused in exc.recipients]
        first = exc.recipients[0] if exc.recipients else None
        text = _short(
            f"recipient refused: {first.code} {first.message}" if first else "recipient refused",
            mail,
        )
        if codes and all(400 <= code < 500 for code in codes):
            raise TemporaryFailure(text) from None
        raise PermanentFailure(text) from None
    except aiosmtplib.SMTPAuthenticationError as exc:
        # Our credentials, not the message: once IT fixes them, the outbox goes out.
        raise TemporaryFailure(f"authentication refused: {exc.code}") from None
    except aiosmtplib.SMTPResponseException as exc:
        text = _short(f"{type(exc).__name__}: {exc.code} {exc.message}", mail)
        if 500 <= exc.code < 600:
            raise PermanentFailure(text) from None
        raise TemporaryFailure(text) from None
    except (aiosmtplib.SMTPException, OSError) as exc:
        # Connection refused or dropped, TLS failures, AUTH not offered: try again later.
        raise TemporaryFailure(_short(f"{type(exc).__name__}: {exc}", mail)) from None


def print_email(mail: Email) -> None:
    """The console backend (``make run``): what a developer needs to follow a link in it."""
    sys.stdout.write(
        f"--- email ---\nTo: {mail.to}\nSubject: {mail.subject}\n\n{mail.text.rstrip()}\n"
        "--- end of email ---\n"
    )
    sys.stdout.flush()


def _short(text: str, mail: Email) -> str:
    """One line, at most ERROR_LENGTH characters, without the recipient's address (a
    server often repeats it; the row keeps no address once its payload is cleared)."""
    return " ".join(text.replace(mail.to, "<recipient>").split())[:ERROR_LENGTH]
