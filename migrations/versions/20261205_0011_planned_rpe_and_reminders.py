"""planned RPE on sessions, reminder settings on teams, and the reminders sent

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 17:47:14.474864
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('membership_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('wellness', 'srpe', name='reminderkind', native_enum=False, length=16), nullable=False),
    sa.Column('occasion', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['membership_id'], ['team_memberships.id'], name=op.f('fk_reminders_membership_id_team_memberships'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['training_sessions.id'], name=op.f('fk_reminders_session_id_training_sessions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_reminders_team_id_teams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminders')),
    sa.UniqueConstraint('membership_id', 'kind', 'occasion', name=op.f('uq_reminders_membership_id_kind_occasion'))
    )
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reminders_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reminders_team_id'), ['team_id'], unique=False)

    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminder_wellness_at', sa.Time(), nullable=True))
        batch_op.add_column(sa.Column('reminder_srpe_after_minutes', sa.Integer(), nullable=True))

    with op.batch_alter_table('training_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('planned_rpe', sa.Numeric(precision=3, scale=1), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('training_sessions', schema=None) as batch_op:
        batch_op.drop_column('planned_rpe')

    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.drop_column('reminder_srpe_after_minutes')
        batch_op.drop_column('reminder_wellness_at')

    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reminders_team_id'))
        batch_op.drop_index(batch_op.f('ix_reminders_session_id'))

    op.drop_table('reminders')
