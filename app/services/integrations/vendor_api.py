"""Calling a linked-device vendor's HTTP API as the athlete, and reading its answers.

A 429 or 5xx, or no answer at all, is a passing failure (:class:`VendorBusy`, honouring
``Retry-After``); an answer we cannot use is a :class:`VendorError`. Messages name the
vendor, the method, the path and the HTTP status only, never a token.
"""

import email.utils
from datetime import timedelta
from typing import Any

import httpx

from app.models.base import utcnow
from app.services.integrations.context import VendorContext
from app.services.integrations.errors import VendorBusy, VendorError
from app.services.integrations.vendor_apps import VendorApp


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


def busy(what: str, response: httpx.Response) -> VendorBusy:
    return VendorBusy(f"{what}: HTTP {response.status_code}", retry_after(response))


def is_busy(response: httpx.Response) -> bool:
    """429 and 5xx pass: retried later, never a reason to give up on a device."""
    return response.status_code == 429 or response.status_code >= 500


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
    if is_busy(response):
        raise busy(what, response)
    if not response.is_success:
        raise VendorError(f"{what}: HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise VendorError(f"{what}: the body is not JSON") from None
    if not isinstance(body, dict):
        raise VendorError(f"{what}: the body is not a JSON object")
    return body
