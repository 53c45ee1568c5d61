"""What the service says of itself to orchestrators and load balancers."""

from typing import Literal

from app.schemas.base import Schema


class Health(Schema):
    """The process runs."""

    status: Literal["ok"]


class Readiness(Schema):
    """The database answered a query within a second (else the answer is a 503 problem)."""

    status: Literal["ok"]
