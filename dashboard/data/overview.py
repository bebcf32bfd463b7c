"""Visão geral: live counts from the tables, the monthly member movement from the dbt mart (the
one definition of churn and retention the daily report also uses), tiers and freshness from the
KPI summary the scoring flow writes to Redis."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd

from dashboard.data.clients import cache, settings
from dashboard.data.sql import NOT_SYNTHETIC, shared_frame, warehouse

KPI_KEY = "gp:kpis:churn"  # written by serving.scores after every batch
TIERS = ("baixo", "medio", "alto")
IHRSA_MONTHLY_CHURN = 0.034
IHRSA_12_MONTH_RETENTION = 0.67


@dataclass(frozen=True)
class Activity:
    active_members: int
    checkins_today: int
    checkins_7d: int
    checkins_30d: int
    last_checkin_written: datetime | None


@dataclass(frozen=True)
class Scores:
    model_name: str | None
    model_version: str | None
    as_of: date | None
    scored_at: datetime | None
    per_tier: dict[str, int]
    cache_down: bool

    @property
    def data_until(self) -> datetime | None:
        """The newest moment the scores know of: when they were computed, or the end of their
        as-of day when that came first (a backfill, or a past as-of scored today, reads old
        data however recently it ran)."""
        if self.scored_at is None or self.as_of is None:
            return self.scored_at
        as_of_ends = datetime.combine(self.as_of + timedelta(days=1), time(), tzinfo=settings().tz)
        return min(self.scored_at, as_of_ends)

    def stale(self, now: datetime | None = None) -> bool:
        if self.data_until is None:
            return True
        age = (now or datetime.now(UTC)) - self.data_until
        return age.total_seconds() > settings().dashboard_stale_scores_hours * 3600


def activity() -> Activity:
    row = shared_frame(
        f"""
        with dia as (select (date_trunc('day', now() at time zone :tz)) at time zone :tz as hoje)
        select
            (select count(*) from alunos a where a.ativo and {NOT_SYNTHETIC}) as ativos,
            count(c.checkin_id) filter (where c.ocorrido_em >= dia.hoje) as hoje,
            count(c.checkin_id) filter (where c.ocorrido_em >= dia.hoje - interval '6 days') as d7,
            count(c.checkin_id) as d30,
            (select max(gravado_em) from (
                select gravado_em from checkins order by ocorrido_em desc limit 1000
            ) recentes) as ultimo_gravado
        from dia
        -- Synthetic members' entries are dropped inside the join, so a window holding only
        -- theirs (or none) still yields the one row of zeros.
        left join (checkins c join alunos a on a.id = c.aluno_id and {NOT_SYNTHETIC})
            on c.tipo = 'entrada' and c.ocorrido_em >= dia.hoje - interval '29 days'
        group by dia.hoje
        """,
        tz=settings().gym_timezone,
    ).iloc[0]
    last = row["ultimo_gravado"]
    return Activity(
        active_members=int(row["ativos"]),
        checkins_today=int(row["hoje"]),
        checkins_7d=int(row["d7"]),
        checkins_30d=int(row["d30"]),
        last_checkin_written=None if pd.isna(last) else pd.Timestamp(last).to_pydatetime(),
    )


def _scores_from_kpis(kpis: dict[str, Any]) -> Scores:
    return Scores(
        model_name=kpis["modelo_nome"],
        model_version=str(kpis["modelo_versao"]),
        as_of=date.fromisoformat(kpis["data_referencia"]),
        scored_at=datetime.fromisoformat(kpis["calculado_em"]),
        per_tier={tier: int(kpis["por_faixa"].get(tier, 0)) for tier in TIERS},
        cache_down=False,
    )


def scores() -> Scores:
    kpis, cache_up = cache().get_json(KPI_KEY)
    if kpis is not None:
        return _scores_from_kpis(kpis)
    # A synthetic student scored on demand is no scoring of the gym's members.
    latest = shared_frame(
        "select p.modelo_nome, p.modelo_versao, p.data_referencia, p.calculado_em "
        f"from previsoes_churn p join alunos a on a.id = p.aluno_id where {NOT_SYNTHETIC} "
        "order by p.id desc limit 1"
    )
    tiers = shared_frame(
        f"""
        select p.faixa_risco, count(*) as alunos
        from previsoes_churn_atuais p join alunos a on a.id = p.aluno_id
        where a.ativo and {NOT_SYNTHETIC}
        group by p.faixa_risco
        """
    )
    per_tier = dict.fromkeys(TIERS, 0) | dict(
        zip(tiers["faixa_risco"], tiers["alunos"].astype(int), strict=True)
    )
    if latest.empty:
        return Scores(None, None, None, None, per_tier, cache_down=not cache_up)
    first = latest.iloc[0]
    return Scores(
        model_name=str(first["modelo_nome"]),
        model_version=str(first["modelo_versao"]),
        as_of=pd.Timestamp(first["data_referencia"]).date(),
        scored_at=pd.Timestamp(first["calculado_em"]).to_pydatetime(),
        per_tier=per_tier,
        cache_down=not cache_up,
    )


def movement() -> pd.DataFrame:
    """One row per month: mes, ativos_inicio, matriculas, cancelamentos, ativos_fim,
    taxa_churn_mensal, retencao_12m (definitions in the mart's yml)."""
    return shared_frame(f"select * from {warehouse('mart_member_movement_monthly')} order by mes")
