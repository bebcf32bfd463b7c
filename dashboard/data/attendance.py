"""Frequência: visits as dbt pairs them (`int_visits`, the rule of serving/sql/pair_visits.sql)
and members' active periods (`int_alunos_status_periodos`), synthetic students left out. Every
date and hour is gym-local, as the warehouse writes them."""

from datetime import date

import pandas as pd

from dashboard.data.clients import settings
from dashboard.data.sql import NOT_SYNTHETIC, shared_frame, warehouse

WEEKDAYS = ("seg", "ter", "qua", "qui", "sex", "sáb", "dom")  # ISO 1..7
# Visits in a month; 4 and 12 are once and three times a week over a four-week month.
SEGMENTS = ("sem visitas", "1–3 por mês", "1–2 por semana", "3+ por semana")
_SEGMENT_CASE = f"""
    case
        when visitas = 0 then '{SEGMENTS[0]}'
        when visitas < 4 then '{SEGMENTS[1]}'
        when visitas < 12 then '{SEGMENTS[2]}'
        else '{SEGMENTS[3]}'
    end
"""


def _visits() -> str:
    """The period's visits (not the orphan exits) of real members, with the member's plan."""
    return f"""
        select v.aluno_id, v.entrada, v.duracao_minutos, v.data_local, v.hora_local, a.plano_id
        from {warehouse("int_visits")} v
        join alunos a on a.id = v.aluno_id
        where v.evento = 'visita' and {NOT_SYNTHETIC}
            and v.data_local between :inicio and :fim
    """


def last_day() -> date | None:
    """The newest gym-local day with a visit: periods end there, not at today's date, so a
    warehouse built yesterday shows whole days."""
    found = shared_frame(f"select max(data_local) as dia from {warehouse('int_visits')}")
    day = found["dia"].iloc[0]
    return None if pd.isna(day) else pd.Timestamp(day).date()


def first_day() -> date | None:
    found = shared_frame(f"select min(data_local) as dia from {warehouse('int_visits')}")
    day = found["dia"].iloc[0]
    return None if pd.isna(day) else pd.Timestamp(day).date()


def weekday_hour(inicio: date, fim: date) -> pd.DataFrame:
    """dia_semana (1 = Monday), hora, visitas, and visitas_por_dia: the average over the
    period's days of that weekday."""
    counts = shared_frame(
        f"""
        select cast(extract(isodow from data_local) as integer) as dia_semana,
               hora_local as hora, count(*) as visitas
        from ({_visits()}) v
        group by 1, 2
        order by 1, 2
        """,
        inicio=inicio,
        fim=fim,
    )
    days = pd.Series(pd.date_range(inicio, fim, freq="D").dayofweek + 1).value_counts()
    counts["visitas_por_dia"] = counts["visitas"] / counts["dia_semana"].map(days)
    counts["dia"] = counts["dia_semana"].map(lambda d: WEEKDAYS[d - 1])
    return counts


def daily(inicio: date, fim: date) -> pd.DataFrame:
    """One row per day of the period (days without a visit too): dia, visitas, alunos."""
    return shared_frame(
        f"""
        with visitas as ({_visits()})
        select cast(d as date) as dia,
               count(v.aluno_id) as visitas,
               count(distinct v.aluno_id) as alunos
        from generate_series(cast(:inicio as date), cast(:fim as date), interval '1 day') d
        left join visitas v on v.data_local = cast(d as date)
        group by 1
        order by 1
        """,
        inicio=inicio,
        fim=fim,
    )


def occupancy(inicio: date, fim: date) -> pd.DataFrame:
    """Members in the gym per hour of the day, averaged over the period's days: each visit
    fills the hours between its entry and exit; a visit without an exit (the kiosk missed
    it) lasts the period's average visit."""
    by_hour = shared_frame(
        f"""
        with visitas as ({_visits()}),
        intervalos as (
            -- a scalar subquery runs once (a joined aggregate was re-run per visit)
            select v.entrada at time zone :tz as de,
                   v.entrada at time zone :tz
                       + coalesce(
                           v.duracao_minutos,
                           (select coalesce(avg(duracao_minutos), 60) from visitas)
                       ) * interval '1 minute' as ate
            from visitas v
        ),
        fatias as (
            select h, greatest(i.de, h) as de, least(i.ate, h + interval '1 hour') as ate
            from intervalos i
            cross join generate_series(date_trunc('hour', i.de), i.ate, interval '1 hour') h
        )
        select cast(extract(hour from h) as integer) as hora,
               sum(extract(epoch from ate - de)) / 3600.0 as horas_aluno
        from fatias
        where ate > de
        group by 1
        """,
        inicio=inicio,
        fim=fim,
        tz=settings().gym_timezone,
    )
    days = (fim - inicio).days + 1
    hours = pd.DataFrame({"hora": range(24)})
    merged = hours.merge(by_hour, on="hora", how="left").fillna({"horas_aluno": 0.0})
    merged["ocupacao_media"] = merged["horas_aluno"].astype(float) / days
    return merged[["hora", "ocupacao_media"]]


