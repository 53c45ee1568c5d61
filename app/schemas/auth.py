"""Accounts and tokens."""

from typing import Literal

from pydantic import EmailStr, Field

from app.models import Role
from app.schemas.base import Schema


class UserCreate(Schema):
    email: EmailStr = Field(max_length=320)
    password: str = Field(min_length=8, max_length=256)
    full_name: str = Field(min_length=1, max_length=200)


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
