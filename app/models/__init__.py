"""All models, imported here so Alembic and the metadata see every table."""

from app.models.base import Base
from app.models.idempotency import IdempotencyKey
from app.models.performance import (
    ATTENDED,
    Attendance,
    AttendanceStatus,
    DailyLoad,
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
    "Attendance",
    "AttendanceStatus",
    "Base",
    "DailyLoad",
    "IdempotencyKey",
    "RefreshToken",
    "Role",
    "Season",
    "SessionRPE",
    "SessionType",
    "Team",
    "TeamMembership",
    "TrainingSession",
    "User",
    "WellnessLog",
]
