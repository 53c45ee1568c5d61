"""outbound member availability

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Members already tracked for status.changed start from "available": a receiver that
    # subscribes to availability.changed hears of every member who is not.
    with op.batch_alter_table('outbound_member_statuses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('availability', sa.String(length=16), server_default='available', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('outbound_member_statuses', schema=None) as batch_op:
        batch_op.drop_column('availability')
