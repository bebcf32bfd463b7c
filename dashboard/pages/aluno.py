"""Aluno: one member's profile, visits, risk history and current reasons; front-desk actions."""

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import auth, charts, member_actions, member_picker, ui
from dashboard import format as fmt
from dashboard.data import member
from dashboard.data.api import ApiError, ApiUnavailable
from dashboard.data.clients import settings

user = ui.page("aluno")
tz = settings().tz


in_url = st.query_params.get("aluno", "")
aluno_id = member_picker.pick("aluno", default=int(in_url) if in_url.isdigit() else None)
if aluno_id is not None:
    st.query_params["aluno"] = str(aluno_id)  # the member's page has a link of its own
if aluno_id is None:
    st.info("Escolha um aluno pela busca ou pela lista de risco.")
    st.stop()
profile = member.profile(aluno_id)
if profile is None:
    st.error(f"Não há aluno com o ID {aluno_id}.")
    st.stop()

st.header(f"{profile.nome} · #{profile.aluno_id}")
if profile.sintetico:
    st.caption(
        ":violet[aluno sintético (criado pelo simulador): fora das listas e dos indicadores]"
    )
cols = st.columns(4)
cols[0].metric("Situação", "ativo" if profile.ativo else "inativo", border=True)
cols[1].metric("Plano", profile.plano, border=True)
cols[2].metric("Mensalidade", f"R$ {fmt.decimal(profile.valor_mensal, 2)}", border=True)
cols[3].metric("Matrícula", fmt.data(profile.data_matricula.date()), border=True)

try:
    details = auth.call("GET", f"/aluno/{aluno_id}").json()
    st.caption(
        f"E-mail: {details.get('email') or '—'} · Telefone: {details.get('telefone') or '—'}"
    )
except ApiUnavailable:
    st.caption("Contato indisponível: a API não respondeu.")
except ApiError as exc:
    st.caption(f"Contato indisponível ({exc.status}).")

risk, cache_down = member.current_risk(aluno_id)
ui.cache_notice(cache_down)
st.subheader("Risco de evasão")
if risk is None:
    st.info("Sem risco calculado para este aluno (inativo, ou ainda não pontuado).")
else:
    left, right = st.columns([1, 2])
    left.metric(
        "Probabilidade em 30 dias",
        fmt.percentual(float(risk["probabilidade"])),
        border=True,
        help=f"Modelo {risk['modelo_nome']} v{risk['modelo_versao']}, referência {risk['data_referencia']}",
    )
    left.caption(f"Faixa: **{risk['faixa_risco']}**")
    with right:
        st.markdown("**Motivos**")
        factors = risk.get("fatores") or []
        for factor in factors:
            st.markdown(f"- {factor['descricao']}")
        if not factors:
            st.caption("Nenhum motivo forte: o aluno está perto do padrão de quem fica.")

history = member.risk_history(aluno_id)
if not history.empty:
    st.markdown("**Histórico de risco** (cada cálculo guardado)")
    st.altair_chart(
        alt.Chart(history)
        .mark_line(point=True)
        .encode(
            x=alt.X(
                "data_referencia:T", title="Data de referência", axis=alt.Axis(format="%d/%m/%Y")
            ),
            y=alt.Y("probabilidade:Q", title="Probabilidade", axis=alt.Axis(format=".0%")),
            color=alt.Color("faixa_risco:N", title="Faixa", scale=charts.TIER_COLORS),
            tooltip=[
                alt.Tooltip("data_referencia:T", title="Referência", format="%d/%m/%Y"),
                alt.Tooltip("probabilidade:Q", title="Probabilidade", format=".1%"),
                alt.Tooltip("modelo_versao:N", title="Versão do modelo"),
            ],
        ),
        width="stretch",
    )

visits = member.visits(aluno_id)
st.subheader("Frequência (últimos 180 dias)")
weekly = member.weekly_visits(visits)
if weekly.empty:
    st.info("Nenhuma visita nos últimos 180 dias.")
else:
    st.altair_chart(
        alt.Chart(weekly)
        .mark_bar()
        .encode(
            x=alt.X("semana:T", title="Semana", axis=alt.Axis(format="%d/%m")),
            y=alt.Y("visitas:Q", title="Visitas na semana"),
            tooltip=[alt.Tooltip("semana:T", title="Semana de", format="%d/%m/%Y"), "visitas:Q"],
        ),
        width="stretch",
    )
    with st.expander(f"Linha do tempo: {len(visits)} registros"):
        timeline = visits.sort_values("ocorrido_em", ascending=False).assign(
            ocorrido_em=lambda d: d["ocorrido_em"].dt.strftime("%d/%m/%Y %H:%M")
        )
        st.dataframe(
            timeline,
            placeholder="—",
            hide_index=True,
            column_config={"ocorrido_em": "Quando", "tipo": "Tipo", "origem": "Origem"},
        )

with st.expander("Histórico de situação"):
    statuses = member.status_history(aluno_id)
    statuses["ocorrido_em"] = (
        pd.to_datetime(statuses["ocorrido_em"], utc=True)
        .dt.tz_convert(tz)
        .dt.strftime("%d/%m/%Y %H:%M")
    )
    statuses["ativo"] = statuses["ativo"].map({True: "ativado", False: "desativado"})
    st.dataframe(
        statuses,
        placeholder="—",
        hide_index=True,
        column_config={"ocorrido_em": "Quando", "ativo": "Mudança", "motivo": "Motivo"},
    )

member_actions.render(aluno_id, profile.ativo, user)
