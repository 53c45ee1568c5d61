"""What the Schemathesis run (``tests/fuzz``) found, kept as plain regression tests.

Each test names the request the fuzzer sent (or the class of request, when it found one
instance of it) and the answer the contract wants.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.fixtures.actors import Api, Squad

PROBLEM = "application/problem+json"


def assert_problem(
    response: httpx.Response, status: int, loc: tuple[str, ...] | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status, problem
    if loc is not None:
        locs = [tuple(error["loc"]) for error in problem["errors"]]
        assert loc in locs, (loc, locs)
    return problem


async def _openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    schema: dict[str, Any] = response.json()
    return schema


# ---- 400 for a body that cannot be parsed was sent but not documented ----


@pytest.mark.parametrize(
    "body",
    [b'{"team_id": 1, "title": ', b"`\xff\xfe.}"],
    ids=["truncated-json", "not-utf-8"],
)
async def test_unparsable_body_is_a_documented_400(
    client: httpx.AsyncClient, squad: Squad, body: bytes
) -> None:
    """Found on POST /performance/sessions with the body ``b"`\\xff\\xfe.}"``: a 400
    problem, while the operation documented 201, 401, 403, 404 and 422 only."""
    response = await client.post(
        "/performance/sessions",
        content=body,
        headers={**squad.coach.headers, "Content-Type": "application/json"},
    )
    assert_problem(response, 400)
    schema = await _openapi(client)
    documented = schema["paths"]["/performance/sessions"]["post"]["responses"]
    assert PROBLEM in documented["400"]["content"]


async def test_every_operation_with_a_body_documents_400(client: httpx.AsyncClient) -> None:
    schema = await _openapi(client)
    missing = [
        f"{method.upper()} {path}"
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation and "400" not in operation["responses"]
    ]
    assert not missing, missing


# ---- list_sessions answered an undocumented 404 for a team the caller is not in ----


async def test_sessions_of_an_unknown_team_are_a_documented_404(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    """Found with ``GET /performance/sessions?team_id=-2147483647``."""
    for team_id in (-2147483647, 999_999_999):
        response = await client.get(
            "/performance/sessions", params={"team_id": team_id}, headers=squad.player.headers
        )
        assert_problem(response, 404)
    schema = await _openapi(client)
    assert "404" in schema["paths"]["/performance/sessions"]["get"]["responses"]


# ---- an HRV date given as a number was read as a Unix time (1970-01-01) ----


@pytest.mark.parametrize("day", [0, 999_993_600, "1999-12-31", "1970-01-01"])
async def test_hrv_date_must_be_a_day_within_the_window(
    client: httpx.AsyncClient, squad: Squad, day: Any
) -> None:
    """Found with ``{"date": 0, "rmssd_ms": 5e-324, "source": "MANUAL"}``: 201, stored on
    1970-01-01. A date is ``YYYY-MM-DD`` between 2000 and 2100, as for every other date."""
    m = squad.player_membership["id"]
    response = await client.post(
        f"/performance/members/{m}/hrv",
        json={"date": day, "rmssd_ms": 60, "source": "MANUAL"},
        headers=squad.player.headers,
    )
    assert_problem(response, 422, ("body", "date"))


# ---- the same for every date: a Unix time or a date-time was read as a date ----


@pytest.mark.parametrize("day", [999_993_600, "999993600", "2026-01-05T00:00:00"])
async def test_wellness_date_is_a_plain_day(
    client: httpx.AsyncClient, squad: Squad, day: Any
) -> None:
    response = await client.post(
        "/performance/wellness",
        json={
            "membership_id": squad.player_membership["id"],
            "date": day,
            "sleep_quality": 4,
            "mood": 4,
            "soreness": 4,
        },
        headers=squad.player.headers,
    )
    assert_problem(response, 422, ("body", "date"))


async def test_season_dates_are_plain_days(client: httpx.AsyncClient, squad: Squad) -> None:
    response = await client.post(
        f"/teams/{squad.team['id']}/seasons",
        json={"name": "2026", "start_date": 1_767_225_600, "end_date": "2026-12-31"},
        headers=squad.owner.headers,
    )
    assert_problem(response, 422, ("body", "start_date"))


@pytest.mark.parametrize("day", ["999993600", "2026-01-05T00:00:00", "20260105"])
@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/performance/members/{m}/daily-loads", "from"),
        ("/performance/members/{m}/daily-loads", "to"),
        ("/performance/members/{m}/wellness", "from"),
        ("/teams/{team}/dashboard", "date"),
    ],
)
async def test_query_days_are_plain_days(
    client: httpx.AsyncClient, squad: Squad, path: str, name: str, day: str
) -> None:
    url = path.format(m=squad.player_membership["id"], team=squad.team["id"])
    response = await client.get(url, params={name: day}, headers=squad.coach.headers)
    assert_problem(response, 422, ("query", name))


async def test_query_days_still_accept_a_day(client: httpx.AsyncClient, squad: Squad) -> None:
    m = squad.player_membership["id"]
    response = await client.get(
        f"/performance/members/{m}/daily-loads",
        params={"from": "2026-01-01", "to": "2026-01-07"},
        headers=squad.coach.headers,
    )
    assert response.status_code == 200, response.text
    assert [day["date"] for day in response.json()][::6] == ["2026-01-01", "2026-01-07"]


# ---- a datetime given as a numeric string was read as a Unix time in UTC ----


@pytest.mark.parametrize("start", ["1700000000", "1700000000.5"])
async def test_session_start_is_an_rfc3339_date_time(
    client: httpx.AsyncClient, squad: Squad, api: Api, start: str
) -> None:
    """A naive datetime is a 422 by the contract; a Unix time has no offset either."""
    end = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    response = await client.post(
        "/performance/sessions",
        json={"team_id": squad.team["id"], "title": "Scrums", "start": start, "end": end},
        headers=squad.coach.headers,
    )
    assert_problem(response, 422, ("body", "start"))
    created = await api.session(squad.team, squad.coach)  # an RFC 3339 start still works
    assert created["start"].endswith("Z") or created["start"].endswith("+00:00")


# ---- an over-long Idempotency-Key is refused only when the caller has a token ----


async def test_over_long_idempotency_key_on_an_anonymous_post_is_a_422(
    client: httpx.AsyncClient,
) -> None:
    """Found on POST /auth/register: a 256-character key, 201."""
    response = await client.post(
        "/auth/register",
        json={"email": "long-key@example.com", "password": "long enough", "full_name": "K"},
        headers={"Idempotency-Key": "k" * 256},
    )
    assert_problem(response, 422, ("header", "Idempotency-Key"))


async def test_over_long_idempotency_key_with_a_token_is_a_422(
    client: httpx.AsyncClient, squad: Squad
) -> None:
    response = await client.post(
        "/teams",
        json={"name": "Long keys"},
        headers={**squad.coach.headers, "Idempotency-Key": "k" * 256},
    )
    assert_problem(response, 422, ("header", "Idempotency-Key"))


# ---- /metrics without LOADLINE_METRICS_TOKEN: open, while documented as token-only ----


async def test_metrics_without_credentials_is_refused_or_documented_as_allowed(
    client: httpx.AsyncClient,
) -> None:
    """Found on GET /metrics with no Authorization header: 200, where the schema says a
    bearer token is required. Either answer 401 or document ``security: [{}, ...]``."""
    response = await client.get("/metrics")
    schema = await _openapi(client)
    security = schema["paths"]["/metrics"]["get"].get("security", [])
    assert response.status_code == 401 or not security or {} in security, security
