"""Coortes: how each join month's members stay, and how long members last by plan and by
contract length (Kaplan–Meier, scikit-survival)."""

import altair as alt
import streamlit as st

from dashboard import format as fmt
from dashboard import ui
from dashboard.data import cohorts

ui.page("coortes")
cells = cohorts.retention()
as_of = cohorts.as_of()
if cells.empty or as_of is None:
    st.info("As coortes aparecem depois do primeiro build do warehouse (gympulse dbt build).")
    st.stop()

st.subheader("Retenção por mês de matrícula")
st.caption(
    f"Parcela de cada coorte ainda ativa ao fim de cada mês desde a matrícula (no mês corrente, em "
    f"{fmt.data(as_of)}). Em destaque, os meses 0 a 2: os primeiros 90 dias, quando mais alunos saem."
)
heat = cells.assign(
    coorte=cells["mes_coorte"].map(lambda m: m.strftime("%m/%Y")),
    primeiros_90_dias=cells["meses_desde_matricula"].isin(cohorts.FIRST_90_DAYS_MONTHS),
    rotulo=cells["taxa_retencao"].map(lambda r: fmt.percentual(r, 0)),
)
order = sorted(heat["coorte"].unique(), key=lambda c: (c[3:], c[:2]))
base = alt.Chart(heat).encode(
    x=alt.X("meses_desde_matricula:O", title="Meses desde a matrícula"),
    y=alt.Y("coorte:N", title="Coorte", sort=order),
)
st.altair_chart(
    alt.layer(
        base.mark_rect().encode(
            color=alt.Color(
                "taxa_retencao:Q",
                title="Retenção",
                scale=alt.Scale(scheme="greens", domain=[0, 1]),
                legend=alt.Legend(format="%"),
            ),
            stroke=alt.condition("datum.primeiros_90_dias", alt.value("#d1495b"), alt.value(None)),
            strokeWidth=alt.condition("datum.primeiros_90_dias", alt.value(2), alt.value(0)),
            tooltip=[
                alt.Tooltip("coorte:N", title="Coorte"),
                alt.Tooltip("meses_desde_matricula:O", title="Mês"),
                alt.Tooltip("taxa_retencao:Q", title="Retenção", format=".1%"),
                alt.Tooltip("count_alunos_ativos:Q", title="Ativos"),
                alt.Tooltip("count_alunos_coorte:Q", title="Tamanho da coorte"),
            ],
        ),
        base.mark_text(fontSize=10).encode(
            text="rotulo:N",
            color=alt.condition(
                "datum.taxa_retencao > 0.6", alt.value("white"), alt.value("black")
            ),
        ),
    ),
    width="stretch",
    key="matriz_coortes",
)
matrix = cohorts.retention_matrix(cells)
month_columns = [c for c in matrix.columns if c.startswith("mês ")]
st.dataframe(
    matrix,
    placeholder="—",
    hide_index=True,
    column_config={
        "coorte": st.column_config.TextColumn("Coorte"),
        "alunos": st.column_config.NumberColumn("Alunos", format="%d"),
    }
    | {
        c: st.column_config.NumberColumn(
            f"{c} ★" if int(c.split()[1]) in cohorts.FIRST_90_DAYS_MONTHS else c,
            format="percent",
            help="primeiros 90 dias" if int(c.split()[1]) in cohorts.FIRST_90_DAYS_MONTHS else None,
        )
        for c in month_columns
    },
    key="tabela_coortes",
)

st.subheader("Sobrevivência (Kaplan–Meier)")
st.caption(
    "Dias desde a ativação atual de cada aluno (a matrícula, para quase todos) até o cancelamento; "
    f"quem segue ativo conta até {fmt.data(as_of)} (censurado). Faixas: intervalo de 95 % (log-log). "
    "Quem cancelou e voltou conta a partir da volta."
)
members = cohorts.spells(as_of)
by = st.segmented_control(
    "Agrupar por",
    list(cohorts.GROUPINGS),
    format_func=cohorts.GROUPINGS.__getitem__,
    default="plano",
    key="km_grupo",
    required=True,
)
curves = cohorts.survival_curves(members, by or "plano")
survival = alt.Chart(curves).encode(
    x=alt.X("dias:Q", title="Dias desde a ativação"),
    color=alt.Color("grupo:N", title=cohorts.GROUPINGS[by or "plano"]),
)
st.altair_chart(
    alt.layer(
        survival.mark_area(opacity=0.18, interpolate="step-after").encode(
            y=alt.Y(
                "inferior:Q",
                title="Alunos ainda ativos",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
            ),
            y2="superior:Q",
        ),
        survival.mark_line(interpolate="step-after").encode(
            y="sobrevivencia:Q",
            tooltip=[
                alt.Tooltip("grupo:N", title="Grupo"),
                alt.Tooltip("dias:Q", title="Dias"),
                alt.Tooltip("sobrevivencia:Q", title="Ainda ativos", format=".1%"),
                alt.Tooltip("inferior:Q", title="IC 95 % inferior", format=".1%"),
                alt.Tooltip("superior:Q", title="IC 95 % superior", format=".1%"),
            ],
        ),
    ),
    width="stretch",
    key="kaplan_meier",
)
milestones = None
for days in (90, 180, 365):
    at_day = cohorts.survival_at(curves, days)
    milestones = at_day if milestones is None else milestones.merge(at_day, on=["grupo", "alunos"])
st.dataframe(
    milestones,
    placeholder="—",
    hide_index=True,
    column_config={
        "grupo": st.column_config.TextColumn(cohorts.GROUPINGS[by or "plano"]),
        "alunos": st.column_config.NumberColumn("Alunos", format="%d"),
    }
    | {
        f"{d} dias": st.column_config.NumberColumn(f"Ativos aos {d} dias", format="percent")
        for d in (90, 180, 365)
    },
    key="marcos_sobrevivencia",
)
