"""Frequência: when members come, how full the gym is, which plans come most, and how engaged
members are month to month (synthetic students left out)."""

from datetime import timedelta

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import format as fmt
from dashboard import ui
from dashboard.data import attendance

ui.page("frequencia")
last = attendance.last_day()
first = attendance.first_day()
if last is None or first is None:
    st.info(
        "Ainda não há visitas no warehouse: rode `gympulse dbt build` depois dos primeiros check-ins."
    )
    st.stop()

SEGMENT_COLORS = alt.Scale(
    domain=list(attendance.SEGMENTS), range=["#d1495b", "#e0a526", "#8cb369", "#2e7d4f"]
)
PERIODS = {
    30: "Últimos 30 dias",
    90: "Últimos 90 dias",
    180: "Últimos 180 dias",
    365: "Últimos 365 dias",
}
days = st.selectbox(
    "Período",
    list(PERIODS),
    index=1,
    format_func=PERIODS.__getitem__,
    key="periodo",
    bind="query-params",
)
start = max(first, last - timedelta(days=days - 1))
st.caption(
    f"De {fmt.data(start)} a {fmt.data(last)} (último dia com visitas), no fuso da academia."
)

summary = attendance.durations(start, last)
with st.container(horizontal=True, key="resumo_frequencia"):
    st.metric("Visitas no período", fmt.inteiro(summary["visitas"]), border=True)
    st.metric(
        "Visitas por dia", fmt.decimal(summary["visitas"] / ((last - start).days + 1)), border=True
    )
    st.metric("Duração média", f"{fmt.decimal(summary['duracao_media'], 0)} min", border=True)
    st.metric("Visitas sem saída registrada", fmt.inteiro(summary["sem_saida"]), border=True)

st.subheader("Dia da semana × hora")
grid = attendance.weekday_hour(start, last)
st.altair_chart(
    alt.Chart(grid)
    .mark_rect()
    .encode(
        x=alt.X("hora:O", title="Hora"),
        y=alt.Y("dia:N", title=None, sort=list(attendance.WEEKDAYS)),
        color=alt.Color(
            "visitas_por_dia:Q", title="Visitas por dia", scale=alt.Scale(scheme="blues")
        ),
        tooltip=[
            alt.Tooltip("dia:N", title="Dia"),
            alt.Tooltip("hora:O", title="Hora"),
            alt.Tooltip("visitas_por_dia:Q", title="Visitas por dia", format=".1f"),
            alt.Tooltip("visitas:Q", title="Visitas no período"),
        ],
    ),
    width="stretch",
    key="mapa_semana_hora",
)

st.subheader("Visitas por dia")
series = attendance.daily(start, last)
st.altair_chart(
    alt.Chart(series.melt(id_vars="dia", var_name="medida", value_name="total"))
    .mark_line()
    .encode(
        x=alt.X("dia:T", title="Dia", axis=alt.Axis(format="%d/%m")),
        y=alt.Y("total:Q", title=None),
        color=alt.Color(
            "medida:N",
            title=None,
            scale=alt.Scale(domain=["visitas", "alunos"], range=["#1f77b4", "#9ecae1"]),
            legend=alt.Legend(labelExpr="datum.label == 'alunos' ? 'alunos distintos' : 'visitas'"),
        ),
        tooltip=[
            alt.Tooltip("dia:T", title="Dia", format="%d/%m/%Y"),
            alt.Tooltip("medida:N", title="Medida"),
            alt.Tooltip("total:Q", title="Total"),
        ],
    ),
    width="stretch",
    key="serie_diaria",
)

left, right = st.columns(2)
with left:
    st.subheader("Ocupação estimada por hora")
    st.altair_chart(
        alt.Chart(attendance.occupancy(start, last))
        .mark_bar()
        .encode(
            x=alt.X("hora:O", title="Hora"),
            y=alt.Y("ocupacao_media:Q", title="Alunos na academia (média)"),
            tooltip=[
                alt.Tooltip("hora:O", title="Hora"),
                alt.Tooltip("ocupacao_media:Q", title="Alunos (média)", format=".1f"),
            ],
        ),
        width="stretch",
        key="ocupacao",
    )
    st.caption(
        "Cada visita ocupa as horas entre a entrada e a saída; sem saída registrada, conta a "
        f"duração média do período ({fmt.decimal(summary['duracao_media'], 0)} min)."
    )