def durations(inicio: date, fim: date) -> pd.Series:
    """visitas, sem_saida (visits whose exit is missing) and duracao_media (minutes)."""
    return shared_frame(
        f"""
        select count(*) as visitas,
               count(*) filter (where duracao_minutos is null) as sem_saida,
               avg(duracao_minutos) as duracao_media
        from ({_visits()}) v
        """,
        inicio=inicio,
        fim=fim,
    ).iloc[0]


def by_plan(inicio: date, fim: date) -> pd.DataFrame:
    """Visits per plan (the member's current plan): plano, visitas, alunos, visitas_por_aluno."""
    plans = shared_frame(
        f"""
        select p.nome as plano, count(*) as visitas, count(distinct v.aluno_id) as alunos
        from ({_visits()}) v
        join planos p on p.id = v.plano_id
        group by p.nome
        order by visitas desc, p.nome
        """,
        inicio=inicio,
        fim=fim,
    )
    plans["visitas_por_aluno"] = plans["visitas"] / plans["alunos"]
    return plans


def _member_months(first_month: str, last_day_param: str) -> str:
    """Per (month, member active at the month's last counted day): visits in the month and the
    engagement segment. The current month is counted up to `last_day_param`."""
    return f"""
        with meses as (
            select cast(m as date) as mes,
                   least(cast(m + interval '1 month' - interval '1 day' as date), {last_day_param})
                       as fim_medicao
            from generate_series(
                date_trunc('month', cast({first_month} as date)),
                date_trunc('month', cast({last_day_param} as date)),
                interval '1 month'
            ) m
        ),
        ativos as (
            select meses.mes, p.aluno_id
            from meses
            join {warehouse("int_alunos_status_periodos")} p
                on p.data_inicio <= meses.fim_medicao
                and (p.data_fim is null or p.data_fim > meses.fim_medicao)
            join alunos a on a.id = p.aluno_id
            where {NOT_SYNTHETIC}
        ),
        visitas_mes as (
            select cast(date_trunc('month', data_local) as date) as mes, aluno_id,
                   count(*) as visitas
            from {warehouse("int_visits")}
            where evento = 'visita'
                and data_local >= date_trunc('month', cast({first_month} as date))
                and data_local <= {last_day_param}
            group by 1, 2
        ),
        por_aluno as (
            select ativos.mes, ativos.aluno_id, coalesce(visitas_mes.visitas, 0) as visitas
            from ativos
            left join visitas_mes using (mes, aluno_id)
        )
        select mes, aluno_id, visitas, {_SEGMENT_CASE} as segmento from por_aluno
    """


def segment_counts(first_month: date, until: date) -> pd.DataFrame:
    """mes, segmento, alunos: active members per engagement segment and month."""
    return shared_frame(
        f"""
        select mes, segmento, count(*) as alunos
        from ({_member_months(":primeiro", ":ultimo")}) m
        group by mes, segmento
        order by mes, segmento
        """,
        primeiro=first_month,
        ultimo=until,
    )


def segment_transitions(month: date, until: date) -> pd.DataFrame:
    """anterior, atual, alunos: how the members active at the end of both the previous month
    and `month` moved between segments."""
    previous = (pd.Timestamp(month) - pd.DateOffset(months=1)).date()
    return shared_frame(
        f"""
        with m as ({_member_months(":anterior", ":ultimo")})
        select antes.segmento as anterior, agora.segmento as atual, count(*) as alunos
        from m antes
        join m agora on agora.aluno_id = antes.aluno_id
        where antes.mes = :anterior and agora.mes = :mes
        group by 1, 2
        """,
        anterior=previous,
        mes=month,
        ultimo=min(until, (pd.Timestamp(month) + pd.offsets.MonthEnd(0)).date()),
    )
