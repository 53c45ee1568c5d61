"""Administrators see failed vendor events and can queue them again."""

import httpx

from app.models import InboxStatus, WebhookEvent
from tests.fixtures.actors import Api, Squad


async def _failed_event(api: Api) -> int:
    async with api.sessionmaker.begin() as session:
        event = WebhookEvent(
            provider="whoop",
            event_key="recovery.updated:sleep-1",
            body=b'{"secret": "do not show"}',
            status=InboxStatus.FAILED,
            attempts=8,
            last_error="VendorUnavailable: whoop answered 503",
        )
        session.add(event)
        await session.flush()
        return event.id


async def test_admin_lists_and_retries_failed_events(
    client: httpx.AsyncClient, api: Api, squad: Squad
) -> None:
    event_id = await _failed_event(api)
    listed = await client.get(
        "/admin/webhook-events", params={"status": "failed"}, headers=squad.admin.headers
    )
    assert listed.status_code == 200
    [event] = listed.json()
    assert (event["id"], event["attempts"], event["last_error"]) == (
        event_id,
        8,
        "VendorUnavailable: whoop answered 503",
    )
    assert "do not show" not in listed.text

    retried = await client.post(
        f"/admin/webhook-events/{event_id}/retry", headers=squad.admin.headers
    )
    assert (retried.status_code, retried.json()["status"], retried.json()["attempts"]) == (
        200,
        "pending",
        0,
    )
    again = await client.post(
        f"/admin/webhook-events/{event_id}/retry", headers=squad.admin.headers
    )
    assert again.status_code == 409
    missing = await client.post("/admin/webhook-events/999999/retry", headers=squad.admin.headers)
    assert missing.status_code == 404


async def test_only_admins_see_the_inbox(client: httpx.AsyncClient, squad: Squad) -> None:
    assert (await client.get("/admin/webhook-events")).status_code == 401
    for actor in (squad.owner, squad.coach, squad.player):
        response = await client.get("/admin/webhook-events", headers=actor.headers)
        assert response.status_code == 403
