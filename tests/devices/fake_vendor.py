"""A fake Whoop and a fake Oura behind an ``httpx.MockTransport``, and helpers for tests.

Each fake is a small OAuth2 server (authorize, token with code and refresh grants, single-use
rotating refresh tokens) plus the API paths Loadline reads. Tests script failures
(``fail``), refuse refreshes, add sleeps and recoveries, and look at the requests made.
Webhook signatures are computed here independently of the app's code.
"""

import base64
import functools
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.main import create_app
from app.models import DailyHRV, InboxStatus, LinkedDevice, WebhookEvent
from app.services.integrations import inbox, jobs, oura, whoop
from app.services.integrations.context import VendorContext
from tests.fixtures.actors import Actor

WHOOP_HOST = "https://whoop.test"
OURA_HOST = "https://oura.test"
WHOOP_SECRET = "whoop-client-secret-7c1d9e"
OURA_SECRET = "oura-client-secret-4b8a2f"
OURA_VERIFICATION_TOKEN = "oura-verification-5e6f"
WHOOP_USER_ID = 10129
OURA_USER_ID = "8f3c2a91-oura-user"


def vendor_settings(settings: Settings, **changes: Any) -> Settings:
    """The test settings with both vendors configured against the fakes."""
    return settings.model_copy(
        update={
            "whoop_client_id": "whoop-client-id",
            "whoop_client_secret": WHOOP_SECRET,
            "whoop_authorize_url": f"{WHOOP_HOST}/oauth/oauth2/auth",
            "whoop_token_url": f"{WHOOP_HOST}/oauth/oauth2/token",
            "whoop_api_base": f"{WHOOP_HOST}/developer",
            "oura_client_id": "oura-client-id",
            "oura_client_secret": OURA_SECRET,
            "oura_authorize_url": f"{OURA_HOST}/oauth/authorize",
            "oura_token_url": f"{OURA_HOST}/oauth/token",
            "oura_api_base": OURA_HOST,
            "oura_verification_token": OURA_VERIFICATION_TOKEN,
            **changes,
        }
    )


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


