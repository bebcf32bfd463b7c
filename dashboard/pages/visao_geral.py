"""Visão geral: how many members, how often they come, how many leave, and how fresh the scores
are (an analyst must never act on stale scores without being told)."""

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import charts, ui
from dashboard import format as fmt
from dashboard.data import overview
from dashboard.data.clients import settings

ui.page("visao_geral")
tz = settings().tz
activity = overview.activity()
scores = overview.scores()
ui.cache_notice(scores.cache_down)

with st.container(horizontal=True, key="kpis"):
    st.metric("Alunos ativos", fmt.inteiro(activity.active_members), border=True)
    st.metric("Check-ins hoje", fmt.inteiro(activity.checkins_today), border=True)
    st.metric("Check-ins em 7 dias", fmt.inteiro(activity.checkins_7d), border=True)
    st.metric("Check-ins em 30 dias", fmt.inteiro(activity.checkins_30d), border=True)

st.subheader("Atualização dos dados")
with st.container(horizontal=True, key="freshness"):
    st.metric(
        "Modelo em uso",
        f"{scores.model_name} v{scores.model_version}" if scores.model_version else "nenhum",
        border=True,
    )
    st.metric("Último cálculo de risco", fmt.data_hora(scores.scored_at, tz), border=True)
    st.metric(
        "Último check-in processado", fmt.data_hora(activity.last_checkin_written, tz), border=True
    )
if scores.scored_at is None:
    st.warning("Ainda não há risco calculado: rode o pipeline (Operações → Recalcular risco).")
elif scores.stale():
    st.warning(
        f"Riscos desatualizados: calculados em {fmt.data_hora(scores.scored_at, tz)} com dados "
        f"até {fmt.data(scores.as_of)}, há mais de {settings().dashboard_stale_scores_hours} h. "
        "Confira antes de agir."
    )

st.subheader("Alunos por faixa de risco")
tiers = pd.DataFrame({"faixa": list(scores.per_tier), "alunos": list(scores.per_tier.values())})
st.altair_chart(
    alt.Chart(tiers)
    .mark_bar()
    .encode(
        x=alt.X("faixa:N", title="Faixa", sort=list(overview.TIERS), axis=alt.Axis(labelAngle=0)),
        y=alt.Y("alunos:Q", title="Alunos"),
        color=alt.Color("faixa:N", scale=charts.TIER_COLORS, legend=None),
        tooltip=[alt.Tooltip("faixa:N", title="Faixa"), alt.Tooltip("alunos:Q", title="Alunos")],
    ),
    width="stretch",
)

movement = overview.movement()
if movement.empty:
    st.info(
        "O movimento mensal aparece depois do primeiro build do warehouse (gympulse dbt build)."
    )
    st.stop()
# The month in progress would read as a sudden drop in churn: rates use complete months.
complete = movement[movement["is_mes_completo"]]
last = complete.iloc[-1] if not complete.empty else movement.iloc[-1]
month = pd.Timestamp(last["mes"]).strftime("%m/%Y")
st.subheader("Movimento de alunos por mês")
st.caption(
    "Evasão mensal (IHRSA) = cancelamentos no mês ÷ ativos no início do mês. Retenção em 12 meses = "
    "parcela dos ativos no início do mês, 12 meses antes, que seguem ativos."
)
with st.container(horizontal=True, key="movement"):
    st.metric(
        f"Evasão em {month}",
        fmt.percentual(last["taxa_churn_mensal"]),
        border=True,
        help="Referência IHRSA: 3,4 % ao mês",
    )
    st.metric(
        "Retenção em 12 meses",
        fmt.percentual(last["retencao_12m"]),
        border=True,
        help="Referência IHRSA: 67 %. Precisa de 12 meses de história da academia.",
    )
    st.metric(f"Matrículas em {month}", fmt.inteiro(last["matriculas"]), border=True)
    st.metric(f"Cancelamentos em {month}", fmt.inteiro(last["cancelamentos"]), border=True)
if not movement["is_mes_completo"].iloc[-1]:
    st.caption(
        f"O mês corrente conta até {fmt.data(pd.Timestamp(movement['data_fim_medicao'].iloc[-1]).date())} "
        "e fica fora das taxas."
    )

flows = movement.melt(
    id_vars="mes",
    value_vars=["matriculas", "cancelamentos"],
    var_name="movimento",
    value_name="alunos",
)
st.altair_chart(
    alt.Chart(flows)
    .mark_bar()
    .encode(
        x=alt.X("yearmonth(mes):O", title="Mês"),
        xOffset="movimento:N",
        y=alt.Y("alunos:Q", title="Alunos"),
        color=alt.Color("movimento:N", title=None),
        tooltip=["yearmonth(mes):O", "movimento:N", "alunos:Q"],
    ),
    width="stretch",
)
left, right = st.columns(2)
with left:
    st.altair_chart(
        charts.line_with_benchmark(
            complete,
            "mes",
            "taxa_churn_mensal",
            "Evasão mensal",
            overview.IHRSA_MONTHLY_CHURN,
            "IHRSA: 3,4 % ao mês",
        ),
        width="stretch",
    )
with right:
    st.altair_chart(
        charts.line_with_benchmark(
            complete.dropna(subset=["retencao_12m"]),
            "mes",
            "retencao_12m",
            "Retenção em 12 meses",
            overview.IHRSA_12_MONTH_RETENTION,
            "IHRSA: 67 %",
        ),
        width="stretch",
    )
