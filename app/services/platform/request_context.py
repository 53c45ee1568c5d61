"""The request id of the request being served, for records written deep in the domain
(the audit log) without passing it through every call. Set by the request log middleware;
``None`` in jobs and commands."""

from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("loadline_request_id", default=None)
