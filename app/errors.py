"""Domain errors. Services raise these; one handler in ``app.main`` renders them as problem+json."""

from typing import Any

# Set in a request's ASGI scope by the error handler when the request was refused for who
# the caller is (``DomainError.refuses_access``): an idempotent replay then gets today's
# answer, not the stored one (``app.middleware.idempotency``).
ACCESS_REFUSED = "loadline.access_refused"


class DomainError(Exception):
    """An error the client can act on. Carries its HTTP status so services never import HTTP."""

    status: int = 400
    title: str = "Bad request"
    # The caller may not do this (no or bad credentials, no rights, not theirs to see).
    refuses_access: bool = False

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
    refuses_access = True
    status = 401
    title = "Unauthorized"


class Forbidden(DomainError):
    refuses_access = True
    status = 403
    title = "Forbidden"


class NotFound(DomainError):
    refuses_access = True
    status = 404
    title = "Not found"


class Conflict(DomainError):
    status = 409
    title = "Conflict"


class Inactive(Conflict):
    """409: the caller's own membership is inactive; what it held is kept, it takes no more."""

    refuses_access = True


class Invalid(DomainError):
    """A value that passed the schema but breaks a rule that needs the database to check."""

    status = 422
    title = "Validation error"


class TooLarge(DomainError):
    """413: a body or a file past its size or row limit."""

    status = 413
    title = "Content too large"


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
