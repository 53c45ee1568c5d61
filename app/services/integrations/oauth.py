"""Linking a Whoop or Oura account: OAuth2's authorization-code grant, and its token requests.

The flow runs through Authlib's httpx client. The ``state`` is a short-lived token signed
with a key of its own and bound to the provider, the membership and the user who started,
so a callback cannot be forged or replayed against another athlete. It is also
single-use: the callback that links spends its ``jti`` (:class:`~app.models.SpentOAuthState`),
so the same state cannot relink the device with another vendor account within its
lifetime. :func:`refresh_grant` is the other token request, used by
:mod:`app.services.integrations.devices` to keep a link's tokens usable.

Token answers become a :class:`TokenSet` and are stored encrypted (:func:`save_tokens`);
they never appear in an answer, a log line or an error message: errors name the vendor,
the path and the HTTP status only.
"""

import json
import logging
import secrets
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import authlib.deprecate  # type: ignore[import-untyped]  # noqa: F401 (see below)
import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import dialect_insert
from app.errors import DomainError
from app.models import DeviceStatus, LinkedDevice, Provider, SpentOAuthState, TeamMembership, User
from app.models.base import utcnow
from app.services.accounts import tokens
from app.services.integrations import vendor_api
from app.services.integrations.context import VENDOR_TIMEOUT, VendorContext
from app.services.integrations.errors import BadRequest, VendorBusy, VendorError
from app.services.integrations.vendor_apps import VendorApp, configured_app, redirect_uri
from app.services.platform import crypto
from app.services.teams import access as teams

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
_STATE_ISSUER = "loadline:oauth-state"


class VendorUnavailable(DomainError):
    """502: the vendor failed while the athlete was linking; linking again may work."""

    status = 502
    title = "Bad gateway"


class TokenRefused(Exception):
    """The token endpoint refused a grant; ``code`` is the OAuth error code, sanitised."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class TokenSet:
    """A token endpoint's answer, as we keep it (the tokens out of any repr)."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime | None
    scope: str | None


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