@dataclass
class Failure:
    """Answer ``status`` to the next ``times`` requests whose path contains ``path``."""

    path: str
    status: int
    times: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeVendor:
    """One vendor's OAuth server and API state."""

    name: str
    host: str
    client_id: str
    client_secret: str
    user_id: str  # the account signed in at the vendor: the next consent is this account's
    token_lifetime: int = 3600
    rotate_refresh_tokens: bool = True
    refuse_refresh: bool = False
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    access_tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (epoch)
    refresh_tokens: set[str] = field(default_factory=set)  # live, single-use
    spent_refresh_tokens: set[str] = field(default_factory=set)
    issued: list[dict[str, Any]] = field(default_factory=list)
    accounts: dict[str, str] = field(default_factory=dict)  # access or refresh token -> user
    failures: list[Failure] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)

    # --- OAuth ---

    def authorize(self, request: httpx.Request) -> httpx.Response:
        """The athlete consents at once: redirect to our callback with a code and the state."""
        params = dict(request.url.params)
        if params.get("client_id") != self.client_id or params.get("response_type") != "code":
            return _json(400, {"error": "invalid_request"})
        code = secrets.token_urlsafe(12)
        self.codes[code] = {
            "redirect_uri": params["redirect_uri"],
            "scope": params["scope"],
            "account": self.user_id,
        }
        query = urlencode({"code": code, "state": params["state"]})
        return httpx.Response(302, headers={"location": f"{params['redirect_uri']}?{query}"})

    def token(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        if (form.get("client_id"), form.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            return _json(401, {"error": "invalid_client"})
        if form.get("grant_type") == "authorization_code":
            grant = self.codes.pop(form.get("code", ""), None)
            if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
                return _json(400, {"error": "invalid_grant"})
            return _json(200, self.issue(grant["scope"], grant["account"]))
        if form.get("grant_type") == "refresh_token":
            return self.refresh(form)
        return _json(400, {"error": "unsupported_grant_type"})

    def refresh(self, form: dict[str, str]) -> httpx.Response:
        refresh = form.get("refresh_token", "")
        if self.refuse_refresh or refresh not in self.refresh_tokens:
            return _json(400, {"error": "invalid_grant", "error_description": f"bad {refresh}"})
        if self.rotate_refresh_tokens:
            self.refresh_tokens.discard(refresh)
            self.spent_refresh_tokens.add(refresh)
        return _json(200, self.issue(form.get("scope", ""), self.accounts.get(refresh)))

    def issue(self, scope: str, account: str | None = None) -> dict[str, Any]:
        """A new pair for ``account`` (by default the one signed in now)."""
        pair: dict[str, Any] = {
            "access_token": f"{self.name}-access-{secrets.token_hex(12)}",
            "refresh_token": f"{self.name}-refresh-{secrets.token_hex(12)}",
            "expires_in": self.token_lifetime,
            "token_type": "bearer",
            "scope": scope,
        }
        if self.name == "whoop" and "offline" not in scope.split():
            del pair["refresh_token"]  # Whoop: no refresh token without ``offline``
        self.access_tokens[str(pair["access_token"])] = time.time() + self.token_lifetime
        if "refresh_token" in pair:
            self.refresh_tokens.add(str(pair["refresh_token"]))
        for token in (pair["access_token"], pair.get("refresh_token")):
            if token is not None:
                self.accounts[str(token)] = account or self.user_id
        self.issued.append(pair)
        return pair

    def account_of(self, request: httpx.Request) -> str:
        """The vendor account whose access token the request carries."""
        token = request.headers.get("authorization", "").partition(" ")[2]
        return self.accounts.get(token, self.user_id)

    def authorised(self, request: httpx.Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        expiry = self.access_tokens.get(token)
        return scheme.lower() == "bearer" and expiry is not None and expiry > time.time()

    def expire_access_tokens(self) -> None:
        self.access_tokens = dict.fromkeys(self.access_tokens, 0.0)

    # --- scripted failures and inspection ---

    def fail(
        self, path: str, status: int, times: int = 1, headers: dict[str, str] | None = None
    ) -> None:
        self.failures.append(Failure(path, status, times, headers or {}))

    def scripted(self, request: httpx.Request) -> httpx.Response | None:
        for failure in self.failures:
            if failure.times > 0 and failure.path in request.url.path:
                failure.times -= 1
                return _json(failure.status, {"message": "scripted"}, failure.headers)
        return None

    def calls(self, fragment: str) -> int:
        return sum(fragment in r.url.path for r in self.requests)

    @property
    def secrets_issued(self) -> set[str]:
        values = {self.client_secret}
        for pair in self.issued:
            values.add(pair["access_token"])
            if "refresh_token" in pair:
                values.add(pair["refresh_token"])
        return values


class FakeWhoop(FakeVendor):
    def __init__(self) -> None:
        super().__init__(
            "whoop", WHOOP_HOST, "whoop-client-id", WHOOP_SECRET, user_id=str(WHOOP_USER_ID)
        )
        self.sleeps: dict[str, dict[str, Any]] = {}
        self.recoveries: dict[int, dict[str, Any]] = {}

    def add_night(
        self,
        sleep_id: str,
        *,
        end: str,
        rmssd: float,
        cycle_id: int = 93845,
        score_state: str = "SCORED",
    ) -> None:
        """A sleep ending at ``end`` and its cycle's recovery, as Whoop API v2 shapes them."""
        self.sleeps[sleep_id] = {
            "id": sleep_id,
            "cycle_id": cycle_id,
            "user_id": WHOOP_USER_ID,
            "start": "2026-03-09T11:00:00.000Z",
            "end": end,
            "timezone_offset": "+13:00",
            "nap": False,
            "score_state": "SCORED",
            "score": {"sleep_performance_percentage": 91},
        }
        score = {
            "user_calibrating": False,
            "recovery_score": 44,
            "resting_heart_rate": 64,
            "hrv_rmssd_milli": rmssd,
            "spo2_percentage": 95.6,
            "skin_temp_celsius": 33.7,
        }
        self.recoveries[cycle_id] = {
            "cycle_id": cycle_id,
            "sleep_id": sleep_id,
            "user_id": WHOOP_USER_ID,
            "score_state": score_state,
            "score": score if score_state == "SCORED" else None,
        }

    def api(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/developer")
        if path == "/v2/user/profile/basic":
            account = self.account_of(request)
            user_id = int(account) if account.isdigit() else account
            body = {"user_id": user_id, "email": "athlete@example.com", "first_name": "A"}
            return _json(200, body)
        if path.startswith("/v2/activity/sleep/"):
            sleep = self.sleeps.get(path.rsplit("/", 1)[1])
            return _json(200, sleep) if sleep else _json(404, {"message": "not found"})
        if path.startswith("/v2/cycle/") and path.endswith("/recovery"):
            recovery = self.recoveries.get(int(path.split("/")[3]))
            return _json(200, recovery) if recovery else _json(404, {"message": "not found"})
        return _json(404, {"message": "no such path"})


class FakeOura(FakeVendor):
    def __init__(self) -> None:
        super().__init__("oura", OURA_HOST, "oura-client-id", OURA_SECRET, user_id=OURA_USER_ID)
        self.sleeps: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}

    def add_sleep(
        self, doc_id: str, *, day: str, average_hrv: float | None, kind: str = "long_sleep"
    ) -> None:
        self.sleeps[doc_id] = {
            "id": doc_id,
            "day": day,
            "type": kind,
            "average_hrv": average_hrv,
            "bedtime_start": f"{day}T00:10:00+01:00",
            "bedtime_end": f"{day}T07:02:00+01:00",
        }

    def add_subscription(
        self, callback_url: str, data_type: str, event_type: str, expires: datetime
    ) -> str:
        sub_id = secrets.token_hex(8)
        self.subscriptions[sub_id] = {
            "id": sub_id,
            "callback_url": callback_url,
            "data_type": data_type,
            "event_type": event_type,
            "expiration_time": expires.isoformat(),
        }
        return sub_id

    def api(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith("/v2/webhook/subscription"):
            return self.subscription_api(request)
        if not self.authorised(request):
            return _json(401, {"detail": "Unauthorized"})
        if path == "/v2/usercollection/personal_info":
            body = {"id": self.account_of(request), "age": 27, "email": "athlete@example.com"}
            return _json(200, body)
        if path.startswith("/v2/usercollection/sleep/"):
            record = self.sleeps.get(path.rsplit("/", 1)[1])
            return _json(200, record) if record else _json(404, {"detail": "Not Found"})
        return _json(404, {"detail": "Not Found"})

    def subscription_api(self, request: httpx.Request) -> httpx.Response:
        """App-credential API: ``x-client-id`` and ``x-client-secret`` headers, no token."""
        headers = request.headers
        if (headers.get("x-client-id"), headers.get("x-client-secret")) != (
            self.client_id,
            self.client_secret,
        ):
            return _json(401, {"detail": "Unauthorized"})
        renewal = "/v2/webhook/subscription/renew/"
        if request.method == "GET":
            return _json(200, list(self.subscriptions.values()))
        if request.method == "POST":
            body = json.loads(request.content)
            expires = datetime.now(UTC) + timedelta(days=90)
            sub_id = self.add_subscription(
                body["callback_url"], body["data_type"], body["event_type"], expires
            )
            return _json(201, self.subscriptions[sub_id])
        if request.method == "PUT" and request.url.path.startswith(renewal):
            sub = self.subscriptions.get(request.url.path.removeprefix(renewal))
            if sub is None:
                return _json(404, {"detail": "Not Found"})
            sub["expiration_time"] = (datetime.now(UTC) + timedelta(days=90)).isoformat()
            return _json(200, sub)
        return _json(405, {"detail": "Method Not Allowed"})


class FakeVendors:
    """The ``httpx.MockTransport`` handler standing in for both vendors."""

    def __init__(self) -> None:
        self.whoop = FakeWhoop()
        self.oura = FakeOura()

    def vendor(self, name: str) -> FakeVendor:
        return self.whoop if name == "whoop" else self.oura

    def __call__(self, request: httpx.Request) -> httpx.Response:
        fake: FakeWhoop | FakeOura = self.whoop if request.url.host == "whoop.test" else self.oura
        fake.requests.append(request)
        path = request.url.path
        if path.endswith("/auth") or path.endswith("/authorize"):
            return fake.authorize(request)
        if path.endswith("/token"):
            return fake.scripted(request) or fake.token(request)
        scripted = fake.scripted(request)
        if scripted is not None:
            return scripted
        if isinstance(fake, FakeWhoop) and not fake.authorised(request):
            return _json(401, {"message": "Unauthorized"})
        return fake.api(request)

    @property
    def secrets_issued(self) -> set[str]:
        return self.whoop.secrets_issued | self.oura.secrets_issued


# --- app and flows ---------------------------------------------------------------------------


def build_app(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], fake: FakeVendors
) -> FastAPI:
    return create_app(settings, sessionmaker, vendor_transport=httpx.MockTransport(fake))


async def app_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def connect(
    client: httpx.AsyncClient, fake: FakeVendors, provider: str, actor: Actor, membership_id: int
) -> httpx.Response:
    """The whole connect flow: authorize, consent at the fake vendor, follow its redirect."""
    authorize = await client.get(
        f"/integrations/{provider}/authorize",
        params={"membership_id": membership_id},
        headers=actor.headers,
    )
    assert authorize.status_code == 200, authorize.text
    return await client.get(await consent(fake, authorize.json()["authorization_url"]))


async def consent(fake: FakeVendors, authorization_url: str) -> str:
    """The athlete consents at the vendor (as its signed-in ``user_id``): the callback URL
    the vendor redirects to, with a fresh code and the URL's state."""
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as browser:
        answer = await browser.get(authorization_url)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["location"])
    assert f"{back.scheme}://{back.netloc}" == "http://testserver"
    return f"{back.path}?{back.query}"


def handlers(ctx: VendorContext) -> dict[str, inbox.Handler]:
    return {
        "whoop": functools.partial(whoop.handle, ctx),
        "oura": functools.partial(oura.handle, ctx),
    }


async def run_inbox(sessionmaker: async_sessionmaker[AsyncSession], ctx: VendorContext) -> int:
    """The inbox job, exactly as the scheduler runs it."""
    return await jobs.process_due(sessionmaker, handlers(ctx))


async def make_due(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """Skip the backoff wait: every pending event is due now."""
    async with sessionmaker.begin() as session:
        await session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.status == InboxStatus.PENDING)
            .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
        )


async def events(sessionmaker: async_sessionmaker[AsyncSession]) -> list[WebhookEvent]:
    async with sessionmaker() as session:
        return list(await session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)))


