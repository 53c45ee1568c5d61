"""Linked Whoop and Oura accounts: OAuth2 connect flows, and tokens that stay usable.

The connect flow is OAuth2's authorization-code grant through Authlib's httpx client. The
``state`` is a short-lived token signed with a key of its own and bound to the provider,
the membership and the user who started, so a callback cannot be forged or replayed
against another athlete. It is also single-use: the callback that links spends its ``jti``
(:class:`~app.models.SpentOAuthState`), so the same state cannot relink the device with
another vendor account within its lifetime.

Tokens are encrypted at rest (:mod:`app.services.crypto`) and never appear in an answer,
a log line or an error message: errors name the vendor, the path and the HTTP status only.
Both vendors rotate refresh tokens (Oura's are single-use), so a refresh holds the device's
row lock (``SELECT ... FOR UPDATE``) and the new pair is saved before it is used; a refresh
the vendor refuses marks the device ``reauth_required`` instead of failing jobs.
:func:`refresh_for_inbox` refreshes in transactions of its own, ahead of the inbox job, so
that a rotated pair is committed even when the inbox rolls an attempt back.
"""

import email.utils
import functools
import json
import logging
import secrets
import warnings
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn, TypeVar

import authlib.deprecate  # type: ignore[import-untyped]  # noqa: F401 (see below)
import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from pydantic import BaseModel, ValidationError
from sqlalchemy import Table, delete, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import joinedload

from app.config import Settings
from app.db import dialect_insert
from app.errors import DomainError, NotFound, Unauthorized
from app.models import (
    Base,
    DeviceStatus,
    InboxStatus,
    LinkedDevice,
    Provider,
    SpentOAuthState,
    TeamMembership,
    User,
    WebhookEvent,
)
from app.models.base import utcnow
from app.services.accounts import tokens
from app.services.integrations import inbox
from app.services.integrations.context import VENDOR_TIMEOUT, VendorContext
from app.services.integrations.inbox import Handler, RetryLater
from app.services.platform import crypto
from app.services.teams import service as teams

with warnings.catch_warnings():
    # Authlib prefers the ``httpx2`` fork and warns when it falls back to httpx, which it
    # still supports; the app's HTTP stack (and the tests' fake vendor) is httpx. Its
    # ``authlib.deprecate`` (imported above) installs an "always" filter; ours goes in front.
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.httpx_client import (  # type: ignore[import-untyped]
        AsyncOAuth2Client,
        OAuthError,
    )

logger = logging.getLogger("loadline.devices")

STATE_LIFETIME = timedelta(minutes=10)
SPENT_STATE_MARGIN = timedelta(minutes=5)  # spent states outlive their expiry by this much
MAX_JTI_LENGTH = 64  # the column's length; ours are 16 characters
REFRESH_LEEWAY = timedelta(minutes=2)  # refresh a little early: clocks and requests drift
REFRESH_AHEAD = timedelta(minutes=15)  # :func:`refresh_expiring` renews tokens this close
MAX_SKEW = timedelta(minutes=5)  # webhook timestamps further off are refused
MAX_RMSSD_MS = 300.0  # the contract's bound for a stored rMSSD
_STATE_ISSUER = "loadline:oauth-state"
INBOX_PROVIDERS = ("whoop", "oura")  # the inbox's provider names for linked devices


class BadRequest(DomainError):
    """400: a bad OAuth state or code, or a webhook body that is not the vendor's JSON."""


class VendorUnavailable(DomainError):
    """502: the vendor failed while the athlete was linking; linking again may work."""

    status = 502
    title = "Bad gateway"


class VendorBusy(RetryLater):
    """The vendor answered 429 or 5xx, or not at all: a passing failure, retried later."""


class VendorError(Exception):
    """The vendor answered something we cannot use (an unexpected 4xx, a body not JSON)."""


class DeviceUnusable(Exception):
    """The device is not active (or just stopped being): skip it, do not fail the job."""


