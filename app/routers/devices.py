"""Linked devices: connect a Whoop or Oura account (OAuth2), list and unlink them."""

import builtins
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from app.db import Db
from app.deps import CurrentUser, MemberReader, MemberWriter
from app.models import LinkedDevice
from app.schemas import devices as schemas
from app.schemas.base import MAX_ID, PathId, problem_responses
from app.services.integrations import devices, oauth
from app.services.integrations.context import VendorContext
from app.services.integrations.vendor_apps import provider_from_path
from app.services.teams import access as teams

router = APIRouter(tags=["devices"])

ProviderName = Annotated[str, Path(description="`whoop` or `oura`; any other is a 404.")]
QueryId = Annotated[int, Query(ge=-MAX_ID, le=MAX_ID, description="An id (a 32-bit integer).")]
OAuthParam = Annotated[str | None, Query(max_length=2000)]


async def get_vendors(request: Request) -> VendorContext:
    """``async`` so that FastAPI calls it on the event loop, not in its thread pool."""
    vendors: VendorContext = request.app.state.vendors
    return vendors


Vendors = Annotated[VendorContext, Depends(get_vendors)]


def device_out(device: LinkedDevice) -> schemas.Device:
    """Only these fields leave the service: the tokens never do."""
    return schemas.Device(
        id=device.id,
        provider=device.provider,
        external_user_id=device.external_user_id,
        status=device.status,
        linked_at=device.linked_at,
    )


@router.get(
    "/integrations/{provider}/authorize",
    operation_id="authorize_device",
    response_model=schemas.AuthorizationUrl,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def authorize(
    provider: ProviderName,
    membership_id: QueryId,
    user: CurrentUser,
    db: Db,
    vendors: Vendors,
) -> schemas.AuthorizationUrl:
    """The vendor's consent page for this athlete (``provider`` is ``whoop`` or ``oura``).

    The caller must be allowed to write for the membership; the ``state`` in the URL is
    signed, bound to the membership and expires in ten minutes.
    """
    kind = provider_from_path(provider)
    member = await teams.member_access(
        db, user.id, membership_id, write=True, new_entry=("query", "membership_id")
    )
    link = oauth.LinkState(kind, member.membership.id, user.id)
    return schemas.AuthorizationUrl(authorization_url=oauth.authorization_url(vendors, link))


@router.get(
    "/integrations/{provider}/callback",
    operation_id="complete_device_link",
    response_model=schemas.Device,
    responses=problem_responses(400, 403, 404, 409, 422, 502),
)
async def callback(
    provider: ProviderName,
    db: Db,
    vendors: Vendors,
    code: OAuthParam = None,
    state: OAuthParam = None,
    error: OAuthParam = None,
) -> schemas.Device:
    """Where the vendor sends the athlete back: no bearer token, the signed ``state`` instead.

    Exchanges the code, reads the athlete's vendor user id and stores the link. A bad or
    expired state is a 400, and so is a state already used by a callback that linked (a
    state links once); a vendor failure is a 502 (linking again may work).
    """
    kind = provider_from_path(provider)
    device = await oauth.complete_link(db, vendors, kind, code=code, state=state, error=error)
    return device_out(device)


@router.get(
    "/performance/members/{membership_id}/devices",
    operation_id="list_devices",
    response_model=builtins.list[schemas.Device],
    responses=problem_responses(401, 403, 404, 422),
)
async def list(member: MemberReader, db: Db) -> builtins.list[schemas.Device]:
    """The member's linked accounts, oldest first (``reauth_required`` ones included)."""
    found = await devices.list_devices(db, member.membership.id)
    return [device_out(device) for device in found]


@router.delete(
    "/performance/members/{membership_id}/devices/{device_id}",
    operation_id="delete_device",
    status_code=204,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def delete(member: MemberWriter, device_id: PathId, db: Db) -> Response:
    """Unlink: the tokens are deleted; HRV already received from the device is kept."""
    await devices.delete_device(db, member.membership.id, device_id)
    return Response(status_code=204)