async def purge_spent_states(db: AsyncSession) -> int:
    """Forget the states that expired more than :data:`SPENT_STATE_MARGIN` ago (the margin
    covers replicas' clocks apart): the signature check refuses them by now. Hourly job."""
    result = await db.execute(
        delete(SpentOAuthState).where(SpentOAuthState.expires_at < utcnow() - SPENT_STATE_MARGIN)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- Token requests ----------------------------------------------------------------------


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
        if vendor_api.is_busy(response):
            raise vendor_api.busy(f"{app.name} token endpoint", response)
        if not response.is_success:
            raise TokenRefused(_oauth_error_code(response))
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


def _token_set(token: Mapping[str, Any]) -> TokenSet:
    """Authlib's token (``expires_at`` computed from ``expires_in``) as a :class:`TokenSet`."""
    refresh = token.get("refresh_token")
    expires_at = token.get("expires_at")
    scope = token.get("scope")
    return TokenSet(
        access_token=str(token["access_token"]),
        refresh_token=str(refresh) if refresh else None,
        expires_at=(
            datetime.fromtimestamp(expires_at, UTC) if isinstance(expires_at, int | float) else None
        ),
        scope=scope[:500] if isinstance(scope, str) and scope else None,
    )


async def _token_request(app: VendorApp, call: Any) -> TokenSet:
    """Run one Authlib token request; its failures become our exceptions, without secrets."""
    try:
        token = await call
    except OAuthError as exc:
        raise TokenRefused(_safe_code(getattr(exc, "error", ""))) from None
    except httpx.TransportError:
        raise VendorBusy(f"{app.name} token endpoint unreachable") from None
    if not isinstance(token, Mapping) or not token.get("access_token"):
        raise VendorError(f"{app.name} token endpoint sent no access token")
    return _token_set(token)


async def refresh_grant(ctx: VendorContext, app: VendorApp, refresh_token: str) -> TokenSet:
    """Trade a refresh token for a new pair. Raises :class:`TokenRefused` when the vendor
    says no, :class:`VendorBusy` (passing) or :class:`VendorError`."""
    client = _oauth_client(ctx, app)
    return await _token_request(
        app, client.refresh_token(app.token_url, refresh_token=refresh_token, **app.refresh_params)
    )


def save_tokens(
    settings: Settings, device: LinkedDevice, token: TokenSet, *, keep_refresh: bool
) -> None:
    """Encrypt a token answer onto the device. A refresh answer without a new refresh
    token keeps the old one (RFC 6749 allows that); a new link never keeps it."""
    device.access_token_enc = crypto.encrypt(settings, token.access_token)
    if token.refresh_token:
        device.refresh_token_enc = crypto.encrypt(settings, token.refresh_token)
    elif not keep_refresh:
        device.refresh_token_enc = None
    device.expires_at = token.expires_at
    if token.scope:
        device.scopes = token.scope


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
    db: AsyncSession,
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
    await _spend_state(db, ticket)
    membership = await _linkable_membership(db, ticket.link)
    app = configured_app(ctx.settings, provider)
    token = await _exchange_code(ctx, app, code)
    external_id = await _vendor_user_id(ctx, app, token.access_token)
    device = await _store_link(db, ctx.settings, membership, app, external_id, token)
    logger.info(
        json.dumps({"event": "device_linked", "device_id": device.id, "provider": app.name})
    )
    return device


async def _spend_state(db: AsyncSession, ticket: StateTicket) -> None:
    """Mark the state used, in the callback's transaction and before the code is traded, or
    refuse it (400) when it already was. A callback arriving while another one with the
    same state is running waits for that transaction (the row's primary key), then finds
    the row if it committed: of two at once, exactly one links. A callback that fails
    (the athlete declined, the vendor refused the code or is down) rolls the row back with
    the rest, so the state stays usable until it expires: nothing was linked with it, and
    going back to the consent page to try again works."""
    spent = await db.execute(
        dialect_insert(db, SpentOAuthState)
        .values(jti=ticket.jti, expires_at=ticket.expires_at)
        .on_conflict_do_nothing(index_elements=["jti"])
        .returning(SpentOAuthState.jti)
    )
    if spent.scalar_one_or_none() is None:
        raise BadRequest("This OAuth state was already used; start linking again")


async def _linkable_membership(db: AsyncSession, link: LinkState) -> TeamMembership:
    """The state's membership, if its user may still write for it (rights can change)."""
    user = await db.get(User, link.user_id)
    if user is None:
        raise BadRequest("Invalid OAuth state; start linking again")
    access = await teams.member_access(
        db, user.id, link.membership_id, write=True, new_entry=("query", "state")
    )
    return access.membership


async def _exchange_code(ctx: VendorContext, app: VendorApp, code: str) -> TokenSet:
    """Tokens for the code; a refused code is the caller's 400, a failing vendor a 502."""
    client = _oauth_client(ctx, app)
    try:
        return await _token_request(
            app, client.fetch_token(app.token_url, code=code, grant_type="authorization_code")
        )
    except TokenRefused as exc:
        raise BadRequest(f"{app.name} refused the authorization code ({exc.code})") from None
    except (VendorBusy, VendorError) as exc:
        raise VendorUnavailable(f"{exc}; try linking again") from None


async def _vendor_user_id(ctx: VendorContext, app: VendorApp, access_token: str) -> str:
    """The athlete's id at the vendor, the one its webhooks carry as ``user_id``."""
    try:
        response = await vendor_api.api_get(ctx, app, app.profile_path, access_token)
        profile = vendor_api.json_resource(app, app.profile_path, response)
    except (VendorBusy, VendorError) as exc:
        raise VendorUnavailable(f"{exc}; try linking again") from None
    user_id = (profile or {}).get(app.profile_id_field)
    if isinstance(user_id, bool) or not isinstance(user_id, int | str) or not str(user_id):
        raise VendorUnavailable(f"{app.name} sent no user id; try linking again")
    return str(user_id)[:128]


async def _store_link(
    db: AsyncSession,
    settings: Settings,
    membership: TeamMembership,
    app: VendorApp,
    external_id: str,
    token: TokenSet,
) -> LinkedDevice:
    """One link per membership and vendor: linking again (after ``reauth_required``, say)
    updates the row under its lock, so a job refreshing it at that moment waits."""
    device = await db.scalar(
        select(LinkedDevice)
        .where(LinkedDevice.membership_id == membership.id, LinkedDevice.provider == app.provider)
        .with_for_update()
    )
    if device is None:
        device = LinkedDevice(
            team_id=membership.team_id, membership_id=membership.id, provider=app.provider
        )
        db.add(device)
    device.external_user_id = external_id
    device.status = DeviceStatus.ACTIVE
    device.linked_at = utcnow()
    save_tokens(settings, device, token, keep_refresh=False)
    await db.flush()
    return device