with right:
    st.subheader("Visitas por plano")
    plans = attendance.by_plan(start, last)
    st.altair_chart(
        alt.Chart(plans)
        .mark_bar()
        .encode(
            x=alt.X("visitas:Q", title="Visitas"),
            y=alt.Y("plano:N", title=None, sort="-x"),
            tooltip=[
                alt.Tooltip("plano:N", title="Plano"),
                alt.Tooltip("visitas:Q", title="Visitas"),
                alt.Tooltip("alunos:Q", title="Alunos"),
                alt.Tooltip("visitas_por_aluno:Q", title="Visitas por aluno", format=".1f"),
            ],
        ),
        width="stretch",
        key="visitas_plano",
    )
    st.caption("Pelo plano atual de cada aluno.")

st.subheader("Engajamento por mês")
st.caption(
    "Alunos ativos no último dia do mês (no mês corrente, no último dia com visitas), pelas "
    "visitas no mês: sem visitas; 1–3; 4–11 (1–2 por semana); 12 ou mais (3+ por semana)."
)
months = pd.date_range(
    pd.Timestamp(first).replace(day=1), pd.Timestamp(last), freq="MS"
).date.tolist()
complete = [m for m in months if (pd.Timestamp(m) + pd.offsets.MonthEnd(0)).date() <= last]


def _month_label(month) -> str:
    partial = "" if month in complete else " (parcial)"
    return f"{month.strftime('%m/%Y')}{partial}"


choices = months[1:] or months
default = complete[-1] if len(complete) > 1 else choices[-1]
month = st.selectbox(
    "Mês", choices, index=choices.index(default), format_func=_month_label, key="mes_engajamento"
)
counts = attendance.segment_counts(months[max(0, len(months) - 12)], last)
in_month = counts[counts["mes"] == month].set_index("segmento")["alunos"]
with st.container(horizontal=True, key="segmentos"):
    for segment in attendance.SEGMENTS:
        st.metric(segment, fmt.inteiro(int(in_month.get(segment, 0))), border=True)
st.altair_chart(
    alt.Chart(counts)
    .mark_bar()
    .encode(
        x=alt.X("yearmonth(mes):O", title="Mês"),
        y=alt.Y("alunos:Q", title="Alunos ativos", stack="normalize", axis=alt.Axis(format="%")),
        color=alt.Color(
            "segmento:N", title=None, scale=SEGMENT_COLORS, sort=list(attendance.SEGMENTS)
        ),
        order=alt.Order("ordem:Q"),
        tooltip=[
            alt.Tooltip("yearmonth(mes):O", title="Mês"),
            alt.Tooltip("segmento:N", title="Segmento"),
            alt.Tooltip("alunos:Q", title="Alunos"),
        ],
    )
    .transform_calculate(ordem=f"indexof({list(attendance.SEGMENTS)}, datum.segmento)"),
    width="stretch",
    key="segmentos_por_mes",
)

previous = (pd.Timestamp(month) - pd.DateOffset(months=1)).date()
st.markdown(
    f"**Como os alunos mudaram de segmento: {_month_label(previous)} → {_month_label(month)}**"
)
moves = attendance.segment_transitions(month, last)
matrix = (
    moves.pivot(index="anterior", columns="atual", values="alunos")
    .reindex(index=list(attendance.SEGMENTS), columns=list(attendance.SEGMENTS))
    .fillna(0)
    .astype(int)
)
matrix.index.name = f"em {previous.strftime('%m/%Y')}"
st.dataframe(matrix, key="transicoes", placeholder="—")
st.caption(
    f"Linhas: segmento em {previous.strftime('%m/%Y')}; colunas: em {month.strftime('%m/%Y')}. "
    "Só os alunos ativos no fim dos dois meses."
)
