"""a read-only database role for the dashboard

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

The dashboard reads PostgreSQL as `gympulse_dashboard`, never as the owner: SELECT on the tables
its pages read and nothing else, so a bug or an injected query in a page cannot write, and cannot
read what no page shows (login hashes, refresh tokens, kiosk keys, members' e-mail, phone and
birth date). Every change goes through the API with the user's token. The warehouse marts are
granted by dbt (`+grants` in dbt_project.yml), since each build recreates them.

A role belongs to the whole server, so it is created once and kept by the downgrade when another
database still grants it something; its grants belong to this database.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "gympulse_dashboard"
READABLE_TABLES = (
    "planos",
    "alunos_status_historico",
    "checkins",
    "previsoes_churn",
    "previsoes_churn_atuais",
)
# Members' contact details and birth date stay out: the profile shows them from the API, which
# checks the user's role.
READABLE_MEMBER_COLUMNS = (
    "id",
    "aluno_ref",
    "nome",
    "plano_id",
    "data_matricula",
    "ativo",
    "criado_em",
    "atualizado_em",
)


def upgrade() -> None:
    op.execute(
        f"""
        do $$ begin
            if not exists (select from pg_roles where rolname = '{ROLE}') then
                create role {ROLE} login nosuperuser nocreatedb nocreaterole noinherit;
            end if;
        end $$
        """
    )
    op.execute(f"grant usage on schema public to {ROLE}")
    op.execute(f"grant select on {', '.join(READABLE_TABLES)} to {ROLE}")
    op.execute(f"grant select ({', '.join(READABLE_MEMBER_COLUMNS)}) on alunos to {ROLE}")
    # Reads must not hold locks or run away: a page's query never blocks a check-in batch.
    op.execute(
        f"alter role {ROLE} set default_transaction_read_only = on; "
        f"alter role {ROLE} set statement_timeout = '15s'"
    )


def downgrade() -> None:
    op.execute(f"revoke select ({', '.join(READABLE_MEMBER_COLUMNS)}) on alunos from {ROLE}")
    op.execute(f"revoke select on {', '.join(READABLE_TABLES)} from {ROLE}")
    op.execute(f"revoke usage on schema public from {ROLE}")
