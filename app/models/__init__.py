"""All models, imported here so Alembic and the metadata see every table."""

from app.models.alerts import Alert, AlertKind, Severity
from app.models.base import Base
from app.models.idempotency import IdempotencyKey
from app.models.integrations import (
    DailyHRV,
    DeviceStatus,
    ExternalLoad,
    ExternalLoadSource,
    HrvSource,
    InboxStatus,
    LinkedDevice,
    Provider,
    SpentOAuthState,
    WebhookEvent,
)
from app.models.outbound import (
    DeliveryStatus,
    OutboundDelivery,
    OutboundMemberStatus,
    OutboundWebhook,
)
from app.models.performance import (
    ATTENDED,
    AcwrSnapshot,
    AcwrState,
    Attendance,
    AttendanceStatus,
    DailyLoad,
    LoadSource,
    SessionRPE,
    SessionType,
    TrainingSession,
    WellnessLog,
)
from app.models.teams import STAFF_ROLES, AcwrMethod, Role, Season, Team, TeamMembership
from app.models.users import RefreshToken, User

__all__ = [
    "ATTENDED",
    "STAFF_ROLES",
    "AcwrMethod",
    "AcwrSnapshot",
    "AcwrState",
    "Alert",
    "AlertKind",
    "Attendance",
    "AttendanceStatus",
    "Base",
    "DailyHRV",
    "DailyLoad",
    "DeliveryStatus",
    "DeviceStatus",
    "ExternalLoad",
    "ExternalLoadSource",
    "HrvSource",
    "IdempotencyKey",
    "InboxStatus",
    "LinkedDevice",
    "LoadSource",
    "OutboundDelivery",
    "OutboundMemberStatus",
    "OutboundWebhook",
    "Provider",
    "RefreshToken",
    "Role",
    "Season",
    "SessionRPE",
    "SessionType",
    "Severity",
    "SpentOAuthState",
    "Team",
    "TeamMembership",
    "TrainingSession",
    "User",
    "WebhookEvent",
    "WellnessLog",
]
