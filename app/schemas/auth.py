"""Accounts and tokens."""

from typing import Literal

from pydantic import EmailStr, Field

from app.models import Role
from app.schemas.base import Schema

POLICY = (
    "8 to 256 characters, not one of the 19,640 most commonly used passwords (compared "
    "lowercased), and not the account's email or the part before its @ (422 otherwise)."
)


class UserCreate(Schema):
    email: EmailStr = Field(max_length=320)
    password: str = Field(min_length=8, max_length=256, description=POLICY)
    full_name: str = Field(min_length=1, max_length=200)
    invitation_token: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Required to claim an account that a team's staff created for this email "
        "(the token of the invitation email, or of the `invitation` in the answer that added "
        "the member); a missing, wrong, used, revoked or expired one -> 409 naming "
        "`invitation_token`. Given for an email that has no account -> 409 as well.",
    )


class User(Schema):
    id: int
    email: str
    full_name: str
    is_admin: bool


class MembershipSummary(Schema):
    id: int
    team_id: int
    team_name: str
    role: Role
    active: bool


class Me(User):
    memberships: list[MembershipSummary]


class Token(Schema):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = Field(description="Seconds until the access token expires.")


class RefreshRequest(Schema):
    refresh_token: str = Field(min_length=1, max_length=200)


class PasswordResetRequest(Schema):
    email: EmailStr = Field(max_length=320)


class PasswordResetConfirm(Schema):
    token: str = Field(min_length=1, max_length=200, description="The token of the reset email.")
    password: str = Field(min_length=8, max_length=256, description=POLICY)


class PasswordResetAccepted(Schema):
    """The one answer of a reset request, whoever the email belongs to."""

    detail: str = Field(
        "If this email belongs to an account, a password reset email is on its way.",
        description="Always this text.",
    )
