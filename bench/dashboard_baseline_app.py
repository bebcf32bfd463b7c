"""The floor the dashboard's risk page is compared with (`bench.dashboard_render`): a bare
Streamlit app of two pages, the second of which reads the at-risk list the scoring flow writes
to Redis (`gp:risco:lista`) and shows the same twelve columns with a plain `st.dataframe`. No
login, no role check, no filters, no column formats, no fallback to PostgreSQL.

    streamlit run bench/dashboard_baseline_app.py   (REDIS_URL from the environment)

It imports nothing of the project, so what it costs is Streamlit's own work.
"""

import os

import orjson
import pandas as pd
import redis
import streamlit as st

RISK_LIST_KEY = "gp:risco:lista"
COLUMNS = [
    "aluno_id",
    "nome",
    "probabilidade",
    "faixa_risco",
    "dias_desde_ultima_visita",
    "tendencia_visitas",
    "plano",
    "fim_contrato",
    "tempo_de_casa",
    "motivo_1",
    "motivo_2",
    "motivo_3",
]


@st.cache_resource
def _redis() -> redis.Redis:
    return redis.Redis.from_url(os.environ["REDIS_URL"])


def start() -> None:
    st.title("Início")


def risk() -> None:
    st.title("Risco de churn")
    items = orjson.loads(_redis().get(RISK_LIST_KEY) or b"[]")
    table = pd.DataFrame(items)
    table["tempo_de_casa"] = table["data_matricula"]
    for i in range(3):
        table[f"motivo_{i + 1}"] = [
            factors[i]["descricao"] if len(factors) > i else None for factors in table["fatores"]
        ]
    st.dataframe(table[COLUMNS], hide_index=True)


st.navigation(
    [
        st.Page(start, title="Início", url_path="inicio", default=True),
        st.Page(risk, title="Risco de churn", url_path="risco"),
    ]
).run()
