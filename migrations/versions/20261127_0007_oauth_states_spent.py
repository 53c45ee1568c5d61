"""oauth states spent

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('oauth_states_spent',
    sa.Column('jti', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('jti', name=op.f('pk_oauth_states_spent'))
    )
    with op.batch_alter_table('oauth_states_spent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_states_spent_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('oauth_states_spent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oauth_states_spent_expires_at'))

    op.drop_table('oauth_states_spent')
