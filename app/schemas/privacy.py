"""Export and erasure requests."""

from pydantic import Field

from app.schemas.base import Schema


class AccountErasure(Schema):
    password: str = Field(
        min_length=1, max_length=256, description="The account's password, to confirm."
    )
