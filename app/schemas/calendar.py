"""The team calendar feed's token."""

from pydantic import Field

from app.schemas.base import Schema


class CalendarToken(Schema):
    token: str = Field(
        description="The feed's secret; shown only in this answer. It revokes the previous one."
    )
    url: str = Field(description="The feed's address with the token, to subscribe to.")
