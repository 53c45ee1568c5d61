"""Domain errors. Services raise these; one handler in ``app.main`` renders them as problem+json."""

from typing import Any


class DomainError(Exception):
    """An error the client can act on. Carries its HTTP status so services never import HTTP."""

    status: int = 400
    title: str = "Bad request"

    def __init__(self, detail: str, *, field: tuple[str | int, ...] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field

    def errors(self) -> list[dict[str, Any]] | None:
        """Field-level errors for a 422, so the client knows which input to fix."""
        if self.field is None:
            return None
        return [{"loc": list(self.field), "msg": self.detail, "type": "value_error"}]


class Unauthorized(DomainError):
    status = 401
    title = "Unauthorized"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"


class NotFound(DomainError):
    status = 404
    title = "Not found"


class Conflict(DomainError):
    status = 409
    title = "Conflict"


class Invalid(DomainError):
    """A value that passed the schema but breaks a rule that needs the database to check."""

    status = 422
    title = "Validation error"


class Busy(DomainError):
    """503 with ``Retry-After``: the server is saturated for this kind of work; retry soon."""

    status = 503
    title = "Service unavailable"

    def __init__(self, detail: str, *, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Unavailable(Busy):
    """503 with ``Retry-After``: the database does not answer (or went away mid-request);
    nothing was changed, and the same request may be sent again once it is back."""
