"""health problems, stages and ostrc answers

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 15:16:55.767592
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('health_problems',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('membership_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('INJURY', 'ILLNESS', name='problemkind', native_enum=False, length=16), nullable=False),
    sa.Column('onset_date', sa.Date(), nullable=False),
    sa.Column('context', sa.Enum('TRAINING', 'MATCH', 'OTHER', name='problemcontext', native_enum=False, length=16), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('body_area', sa.Enum('HEAD', 'NECK', 'SHOULDER', 'UPPER_ARM', 'ELBOW', 'FOREARM', 'WRIST', 'HAND', 'CHEST', 'THORACIC_SPINE', 'LUMBAR_SPINE', 'ABDOMEN', 'PELVIS', 'HIP_GROIN', 'THIGH', 'KNEE', 'LOWER_LEG', 'ANKLE', 'FOOT', 'MULTIPLE', 'UNSPECIFIED', name='bodyarea', native_enum=False, length=16), nullable=True),
    sa.Column('side', sa.Enum('LEFT', 'RIGHT', 'BOTH', 'NONE', name='side', native_enum=False, length=16), nullable=True),
    sa.Column('mechanism', sa.Enum('ACUTE', 'GRADUAL', name='mechanism', native_enum=False, length=16), nullable=True),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('expected_return', sa.Date(), nullable=True),
    sa.Column('resolved_on', sa.Date(), nullable=True),
    sa.Column('reported_by', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('diagnosis', sa.Text(), nullable=True),
    sa.Column('osiics_code', sa.String(length=16), nullable=True),
    sa.Column('clinical_notes', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint('expected_return IS NULL OR expected_return >= onset_date', name=op.f('ck_health_problems_return')),
    sa.CheckConstraint('resolved_on IS NULL OR resolved_on >= onset_date', name=op.f('ck_health_problems_resolved')),
    sa.ForeignKeyConstraint(['membership_id'], ['team_memberships.id'], name=op.f('fk_health_problems_membership_id_team_memberships'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reported_by'], ['users.id'], name=op.f('fk_health_problems_reported_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['session_id'], ['training_sessions.id'], name=op.f('fk_health_problems_session_id_training_sessions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_health_problems_team_id_teams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_health_problems'))
    )
    with op.batch_alter_table('health_problems', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_health_problems_membership_id_onset_date'), ['membership_id', 'onset_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_health_problems_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_health_problems_team_id_onset_date'), ['team_id', 'onset_date'], unique=False)

    op.create_table('health_problem_stages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('problem_id', sa.Integer(), nullable=False),
    sa.Column('from_date', sa.Date(), nullable=False),
    sa.Column('availability', sa.Enum('UNAVAILABLE', 'MODIFIED', 'FULL', name='availability', native_enum=False, length=16), nullable=False),
    sa.ForeignKeyConstraint(['problem_id'], ['health_problems.id'], name=op.f('fk_health_problem_stages_problem_id_health_problems'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_health_problem_stages_team_id_teams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_health_problem_stages')),
    sa.UniqueConstraint('problem_id', 'from_date', name=op.f('uq_health_problem_stages_problem_id_from_date'))
    )
    op.create_table('ostrc_answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('membership_id', sa.Integer(), nullable=False),
    sa.Column('week', sa.String(length=8), nullable=False),
    sa.Column('week_monday', sa.Date(), nullable=False),
    sa.Column('problem_id', sa.Integer(), nullable=True),
    sa.Column('problem_key', sa.Integer(), nullable=False),
    sa.Column('q1', sa.Integer(), nullable=False),
    sa.Column('q2', sa.Integer(), nullable=False),
    sa.Column('q3', sa.Integer(), nullable=False),
    sa.Column('q4', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint('q1 BETWEEN 0 AND 3 AND q4 BETWEEN 0 AND 3', name=op.f('ck_ostrc_answers_q1_q4')),
    sa.CheckConstraint('q2 BETWEEN 0 AND 4 AND q3 BETWEEN 0 AND 4', name=op.f('ck_ostrc_answers_q2_q3')),
    sa.ForeignKeyConstraint(['membership_id'], ['team_memberships.id'], name=op.f('fk_ostrc_answers_membership_id_team_memberships'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['problem_id'], ['health_problems.id'], name=op.f('fk_ostrc_answers_problem_id_health_problems'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_ostrc_answers_team_id_teams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ostrc_answers')),
    sa.UniqueConstraint('membership_id', 'week', 'problem_key', name=op.f('uq_ostrc_answers_membership_id_week_problem_key'))
    )
    with op.batch_alter_table('ostrc_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ostrc_answers_team_id_week'), ['team_id', 'week'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('ostrc_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ostrc_answers_team_id_week'))

    op.drop_table('ostrc_answers')
    op.drop_table('health_problem_stages')
    with op.batch_alter_table('health_problems', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_health_problems_team_id_onset_date'))
        batch_op.drop_index(batch_op.f('ix_health_problems_session_id'))
        batch_op.drop_index(batch_op.f('ix_health_problems_membership_id_onset_date'))

    op.drop_table('health_problems')
