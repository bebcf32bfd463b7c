"""Coortes: the join-month retention matrix (dbt's `cohort_retention`) and Kaplan–Meier survival
of members' current spell, by plan and by contract length.

A member's current spell is the latest active period of `int_alunos_status_periodos` that began
on or before the warehouse's as-of date: from that activation (the join, for nearly everyone) to
the first deactivation after it, the event, or to the as-of date, censored. A member who
cancelled and came back counts once, from the return."""

from datetime import date

import numpy as np
import pandas as pd
import streamlit as st
from sksurv.nonparametric import kaplan_meier_estimator  # type: ignore[import-untyped]

from dashboard.data.sql import NOT_SYNTHETIC, TTL_SECONDS, shared_frame, warehouse

# The first three months since joining (0, 1, 2) are the first 90 days, when most members leave.
FIRST_90_DAYS_MONTHS = (0, 1, 2)
GROUPINGS = {"plano": "Plano", "duracao_meses": "Duração do contrato"}


def retention() -> pd.DataFrame:
    """mes_coorte, meses_desde_matricula, data_medicao, count_alunos_coorte,
    count_alunos_ativos, taxa_retencao (one row per cell of the matrix)."""
    data = shared_frame(
        f"select * from {warehouse('cohort_retention')} order by mes_coorte, meses_desde_matricula"
    )
    data["taxa_retencao"] = data["taxa_retencao"].astype(float)
    return data


def retention_matrix(cells: pd.DataFrame) -> pd.DataFrame:
    """Join months down, months since joining across, retention rates in the cells."""
    matrix = cells.pivot(
        index="mes_coorte", columns="meses_desde_matricula", values="taxa_retencao"
    )
    sizes = cells.groupby("mes_coorte")["count_alunos_coorte"].first()
    matrix.columns = [f"mês {m}" for m in matrix.columns]
    matrix.insert(0, "alunos", sizes)
    matrix.index = [pd.Timestamp(m).strftime("%m/%Y") for m in matrix.index]
    matrix.index.name = "coorte"
    return matrix.reset_index()


def as_of() -> date | None:
    """The warehouse's as-of date: the day the last cohort cell was measured."""
    found = shared_frame(f"select max(data_medicao) as dia from {warehouse('cohort_retention')}")
    day = found["dia"].iloc[0]
    return None if pd.isna(day) else pd.Timestamp(day).date()


def spells(day: date) -> pd.DataFrame:
    """aluno_id, plano, duracao_meses, dias (spell length) and cancelou (the event)."""
    return shared_frame(
        f"""
        with atual as (
            select distinct on (p.aluno_id) p.aluno_id, p.data_inicio, p.data_fim
            from {warehouse("int_alunos_status_periodos")} p
            where p.data_inicio <= :dia
            order by p.aluno_id, p.numero_periodo desc
        )
        select atual.aluno_id, pl.nome as plano, pl.duracao_meses,
               least(coalesce(atual.data_fim, :dia), :dia) - atual.data_inicio as dias,
               coalesce(atual.data_fim <= :dia, false) as cancelou
        from atual
        join alunos a on a.id = atual.aluno_id
        join planos pl on pl.id = a.plano_id
        where {NOT_SYNTHETIC}
        """,
        dia=day,
    )


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def survival_curves(members: pd.DataFrame, by: str) -> pd.DataFrame:
    """grupo, dias, sobrevivencia and its 95 % band (inferior, superior): scikit-survival's
    Kaplan–Meier estimator with log-log confidence intervals, one curve per group, starting
    at (0 days, 100 %)."""
    curves = []
    for group, part in members.groupby(by, sort=True):
        time, survival, band = kaplan_meier_estimator(
            part["cancelou"].to_numpy(dtype=bool),
            part["dias"].to_numpy(dtype=float),
            conf_type="log-log",
        )
        label = f"{group} meses" if by == "duracao_meses" else str(group)
        start = pd.DataFrame(
            {"dias": [0.0], "sobrevivencia": [1.0], "inferior": [1.0], "superior": [1.0]}
        )
        curve = pd.DataFrame(
            {"dias": time, "sobrevivencia": survival, "inferior": band[0], "superior": band[1]}
        )
        if len(curve) and curve["dias"].iloc[0] == 0:
            start = start.iloc[0:0]
        curve = pd.concat([start, curve], ignore_index=True)
        curve.insert(0, "grupo", label)
        curve.insert(1, "alunos", len(part))
        curves.append(curve)
    if not curves:
        return pd.DataFrame(
            columns=["grupo", "alunos", "dias", "sobrevivencia", "inferior", "superior"]
        )
    result = pd.concat(curves, ignore_index=True)
    # The band is undefined where the curve reaches 0 (log-log): the curve itself bounds it.
    result["inferior"] = result["inferior"].fillna(result["sobrevivencia"])
    result["superior"] = result["superior"].fillna(result["sobrevivencia"])
    return result


def survival_at(curves: pd.DataFrame, days: int) -> pd.DataFrame:
    """grupo, alunos, sobrevivencia at `days` (the step function's value then), per group;
    NaN past a group's longest observed spell."""
    rows = []
    for group, curve in curves.groupby("grupo", sort=False):
        seen = curve[curve["dias"] <= days]
        value = float(seen["sobrevivencia"].iloc[-1]) if curve["dias"].max() >= days else np.nan
        rows.append({"grupo": group, "alunos": int(curve["alunos"].iloc[0]), f"{days} dias": value})
    return pd.DataFrame(rows)