class _TokenRefused(Exception):
    """The token endpoint refused a grant; ``code`` is the OAuth error code, sanitised."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class VendorApp:
    """Our registered OAuth app at one vendor, and where its API lives."""

    provider: Provider
    client_id: str
    client_secret: str = field(repr=False)  # out of any repr, log line or traceback
    authorize_url: str
    token_url: str
    api_base: str
    scope: str
    profile_path: str
    profile_id_field: str
    refresh_params: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.provider.value.title()

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret)


# Whoop issues a refresh token only with ``offline``, and asks for it again on refresh.
WHOOP_SCOPE = "offline read:recovery read:sleep read:cycles read:profile"
OURA_SCOPE = "personal daily"


def vendor_app(settings: Settings, provider: Provider) -> VendorApp:
    """The vendor's OAuth app from settings (URLs default to the vendor's own)."""
    if provider is Provider.WHOOP:
        return VendorApp(
            provider=provider,
            client_id=settings.whoop_client_id,
            client_secret=settings.whoop_client_secret,
            authorize_url=settings.whoop_authorize_url,
            token_url=settings.whoop_token_url,
            api_base=settings.whoop_api_base.rstrip("/"),
            scope=WHOOP_SCOPE,
            profile_path="/v2/user/profile/basic",
            profile_id_field="user_id",
            refresh_params={"scope": "offline"},
        )
    return VendorApp(
        provider=provider,
        client_id=settings.oura_client_id,
        client_secret=settings.oura_client_secret,
        authorize_url=settings.oura_authorize_url,
        token_url=settings.oura_token_url,
        api_base=settings.oura_api_base.rstrip("/"),
        scope=OURA_SCOPE,
        profile_path="/v2/usercollection/personal_info",
        profile_id_field="id",
    )


def provider_from_path(name: str) -> Provider:
    """``whoop`` or ``oura`` (any case) from a URL; anything else is a 404."""
    try:
        return Provider(name.upper())
    except ValueError:
        raise NotFound(f"Unknown device provider {name[:40]!r}") from None


def configured_app(settings: Settings, provider: Provider) -> VendorApp:
    """The vendor's app, or a 404 when this server has no credentials for that vendor."""
    app = vendor_app(settings, provider)
    if not app.configured:
        raise NotFound(f"This server has no {app.name} integration configured")
    return app


def redirect_uri(settings: Settings, provider: Provider) -> str:
    """The callback registered with the vendor; the token request must repeat it exactly."""
    base = settings.public_base_url.rstrip("/")
    return f"{base}/integrations/{provider.value.lower()}/callback"


# --- OAuth state -------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkState:
    """What a valid ``state`` says: who started linking which membership to which vendor."""

    provider: Provider
    membership_id: int
    user_id: int


@dataclass(frozen=True)
class StateTicket:
    """A ``state`` whose signature checked out: the link it stands for, plus the id and
    expiry by which the callback spends it once (:func:`_spend_state`)."""

    link: LinkState
    jti: str
    expires_at: datetime


def _state_key(settings: Settings) -> OctKey:
    return OctKey.import_key(tokens.derive_key(settings, "oauth-state"))


def sign_state(settings: Settings, link: LinkState) -> str:
    """A signed token that expires in :data:`STATE_LIFETIME`; ``jti`` makes each one unique."""
    now = utcnow()
    claims = {
        "iss": _STATE_ISSUER,
        "sub": str(link.membership_id),
        "uid": link.user_id,
        "prv": link.provider.value,
        "iat": int(now.timestamp()),
        "exp": int((now + STATE_LIFETIME).timestamp()),
        "jti": secrets.token_urlsafe(12),
    }
    return jwt.encode({"alg": "HS256"}, claims, _state_key(settings))


def read_state(settings: Settings, provider: Provider, state: str | None) -> StateTicket:
    """What a ``state`` stands for; a forged, expired or other vendor's state is a 400.
    Whether it was already used is the database's to say (:func:`_spend_state`)."""
    if not state or len(state) > 2000:
        raise BadRequest("Missing or invalid OAuth state")
    try:
        claims = jwt.decode(state, _state_key(settings), algorithms=["HS256"]).claims
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": _STATE_ISSUER},
            exp={"essential": True},
            sub={"essential": True},
            prv={"essential": True, "value": provider.value},
            jti={"essential": True},
        ).validate(claims)
        jti = claims["jti"]
        if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
            raise ValueError("bad jti")
        link = LinkState(provider, int(claims["sub"]), int(claims["uid"]))
        return StateTicket(link, jti, datetime.fromtimestamp(int(claims["exp"]), UTC))
    except (JoseError, ValueError, TypeError, KeyError):
        raise BadRequest("Invalid or expired OAuth state; start linking again") from None


