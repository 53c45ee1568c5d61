"""The failures the integrations share: a vendor that is busy or answers nonsense, a body
that is not the vendor's, a device that can no longer be used.

:class:`VendorBusy` is the inbox's :class:`~app.services.integrations.inbox.RetryLater`:
an event whose vendor is busy is tried again later, honouring its ``Retry-After``.
"""

from app.errors import DomainError
from app.services.integrations.inbox import RetryLater


class BadRequest(DomainError):
    """400: a bad OAuth state or code, or a webhook body that is not the vendor's JSON."""


class VendorBusy(RetryLater):
    """The vendor answered 429 or 5xx, or not at all: a passing failure, retried later."""


class VendorError(Exception):
    """The vendor answered something we cannot use (an unexpected 4xx, a body not JSON)."""


class DeviceUnusable(Exception):
    """The device is not active (or just stopped being): skip it, do not fail the job."""