async def hrv_rows(
    sessionmaker: async_sessionmaker[AsyncSession], membership_id: int
) -> list[tuple[str, float, str]]:
    """``(date, rmssd_ms, source)`` of the member's stored HRV, read from the database."""
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(DailyHRV).where(DailyHRV.membership_id == membership_id).order_by(DailyHRV.date)
        )
        return [(row.date.isoformat(), row.rmssd_ms, row.source.value) for row in rows]


async def hrv_via_api(
    client: httpx.AsyncClient, actor: Actor, membership_id: int, first: str, last: str
) -> dict[str, float]:
    """The days with a value in ``GET /performance/members/{m}/hrv`` (the value that counts)."""
    response = await client.get(
        f"/performance/members/{membership_id}/hrv",
        params={"from": first, "to": last},
        headers=actor.headers,
    )
    assert response.status_code == 200, response.text
    return {d["date"]: d["rmssd_ms"] for d in response.json() if d["rmssd_ms"] is not None}


async def device_row(
    sessionmaker: async_sessionmaker[AsyncSession], device_id: int
) -> LinkedDevice:
    async with sessionmaker() as session:
        return await session.get_one(LinkedDevice, device_id, populate_existing=True)


async def devices_of(
    sessionmaker: async_sessionmaker[AsyncSession], membership_id: int
) -> list[LinkedDevice]:
    """The member's devices in the order they were linked."""
    async with sessionmaker() as session:
        return list(
            await session.scalars(
                select(LinkedDevice)
                .where(LinkedDevice.membership_id == membership_id)
                .order_by(LinkedDevice.id)
            )
        )