# --- Talking to the vendors ----------------------------------------------------------------


def retry_after(response: httpx.Response) -> timedelta | None:
    """The vendor's ``Retry-After`` (seconds or an HTTP date), if it sent a usable one."""
    value = response.headers.get("retry-after", "").strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(when - utcnow(), timedelta(0))


def _busy(what: str, response: httpx.Response) -> VendorBusy:
    return VendorBusy(f"{what}: HTTP {response.status_code}", retry_after(response))


def _is_busy(response: httpx.Response) -> bool:
    """429 and 5xx pass: retried later, never a reason to give up on a device."""
    return response.status_code == 429 or response.status_code >= 500


def _safe_code(code: object) -> str:
    """An OAuth ``error`` code fit for logs and messages: a short word, never vendor text."""
    text = str(code)[:40]
    return text if text.replace("_", "").isalnum() else "refused"


def _oauth_error_code(response: httpx.Response) -> str:
    try:
        return _safe_code(response.json().get("error", ""))
    except (ValueError, AttributeError):
        return "refused"


def _token_response_hook(app: VendorApp) -> Callable[[httpx.Response], httpx.Response]:
    """Authlib compliance hook: 429/5xx are passing, any other non-2xx is a refusal."""

    def check(response: httpx.Response) -> httpx.Response:
        if _is_busy(response):
            raise _busy(f"{app.name} token endpoint", response)
        if not response.is_success:
            raise _TokenRefused(_oauth_error_code(response))
        return response

    return check


def _oauth_client(ctx: VendorContext, app: VendorApp) -> Any:
    """Authlib's httpx client for one token request, on the app's vendor transport.

    It shares the transport of ``ctx.http`` (the fake vendor in tests), so it is never
    closed here: closing it would close that shared transport.
    """
    client = AsyncOAuth2Client(
        client_id=app.client_id,
        client_secret=app.client_secret,
        token_endpoint_auth_method="client_secret_post",  # noqa: S106 (a method name)
        redirect_uri=redirect_uri(ctx.settings, app.provider),
        transport=ctx.transport,
        timeout=VENDOR_TIMEOUT,
        follow_redirects=False,
    )
    hook = _token_response_hook(app)
    client.register_compliance_hook("access_token_response", hook)
    client.register_compliance_hook("refresh_token_response", hook)
    return client


async def _token_request(app: VendorApp, call: Any) -> dict[str, Any]:
    """Run one Authlib token request; its failures become our exceptions, without secrets."""
    try:
        token = await call
    except OAuthError as exc:
        raise _TokenRefused(_safe_code(getattr(exc, "error", ""))) from None
    except httpx.TransportError:
        raise VendorBusy(f"{app.name} token endpoint unreachable") from None
    if not isinstance(token, Mapping) or not token.get("access_token"):
        raise VendorError(f"{app.name} token endpoint sent no access token")
    return dict(token)


async def api_get(
    ctx: VendorContext, app: VendorApp, path: str, access_token: str
) -> httpx.Response:
    """GET ``path`` of the vendor's API as the athlete; an unreachable vendor is passing."""
    try:
        return await ctx.http.get(
            f"{app.api_base}{path}",
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        )
    except httpx.TransportError:
        raise VendorBusy(f"{app.name} GET {path}: unreachable") from None


