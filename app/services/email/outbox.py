"""Putting an email in the outbox: rendered from its templates, encrypted, stored in the
caller's transaction. Sent later by ``email.jobs`` (never inside a request)."""

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import cast

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import EmailMessage
from app.models.base import utcnow
from app.services.platform import crypto

# HTML templates escape what they are given (a member's name is typed by people);
# plain-text ones do not need to. A missing variable is an error, not an empty string.
_templates = Environment(
    loader=PackageLoader("app.services.email", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    auto_reload=False,  # templates ship with the code: no file check on every render
)


@dataclass(frozen=True)
class Email:
    """A rendered email, as stored (encrypted) in the outbox."""

    to: str
    subject: str
    text: str
    html: str


def render(template: str, to: str, context: Mapping[str, object]) -> Email:
    """``<template>.txt`` (which sets ``subject``) and ``<template>.html``, both English
    for now."""
    text = _templates.get_template(f"{template}.txt").make_module(dict(context))
    html = _templates.get_template(f"{template}.html").render(context)
    # A module's exported variables (``{% set subject = ... %}``) are its attributes.
    subject = str(vars(text)["subject"])
    return Email(to=to, subject=subject, text=str(text), html=html)


async def enqueue(
    db: AsyncSession,
    settings: Settings,
    *,
    template: str,
    to: str,
    context: Mapping[str, object],
    user_id: int | None,
    team_id: int | None = None,
    not_before: datetime | None = None,
) -> bool:
    """Store ``template`` rendered for ``to``; whether anything was stored (nothing when
    email is off: ``LOADLINE_EMAIL_BACKEND=none``, or no SMTP server configured)."""
    stored = await enqueue_message(
        db,
        settings,
        template=template,
        to=to,
        context=context,
        user_id=user_id,
        team_id=team_id,
        not_before=not_before,
    )
    return stored is not None


async def enqueue_message(
    db: AsyncSession,
    settings: Settings,
    *,
    template: str,
    to: str,
    context: Mapping[str, object],
    user_id: int | None,
    team_id: int | None = None,
    not_before: datetime | None = None,
) -> EmailMessage | None:
    """:func:`enqueue`, answering the stored row (for ``loadline email test``, which
    sends that very message at once), or ``None`` when email is off."""
    if settings.email_delivery == "none":
        return None
    email = render(template, to, context)
    message = EmailMessage(
        team_id=team_id,
        user_id=user_id,
        kind=template,
        payload=crypto.encrypt_bytes(settings, json.dumps(asdict(email)).encode()),
        next_attempt_at=not_before or utcnow(),
    )
    db.add(message)
    await db.flush()
    return message


def open_payload(settings: Settings, message: EmailMessage) -> Email | None:
    """The stored email, decrypted; ``None`` once sent or given up (the payload is cleared)."""
    if message.payload is None:
        return None
    return Email(**json.loads(crypto.decrypt_bytes(settings, message.payload)))


@dataclass(frozen=True)
class Outgoing:
    """One email of a batch for :func:`enqueue_many`."""

    template: str
    to: str
    context: Mapping[str, object]
    user_id: int | None

    @property
    def rendering(self) -> tuple[str, str, Mapping[str, object]]:
        return self.template, self.to, self.context


def _stored(email: Email) -> bytes:
    """The JSON that is encrypted: :func:`dataclasses.asdict` without its deep copies."""
    fields = {"to": email.to, "subject": email.subject, "text": email.text, "html": email.html}
    return json.dumps(fields).encode()


async def enqueue_many(
    db: AsyncSession, settings: Settings, messages: Sequence[Outgoing], *, team_id: int | None
) -> int:
    """:func:`enqueue` for a batch (a team's reminders): rendered one by one, stored by one
    batched insert instead of one per message; returns how many were stored (none when
    email is off)."""
    if settings.email_delivery == "none" or not messages:
        return 0
    now = utcnow()
    rows = [
        {
            "team_id": team_id,
            "user_id": outgoing.user_id,
            "kind": outgoing.template,
            "payload": crypto.encrypt_bytes(settings, _stored(render(*outgoing.rendering))),
            "next_attempt_at": now,
        }
        for outgoing in messages
    ]
    # Core, not ORM objects: one batched INSERT for the batch.
    await db.execute(insert(cast(Table, EmailMessage.__table__)), rows)
    return len(rows)
