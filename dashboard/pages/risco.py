"""Risco de churn: who to call first, and why. Filters live in the URL, so a list can be shared."""

import streamlit as st

from dashboard import reasons, ui
from dashboard.data import risk
from dashboard.data.clients import settings

ui.page("risco")
listed, cache_down = risk.at_risk(settings().risk_list_size)
ui.cache_notice(cache_down)
if listed.empty:
    st.info("Ainda não há risco calculado para os alunos ativos.")
    st.stop()
rows = listed.rows

# In a popover: the browser draws the five widgets only once it is opened. Drawn on every visit,
# they were the largest part of the page's time beyond the table's (about 35 ms of 70 in
# Chromium). Still bound to the URL while closed; the caption says which are set.
with st.popover("Filtros", icon=":material/filter_list:"):
    tiers = st.multiselect(
        "Faixa", ["alto", "medio", "baixo"], key="faixa", bind="query-params", placeholder="Todas"
    )
    plans = st.multiselect(
        "Plano", listed.plans, key="plano", bind="query-params", placeholder="Todos"
    )
    bands = st.multiselect(
        "Tempo de casa",
        list(risk.TENURE_BANDS),
        key="tempo",
        bind="query-params",
        placeholder="Todos",
    )
    motives = st.multiselect(
        "Motivo",
        listed.reason_codes,
        format_func=reasons.label,
        key="motivo",
        bind="query-params",
        placeholder="Todos",
    )
    search = st.text_input("Buscar por nome", key="busca", bind="query-params")

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
if shown is rows:  # no filter set: the table and its CSV built once per cached list
    table, export = listed.table, listed.csv
else:
    table = risk.table_of(shown)
    export = risk.csv_of(table)

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
# The filters that are set, with their values: the popover may be closed (a shared link).
active = [
    f"{name}: {', '.join(values)}"
    for name, values in (
        ("faixa", tiers),
        ("plano", plans),
        ("tempo de casa", bands),
        ("motivo", [reasons.label(code) for code in motives]),
    )
    if values
]
if search.strip():
    active.append(f"nome contém “{search.strip()}”")
st.caption(
    f"{len(table)} de {len(rows)} alunos com maior risco"
    + (f" ({'; '.join(active)})" if active else "")
    + ". Selecione uma linha para abrir o aluno."
)
picked = st.dataframe(
    table,
    placeholder="—",
    # Every column of the table needs its format here (a KeyError, not a bare column).
    column_config={name: VISIBLE[name] for name in risk.TABLE_COLUMNS},
    hide_index=True,
    on_select="rerun",
    selection_mode="single-row",
    key="tabela_risco",
)
st.download_button(
    "Exportar CSV",
    data=export,
    file_name="alunos_em_risco.csv",
    mime="text/csv",
    icon=":material/download:",
    key="exportar",
)
selected = picked.selection.rows if picked else []
if selected:
    aluno_id = int(table.iloc[selected[0]]["aluno_id"])
    st.switch_page("pages/aluno.py", query_params={"aluno": str(aluno_id)})