def json_resource(app: VendorApp, path: str, response: httpx.Response) -> dict[str, Any] | None:
    """The JSON object answered; None for a 404 (the record is gone). 429/5xx are passing."""
    what = f"{app.name} GET {path}"
    if response.status_code == 404:
        return None
    if _is_busy(response):
        raise _busy(what, response)
    if not response.is_success:
        raise VendorError(f"{what}: HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise VendorError(f"{what}: the body is not JSON") from None
    if not isinstance(body, dict):
        raise VendorError(f"{what}: the body is not a JSON object")
    return body


# --- Linking -------------------------------------------------------------------------------


def authorization_url(ctx: VendorContext, link: LinkState) -> str:
    """The vendor's consent page for this athlete, with our signed ``state``."""
    app = configured_app(ctx.settings, link.provider)
    client = _oauth_client(ctx, app)
    url, _ = client.create_authorization_url(
        app.authorize_url, state=sign_state(ctx.settings, link), scope=app.scope
    )
    return str(url)


async def complete_link(
    session: AsyncSession,
    ctx: VendorContext,
    provider: Provider,
    *,
    code: str | None,
    state: str | None,
    error: str | None = None,
) -> LinkedDevice:
    """The callback: check the state and spend it, trade the code for tokens, read the
    vendor's user id and store the link (a repeat link of the same membership, with a new
    state, replaces the old one)."""
    ticket = read_state(ctx.settings, provider, state)
    if error or not code:
        raise BadRequest(f"The athlete did not grant access at {provider.value.title()}")
    await _spend_state(session, ticket)
    membership = await _linkable_membership(session, ticket.link)
    app = configured_app(ctx.settings, provider)
    token = await _exchange_code(ctx, app, code)
    external_id = await _vendor_user_id(ctx, app, token["access_token"])
    device = await _store_link(session, ctx.settings, membership, app, external_id, token)
    logger.info(
        json.dumps({"event": "device_linked", "device_id": device.id, "provider": app.name})
    )
    return device


async def _spend_state(session: AsyncSession, ticket: StateTicket) -> None:
    """Mark the state used, in the callback's transaction and before the code is traded, or
    refuse it (400) when it already was. A callback arriving while another one with the
    same state is running waits for that transaction (the row's primary key), then finds
    the row if it committed: of two at once, exactly one links. A callback that fails
    (the athlete declined, the vendor refused the code or is down) rolls the row back with
    the rest, so the state stays usable until it expires: nothing was linked with it, and
    going back to the consent page to try again works."""
    spent = await session.execute(
        dialect_insert(session, SpentOAuthState)
        .values(jti=ticket.jti, expires_at=ticket.expires_at)
        .on_conflict_do_nothing(index_elements=["jti"])
        .returning(SpentOAuthState.jti)
    )
    if spent.scalar_one_or_none() is None:
        raise BadRequest("This OAuth state was already used; start linking again")


async def purge_spent_states(session: AsyncSession) -> int:
    """Forget the states that expired more than :data:`SPENT_STATE_MARGIN` ago (the margin
    covers replicas' clocks apart): the signature check refuses them by now. Hourly job."""
    result = await session.execute(
        delete(SpentOAuthState).where(SpentOAuthState.expires_at < utcnow() - SPENT_STATE_MARGIN)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def _linkable_membership(session: AsyncSession, link: LinkState) -> TeamMembership:
    """The state's membership, if its user may still write for it (rights can change)."""
    user = await session.get(User, link.user_id)
    if user is None:
        raise BadRequest("Invalid OAuth state; start linking again")
    access = await teams.member_access(
        session, user.id, link.membership_id, write=True, new_entry=("query", "state")
    )
    return access.membership


async def _exchange_code(ctx: VendorContext, app: VendorApp, code: str) -> dict[str, Any]:
    """Tokens for the code; a refused code is the caller's 400, a failing vendor a 502."""
    client = _oauth_client(ctx, app)
    try:
        return await _token_request(
            app, client.fetch_token(app.token_url, code=code, grant_type="authorization_code")
        )
    except _TokenRefused as exc:
        raise BadRequest(f"{app.name} refused the authorization code ({exc.code})") from None
    except (VendorBusy, VendorError) as exc:
        raise VendorUnavailable(f"{exc}; try linking again") from None


async def _vendor_user_id(ctx: VendorContext, app: VendorApp, access_token: str) -> str:
    """The athlete's id at the vendor, the one its webhooks carry as ``user_id``."""
    try:
        response = await api_get(ctx, app, app.profile_path, access_token)
        profile = json_resource(app, app.profile_path, response)
    except (VendorBusy, VendorError) as exc:
        raise VendorUnavailable(f"{exc}; try linking again") from None
    user_id = (profile or {}).get(app.profile_id_field)
    if isinstance(user_id, bool) or not isinstance(user_id, int | str) or not str(user_id):
        raise VendorUnavailable(f"{app.name} sent no user id; try linking again")
    return str(user_id)[:128]


async def _store_link(
    session: AsyncSession,
    settings: Settings,
    membership: TeamMembership,
    app: VendorApp,
    external_id: str,
    token: Mapping[str, Any],
) -> LinkedDevice:
    """One link per membership and vendor: linking again (after ``reauth_required``, say)
    updates the row under its lock, so a job refreshing it at that moment waits."""
    device = await session.scalar(
        select(LinkedDevice)
        .where(LinkedDevice.membership_id == membership.id, LinkedDevice.provider == app.provider)
        .with_for_update()
    )
    if device is None:
        device = LinkedDevice(
            team_id=membership.team_id, membership_id=membership.id, provider=app.provider
        )
        session.add(device)
    device.external_user_id = external_id
    device.status = DeviceStatus.ACTIVE
    device.linked_at = utcnow()
    _save_tokens(settings, device, token, keep_refresh=False)
    await session.flush()
    return device


def _save_tokens(
    settings: Settings, device: LinkedDevice, token: Mapping[str, Any], *, keep_refresh: bool
) -> None:
    """Encrypt a token response onto the device. A refresh answer without a new refresh
    token keeps the old one (RFC 6749 allows that); a new link never keeps it."""
    device.access_token_enc = crypto.encrypt(settings, str(token["access_token"]))
    refresh = token.get("refresh_token")
    if refresh:
        device.refresh_token_enc = crypto.encrypt(settings, str(refresh))
    elif not keep_refresh:
        device.refresh_token_enc = None
    expires_at = token.get("expires_at")
    device.expires_at = (
        datetime.fromtimestamp(expires_at, UTC) if isinstance(expires_at, int | float) else None
    )
    scope = token.get("scope")
    if isinstance(scope, str) and scope:
        device.scopes = scope[:500]


# --- Listing and unlinking -----------------------------------------------------------------


async def list_devices(session: AsyncSession, membership_id: int) -> list[LinkedDevice]:
    return list(
        await session.scalars(
            select(LinkedDevice)
            .where(LinkedDevice.membership_id == membership_id)
            .order_by(LinkedDevice.id)
        )
    )


async def delete_device(session: AsyncSession, membership_id: int, device_id: int) -> None:
    """Forget the link and its tokens. HRV already stored from it is kept."""
    device = await session.get(LinkedDevice, device_id)
    if device is None or device.membership_id != membership_id:
        raise NotFound("Device not found")
    await session.delete(device)
    await session.flush()


# --- Using a device's tokens ---------------------------------------------------------------


async def active_devices(
    session: AsyncSession, provider: Provider, external_user_id: str
) -> list[LinkedDevice]:
    """The active links of one vendor account (an athlete in two teams has two)."""
    return list(
        await session.scalars(
            select(LinkedDevice)
            .where(
                LinkedDevice.provider == provider,
                LinkedDevice.external_user_id == external_user_id,
                LinkedDevice.status == DeviceStatus.ACTIVE,
            )
            .order_by(LinkedDevice.id)
        )
    )


async def lock_device(session: AsyncSession, device_id: int) -> LinkedDevice | None:
    """The device under its row lock, freshly read: a refresh by another worker is seen."""
    device: LinkedDevice | None = await session.scalar(
        select(LinkedDevice)
        .where(LinkedDevice.id == device_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return device


def _expiring(device: LinkedDevice, within: timedelta = REFRESH_LEEWAY) -> bool:
    return device.expires_at is not None and device.expires_at <= utcnow() + within


async def access_token(
    ctx: VendorContext, session: AsyncSession, device_id: int, *, refused: str | None = None
) -> str:
    """A usable access token, refreshed first (under the row lock) if it is expiring or is
    ``refused``, the token the vendor just answered 401 to. Raises :class:`DeviceUnusable`."""
    device = await lock_device(session, device_id)
    if device is None or device.status != DeviceStatus.ACTIVE:
        raise DeviceUnusable(f"device {device_id} is not active")
    current = crypto.decrypt(ctx.settings, device.access_token_enc)
    if _expiring(device) or (refused is not None and current == refused):
        await _refresh(ctx, session, device)
        current = crypto.decrypt(ctx.settings, device.access_token_enc)
    return current


async def _refresh(ctx: VendorContext, session: AsyncSession, device: LinkedDevice) -> None:
    """Trade the refresh token for a new pair and save it (flushed) before anyone uses it.
    The caller holds the row lock; a refusal marks the device ``reauth_required``."""
    app = vendor_app(ctx.settings, device.provider)
    if device.refresh_token_enc is None:
        await require_reauth(session, device, "no refresh token")
    refresh = crypto.decrypt(ctx.settings, device.refresh_token_enc or "")
    client = _oauth_client(ctx, app)
    try:
        token = await _token_request(
            app, client.refresh_token(app.token_url, refresh_token=refresh, **app.refresh_params)
        )
    except _TokenRefused as exc:
        await require_reauth(session, device, f"refresh refused ({exc.code})")
    _save_tokens(ctx.settings, device, token, keep_refresh=True)
    await session.flush()
    logger.info(
        json.dumps(
            {"event": "device_token_refreshed", "device_id": device.id, "provider": app.name}
        )
    )


async def require_reauth(session: AsyncSession, device: LinkedDevice, reason: str) -> NoReturn:
    """Mark the device ``reauth_required`` (the athlete must link again) and stop using it."""
    device.status = DeviceStatus.REAUTH_REQUIRED
    await session.flush()
    logger.warning(
        json.dumps(
            {
                "event": "device_reauth_required",
                "device_id": device.id,
                "provider": device.provider.value,
                "reason": reason,
            }
        )
    )
    raise DeviceUnusable(f"device {device.id}: {reason}")


async def fetch_as_athlete(
    ctx: VendorContext, session: AsyncSession, device: LinkedDevice, path: str
) -> dict[str, Any] | None:
    """GET a vendor resource with the device's token; a 401 gets one refresh and one retry.
    None when the vendor has no such record; raises :class:`DeviceUnusable`,
    :class:`VendorBusy` (passing) or :class:`VendorError`."""
    app = vendor_app(ctx.settings, device.provider)
    token = await access_token(ctx, session, device.id)
    response = await api_get(ctx, app, path, token)
    if response.status_code == 401:
        token = await access_token(ctx, session, device.id, refused=token)
        response = await api_get(ctx, app, path, token)
        if response.status_code == 401:
            await require_reauth(session, device, "access token refused after a refresh")
    return json_resource(app, path, response)


async def device_membership(session: AsyncSession, device: LinkedDevice) -> TeamMembership | None:
    """The device's membership with its team, if it still takes new entries (active)."""
    membership = await session.scalar(
        select(TeamMembership)
        .options(joinedload(TeamMembership.team))
        .where(TeamMembership.id == device.membership_id)
    )
    if membership is None or not membership.active:
        return None
    return membership


def plausible_rmssd(value: object) -> float | None:
    """A vendor's rMSSD in milliseconds if it is a number the contract accepts, (0, 300]."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 0 < value <= MAX_RMSSD_MS else None


# --- Jobs ----------------------------------------------------------------------------------


async def refresh_expiring(
    sessionmaker: async_sessionmaker[AsyncSession],
    ctx: VendorContext,
    within: timedelta = REFRESH_AHEAD,
    accounts: Collection[tuple[Provider, str]] | None = None,
) -> int:
    """Refresh the active tokens expiring within ``within`` (of ``accounts`` only, when
    given: ``(provider, external_user_id)`` pairs), each in its own committed transaction.
    Returns how many were refreshed."""
    query = select(LinkedDevice.id).where(
        LinkedDevice.status == DeviceStatus.ACTIVE,
        LinkedDevice.refresh_token_enc.is_not(None),
        LinkedDevice.expires_at <= utcnow() + within,
    )
    if accounts is not None:
        if not accounts:
            return 0
        query = query.where(
            tuple_(LinkedDevice.provider, LinkedDevice.external_user_id).in_(list(accounts))
        )
    async with sessionmaker() as session:
        due = list(await session.scalars(query.order_by(LinkedDevice.id)))
    refreshed = 0
    for device_id in due:
        refreshed += await _refresh_one(sessionmaker, ctx, device_id, within)
    return refreshed


async def refresh_for_inbox(
    sessionmaker: async_sessionmaker[AsyncSession], ctx: VendorContext
) -> int:
    """Run before the inbox job: refresh, in committed transactions of their own, the
    expiring tokens that the due Whoop and Oura events will need. An inbox attempt that
    fails is rolled back, and a pair rotated inside it would be lost with it (Oura's old
    refresh token is already spent); refreshed here, the new pair is safe."""
    async with sessionmaker() as session:
        bodies = await session.execute(
            select(WebhookEvent.provider, WebhookEvent.body)
            .where(
                WebhookEvent.status == InboxStatus.PENDING,
                WebhookEvent.next_attempt_at <= utcnow(),
                WebhookEvent.provider.in_(INBOX_PROVIDERS),
            )
            .order_by(WebhookEvent.next_attempt_at, WebhookEvent.id)
            .limit(inbox.BATCH)
        )
        accounts = {_account_of(provider, body) for provider, body in bodies}
    return await refresh_expiring(sessionmaker, ctx, accounts={a for a in accounts if a})


def _account_of(provider: str, body: bytes) -> tuple[Provider, str] | None:
    """The vendor account a stored notification is about (both vendors say ``user_id``)."""
    try:
        user_id = json.loads(body).get("user_id")
    except (ValueError, AttributeError):
        return None
    if isinstance(user_id, bool) or not isinstance(user_id, int | str):
        return None
    return Provider(provider.upper()), str(user_id)


async def _refresh_one(
    sessionmaker: async_sessionmaker[AsyncSession],
    ctx: VendorContext,
    device_id: int,
    within: timedelta,
) -> int:
    """One device, one transaction: a vendor failure for one athlete holds back no other,
    and a refusal commits ``reauth_required``. Returns 1 when it refreshed."""
    try:
        async with sessionmaker.begin() as session:
            device = await lock_device(session, device_id)
            if device is None or device.status != DeviceStatus.ACTIVE:
                return 0
            if not _expiring(device, within):
                return 0  # another worker refreshed it meanwhile
            try:
                await _refresh(ctx, session, device)
            except DeviceUnusable:
                return 0  # committed as reauth_required
            return 1
    except (VendorBusy, VendorError) as exc:
        logger.warning(
            json.dumps(
                {"event": "device_refresh_failed", "device_id": device_id, "error": str(exc)}
            )
        )
        return 0


def inbox_handlers(ctx: VendorContext) -> dict[str, Handler]:
    """The inbox handlers of the linked-device vendors, keyed by the inbox's provider name."""
    # imported here: they import this module
    from app.services.integrations import oura, whoop

    return {
        "whoop": functools.partial(whoop.handle, ctx),
        "oura": functools.partial(oura.handle, ctx),
    }


# --- Webhook helpers -----------------------------------------------------------------------

M = TypeVar("M", bound=BaseModel)


def parse_body(model: type[M], body: bytes) -> M:
    """The vendor's JSON as ``model``; anything else is a 400 (never a 5xx)."""
    try:
        return model.model_validate_json(body)
    except ValidationError:
        raise BadRequest("The body is not the vendor's JSON") from None


def check_timestamp(stamp: str, *, milliseconds: bool, now: datetime | None = None) -> None:
    """Refuse a signature timestamp more than :data:`MAX_SKEW` away from now (replays)."""
    try:
        value = float(stamp.strip())
    except ValueError:
        raise Unauthorized("Bad webhook timestamp") from None
    seconds = value / 1000 if milliseconds else value
    moment = (now or utcnow()).timestamp()
    if not abs(moment - seconds) <= MAX_SKEW.total_seconds():
        raise Unauthorized("Webhook timestamp too far from now")


# --- Key rotation --------------------------------------------------------------------------


async def reencrypt_secrets(
    session: AsyncSession, settings: Settings, progress: Callable[[int, int], None] | None = None
) -> int:
    """Re-encrypt every encrypted column (``*_enc``) of every table under the newest key,
    so the old key can then be removed. Returns the number of values rewritten."""
    values: list[tuple[Table, str, tuple[Any, ...], str]] = []
    for table in Base.metadata.sorted_tables:
        keys = list(table.primary_key.columns)
        for column in (c for c in table.columns if c.name.endswith("_enc")):
            rows = await session.execute(
                select(*keys, column).where(column.is_not(None)).order_by(*keys)
            )
            values.extend((table, column.name, tuple(row[:-1]), row[-1]) for row in rows)
    total = len(values)
    if progress is not None:
        progress(0, total)
    for done, (table, name, key, value) in enumerate(values, start=1):
        where = [c == k for c, k in zip(table.primary_key.columns, key, strict=True)]
        fresh = crypto.reencrypt(settings, value)
        await session.execute(update(table).where(*where).values({name: fresh}))
        if progress is not None:
            progress(done, total)
    return total
