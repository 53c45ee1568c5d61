"""GPS external load: the team's webhook secret, the signed webhook and CSV imports."""

from typing import Annotated, Any

from fastapi import APIRouter, File, Header, Request, Response, UploadFile
from pydantic import BaseModel

from app.db import Db
from app.deps import AppSettings, OwnerOf, StaffOf
from app.errors import TooLarge
from app.schemas import external_loads as schemas
from app.schemas.base import PathId, problem_responses
from app.services.integrations import gps, gps_secret
from app.services.loads import gps_csv
from app.services.loads.gps_csv import MAX_IMPORT_BYTES
from app.services.platform import signing

router = APIRouter()


def _inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its ``$defs`` inlined, to document a body read raw."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


async def _read_body(request: Request, limit: int) -> bytes:
    """The raw body, as signed, refused once it grows past ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"A delivery may be at most {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"A delivery may be at most {limit} bytes")
    return bytes(body)


@router.post(
    "/teams/{team_id}/webhook-secret",
    operation_id="create_webhook_secret",
    tags=["gps"],
    status_code=201,
    response_model=schemas.WebhookSecret,
    responses=problem_responses(401, 403, 404),
)
async def create_webhook_secret(
    access: OwnerOf, db: Db, settings: AppSettings, response: Response
) -> schemas.WebhookSecret:
    """A new secret for signing this team's GPS webhook deliveries (owners only).

    It is shown only in this answer and stored encrypted; a new one replaces the old at
    once, so the bridge must be given the new secret.
    """
    response.headers["Cache-Control"] = "no-store"
    secret = await gps_secret.create_webhook_secret(db, settings, access.team)
    return schemas.WebhookSecret(secret=secret)


@router.post(
    "/webhooks/gps/{team_id}",
    operation_id="receive_gps_webhook",
    tags=["webhooks"],
    status_code=202,
    response_model=schemas.GpsReceived,
    responses=problem_responses(400, 401, 413, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _inline_schema(schemas.GpsDelivery)}},
        }
    },
)
async def receive_gps_webhook(
    team_id: PathId,
    request: Request,
    db: Db,
    settings: AppSettings,
    signature: Annotated[
        str | None,
        Header(
            alias=signing.SIGNATURE_HEADER,
            description='"sha256=" + hex HMAC-SHA256(team secret, timestamp + "." + raw body).',
        ),
    ] = None,
    timestamp: Annotated[
        str | None,
        Header(alias=signing.TIMESTAMP_HEADER, description="Epoch seconds; within 5 minutes."),
    ] = None,
) -> schemas.GpsReceived:
    """Receive GPS summaries pushed by a bridge, signed with the team's webhook secret.

    The delivery is stored and acknowledged at once; a job adds the load shortly after.
    A repeated event_id counts once; events of an unknown athlete_ref are skipped.
    """
    body = await _read_body(request, gps.MAX_BODY_BYTES)
    received = await gps.receive(db, settings, team_id, body, signature, timestamp)
    return schemas.GpsReceived(received=received)


@router.post(
    "/teams/{team_id}/external-load/import",
    operation_id="import_external_load",
    tags=["gps"],
    response_model=schemas.ImportResult,
    responses=problem_responses(401, 403, 404, 413, 422),
)
async def import_external_load(
    access: StaffOf,
    db: Db,
    file: Annotated[
        UploadFile,
        File(
            description="CSV, at most 5 MB and 20000 rows: athlete_ref,date,player_load"
            "[,distance_m,hsr_m,sprints], or a Catapult OpenField or STATSports export."
        ),
    ],
) -> schemas.ImportResult:
    """Import GPS load from a CSV (staff). Rows of one athlete and day add up.

    Athletes are found by external_ref, then jersey number, then full name; dates are
    YYYY-MM-DD or DD/MM/YYYY. Rows that cannot be read are listed in ``errors`` (the header
    is line 1) and the rest imported; importing the same file again adds nothing.
    """
    content = await file.read(MAX_IMPORT_BYTES + 1)
    if len(content) > MAX_IMPORT_BYTES:
        raise TooLarge(f"A file may be at most {MAX_IMPORT_BYTES // (1024 * 1024)} MB")
    outcome = await gps_csv.import_csv(db, access.team, content)
    return schemas.ImportResult.model_validate(outcome)