async def expire_device(sessionmaker: async_sessionmaker[AsyncSession], device_id: int) -> None:
    """Make the stored access token look expired, as it would be an hour later."""
    async with sessionmaker.begin() as session:
        await session.execute(
            update(LinkedDevice)
            .where(LinkedDevice.id == device_id)
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )


# --- signing, as the vendors do --------------------------------------------------------------


def whoop_headers(
    body: bytes, *, secret: str = WHOOP_SECRET, at: datetime | None = None
) -> dict[str, str]:
    stamp = str(int((at or datetime.now(UTC)).timestamp() * 1000))
    digest = hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()
    return {
        "X-WHOOP-Signature": base64.b64encode(digest).decode(),
        "X-WHOOP-Signature-Timestamp": stamp,
        "Content-Type": "application/json",
    }


def oura_headers(
    body: bytes,
    *,
    secret: str = OURA_SECRET,
    at: datetime | None = None,
    milliseconds: bool = False,
) -> dict[str, str]:
    moment = (at or datetime.now(UTC)).timestamp()
    stamp = str(int(moment * 1000) if milliseconds else int(moment))
    digest = hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).hexdigest()
    return {
        "x-oura-signature": digest,
        "x-oura-timestamp": stamp,
        "Content-Type": "application/json",
    }


def whoop_body(sleep_id: str, kind: str = "recovery.updated") -> bytes:
    return json.dumps(
        {"user_id": WHOOP_USER_ID, "id": sleep_id, "type": kind, "trace_id": "trace-1"}
    ).encode()


def oura_body(
    doc_id: str,
    event_type: str = "create",
    data_type: str = "sleep",
    event_time: str | None = "2026-03-10T07:30:00+00:00",
) -> bytes:
    """An Oura notification; ``event_time=None`` leaves it out, as the contract's body does."""
    body = {
        "event_type": event_type,
        "data_type": data_type,
        "object_id": doc_id,
        "event_time": event_time,
        "user_id": OURA_USER_ID,
    }
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()
