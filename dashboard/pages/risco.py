"""Risco de churn: who to call first, and why. Filters live in the URL, so a list can be shared."""

import streamlit as st

from dashboard import reasons, ui
from dashboard.data import risk
from dashboard.data.clients import settings

ui.page("risco")
rows, cache_down = risk.at_risk(settings().risk_list_size)
ui.cache_notice(cache_down)
if rows.empty:
    st.info("Ainda não há risco calculado para os alunos ativos.")
    st.stop()

filters = st.columns([1, 1, 1, 1.4, 1.4])
tiers = filters[0].multiselect(
    "Faixa", ["alto", "medio", "baixo"], key="faixa", bind="query-params", placeholder="Todas"
)
plans = filters[1].multiselect(
    "Plano",
    sorted(rows["plano"].dropna().unique()),
    key="plano",
    bind="query-params",
    placeholder="Todos",
)
bands = filters[2].multiselect(
    "Tempo de casa", list(risk.TENURE_BANDS), key="tempo", bind="query-params", placeholder="Todos"
)
codes = sorted({code for row in rows["codigos_motivos"] for code in row})
motives = filters[3].multiselect(
    "Motivo",
    codes,
    format_func=reasons.label,
    key="motivo",
    bind="query-params",
    placeholder="Todos",
)
search = filters[4].text_input("Buscar por nome", key="busca", bind="query-params")

shown = rows
if tiers:
    shown = shown[shown["faixa_risco"].isin(tiers)]
if plans:
    shown = shown[shown["plano"].isin(plans)]
if bands:
    shown = shown[shown["tempo_de_casa"].isin(bands)]
if motives:
    shown = shown[[bool(set(m) & set(motives)) for m in shown["codigos_motivos"]]]
if search.strip():
    shown = shown[shown["nome"].str.contains(search.strip(), case=False, regex=False)]

VISIBLE = {
    "aluno_id": st.column_config.NumberColumn("ID", format="%d"),
    "nome": st.column_config.TextColumn("Nome"),
    "probabilidade": st.column_config.ProgressColumn(
        "Probabilidade", format="percent", min_value=0, max_value=1
    ),
    "faixa_risco": st.column_config.TextColumn("Faixa"),
    "dias_desde_ultima_visita": st.column_config.NumberColumn("Dias sem vir", format="%d"),
    "tendencia_visitas": st.column_config.NumberColumn(
        "Tendência",
        help="Visitas por semana nas últimas 4 semanas ÷ nas 8 anteriores",
        format="%.2f",
    ),
    "plano": st.column_config.TextColumn("Plano"),
    "fim_contrato": st.column_config.DateColumn("Fim do contrato", format="DD/MM/YYYY"),
    "tempo_de_casa": st.column_config.TextColumn("Tempo de casa"),
    "motivo_1": st.column_config.TextColumn("Motivo 1"),
    "motivo_2": st.column_config.TextColumn("Motivo 2"),
    "motivo_3": st.column_config.TextColumn("Motivo 3"),
}
table = shown[list(VISIBLE)].reset_index(drop=True)
st.caption(
    f"{len(table)} de {len(rows)} alunos com maior risco. Selecione uma linha para abrir o aluno."
)
picked = st.dataframe(
    table,
    placeholder="—",
    column_config=VISIBLE,
    hide_index=True,
    on_select="rerun",
    selection_mode="single-row",
    key="tabela_risco",
)
st.download_button(
    "Exportar CSV",
    data=table.to_csv(index=False, sep=";", decimal=",").encode("utf-8-sig"),
    file_name="alunos_em_risco.csv",
    mime="text/csv",
    icon=":material/download:",
    key="exportar",
)
selected = picked.selection.rows if picked else []
if selected:
    aluno_id = int(table.iloc[selected[0]]["aluno_id"])
    st.switch_page("pages/aluno.py", query_params={"aluno": str(aluno_id)})
