"""Registration, tokens and the caller's own account."""

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from app.db import Db
from app.deps import AppSettings, CurrentUser
from app.schemas import auth as schemas
from app.schemas.base import problem_responses
from app.services.accounts import gates, resets, tokens
from app.services.accounts import service as accounts

router = APIRouter(prefix="/auth", tags=["auth"])


def _token(pair: tokens.TokenPair) -> schemas.Token:
    return schemas.Token(
        access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
    )


RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}
TOO_MANY_ATTEMPTS = {
    "description": "Too many sign-in attempts for this email or from this address (past "
    "the per-email bound, from an address this account has not signed in from lately); "
    "wait the seconds in Retry-After (the right password is refused too until then)",
    "headers": RETRY_AFTER,
}
TOO_MANY_REGISTRATIONS = {
    "description": "Too many registrations from this address; wait the seconds in Retry-After",
    "headers": RETRY_AFTER,
}


def _client_address(request: Request) -> str | None:
    """The peer's address; behind a proxy, uvicorn sets it from X-Forwarded-For when the
    proxy is one of ``LOADLINE_FORWARDED_ALLOW_IPS`` (see ``app.cli.uvicorn_options``)."""
    return request.client.host if request.client else None


@router.post(
    "/register",
    operation_id="register",
    status_code=201,
    response_model=schemas.User,
    responses={**problem_responses(409, 422, 503), 429: TOO_MANY_REGISTRATIONS},
)
async def create(
    body: schemas.UserCreate, request: Request, db: Db, settings: AppSettings
) -> schemas.User:
    """Create an account, or claim the one staff created for this email.

    Throttled per client address: after `LOADLINE_REGISTER_MAX_PER_IP` (default 100)
    registrations (those refused as already registered included) within
    `LOADLINE_REGISTER_WINDOW_MINUTES` (default 60) of the first, a 429 with `Retry-After`
    until the window ends.
    """
    # Counted and committed first, so a refused registration (409) counts as well.
    await gates.admit_registration(
        request.app.state.sessionmaker, settings, ip=_client_address(request)
    )
    user = await accounts.register(
        db,
        email=body.email,
        password=body.password,
        full_name=body.full_name,
        invitation_token=body.invitation_token,
    )
    return schemas.User.model_validate(user)


@router.post(
    "/password-reset",
    operation_id="request_password_reset",
    status_code=202,
    response_model=schemas.PasswordResetAccepted,
    responses=problem_responses(422),
)
async def reset(
    body: schemas.PasswordResetRequest, request: Request, db: Db, settings: AppSettings
) -> schemas.PasswordResetAccepted:
    """Ask for a password reset email. The answer is the same 202 whether or not the email
    has an account, so it tells nobody which emails do.

    For a registered account, an email with a token valid one hour and usable once (when
    email is configured). At most `LOADLINE_RESET_MAX_PER_EMAIL` (default 3) emails
    per address and `LOADLINE_RESET_MAX_PER_IP` (default 20) requests per client
    address are sent within `LOADLINE_RESET_WINDOW_MINUTES` (default 60); past
    them the answer is still 202, and nothing is sent.
    """
    await resets.request(db, settings, email=body.email, ip=_client_address(request))
    return schemas.PasswordResetAccepted()


@router.post(
    "/password-reset/confirm",
    operation_id="confirm_password_reset",
    status_code=204,
    responses={
        **problem_responses(422, 503),
        400: {"description": "A wrong, used or expired token; errors[] names `token`"},
    },
)
async def confirm(body: schemas.PasswordResetConfirm, request: Request) -> Response:
    """Set a new password with the token of a reset email: every refresh token of the
    account is revoked (sign in again everywhere) and the token, like any other open reset
    of the account, cannot be used again.

    A wrong, used or expired token -> 400 naming `token`; a password the rules refuse ->
    422 naming `password`, and the token still works.
    """
    await gates.confirm_password_reset(
        request.app.state.sessionmaker, token=body.token, password=body.password
    )
    return Response(status_code=204)


@router.post(
    "/token",
    operation_id="create_token",
    response_model=schemas.Token,
    responses={**problem_responses(401, 422, 503), 429: TOO_MANY_ATTEMPTS},
)
async def token(
    username: Annotated[str, Form(max_length=320, description="The account's email.")],
    password: Annotated[str, Form(max_length=256)],
    request: Request,
    settings: AppSettings,
) -> schemas.Token:
    """OAuth2 password grant: email and password for an access and a refresh token.

    Throttled against guessing: after `LOADLINE_LOGIN_MAX_ATTEMPTS` (default 5) attempts
    for one email from one address, `LOADLINE_LOGIN_MAX_ATTEMPTS_PER_EMAIL` (default 50)
    failures for one email from all addresses, or `LOADLINE_LOGIN_MAX_ATTEMPTS_PER_IP`
    (default 50) failures from one address, within `LOADLINE_LOGIN_WINDOW_MINUTES`
    (default 15) of the first, every attempt is a 429 with `Retry-After` until the window
    ends. The per-email bound does not apply from an address this account signed in from
    within `LOADLINE_LOGIN_KNOWN_ADDRESS_DAYS` (default 90): guesses from elsewhere never
    lock the owner out there. A success resets the count for its email from its address.
    The client address is the connecting peer, or the X-Forwarded-For address given by a
    proxy in `LOADLINE_FORWARDED_ALLOW_IPS`.
    """
    pair = await gates.sign_in(
        request.app.state.sessionmaker,
        settings,
        email=username,
        password=password,
        ip=_client_address(request),
    )
    return _token(pair)


@router.post(
    "/refresh",
    operation_id="refresh_token",
    response_model=schemas.Token,
    responses=problem_responses(401, 422),
)
async def refresh(
    body: schemas.RefreshRequest, request: Request, settings: AppSettings
) -> schemas.Token:
    """Trade a refresh token for a new pair. Each refresh token works once.

    A used token presented again revokes every token descended from the same sign-in.
    """
    pair = await gates.refresh(request.app.state.sessionmaker, settings, body.refresh_token)
    return _token(pair)


@router.get(
    "/me", operation_id="get_me", response_model=schemas.Me, responses=problem_responses(401)
)
async def get(user: CurrentUser, db: Db) -> schemas.Me:
    memberships = await accounts.get_memberships(db, user.id)
    return schemas.Me(
        id=user.id,
        email=user.email,
        full_name=user.full_name,
        is_admin=user.is_admin,
        memberships=[
            schemas.MembershipSummary(
                id=m.id, team_id=m.team_id, team_name=m.team.name, role=m.role, active=m.active
            )
            for m in memberships
        ],
    )
