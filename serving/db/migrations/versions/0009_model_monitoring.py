"""the champion's drift and calibration monitor, one night at a time

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04

Written by the nightly flow's monitor step through `serving.monitoring` (its one writer), read by
the dashboard's Modelo page (read-only role):

- `monitoramento_drift`: the PSI of each feature and of the score distribution of the night's
  batch against the champion's training period, and whether it passed 0.2;
- `monitoramento_calibracao`: for scoring dates whose 30 days had closed by that night, per
  month of the scoring date and risk tier (`todas` for the whole month), the mean predicted
  probability against the share of those members who really cancelled, the gap in percentage
  points and whether it passed 2.

Each row names the night (`data_referencia`) and the model version watched; a night run again
replaces its own rows, so history is one set of rows per night and model.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "gympulse_dashboard"
TABLES = ("monitoramento_drift", "monitoramento_calibracao")


def upgrade() -> None:
    op.execute(
        """
        create table monitoramento_drift (
            id bigint generated always as identity primary key,
            data_referencia date not null,
            modelo_nome text not null,
            modelo_versao text not null,
            variavel text not null,
            psi double precision not null check (psi >= 0),
            alerta boolean not null,
            calculado_em timestamptz not null default now(),
            constraint uq_monitoramento_drift unique (data_referencia, modelo_nome, variavel)
        )
        """
    )
    op.execute(
        """
        create table monitoramento_calibracao (
            id bigint generated always as identity primary key,
            data_referencia date not null,
            modelo_nome text not null,
            modelo_versao text not null,
            mes date not null,
            faixa_risco text not null
                check (faixa_risco in ('alto', 'medio', 'baixo', 'todas')),
            datas_pontuacao integer not null,
            pontuacoes integer not null,
            prevista double precision not null,
            realizada double precision not null,
            diferenca_pp double precision not null,
            alerta boolean not null,
            calculado_em timestamptz not null default now(),
            constraint uq_monitoramento_calibracao
                unique (data_referencia, modelo_nome, mes, faixa_risco)
        )
        """
    )
    op.execute(f"grant select on {', '.join(TABLES)} to {ROLE}")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"drop table {table}")
