"""The ranked at-risk list (Risco de churn): the Redis list the scoring flow writes, else the same
rows from `alunos_em_risco` (migration 0006), which the API's list and the Redis list read too."""

import hashlib
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import orjson
import pandas as pd
import streamlit as st

from dashboard.data.clients import cache, settings
from dashboard.data.sql import shared_frame

RISK_LIST_KEY = "gp:risco:lista"  # written by serving.scores after every batch
COLUMNS = (
    "aluno_id",
    "nome",
    "probabilidade",
    "faixa_risco",
    "dias_desde_ultima_visita",
    "tendencia_visitas",
    "plano_id",
    "plano",
    "fim_contrato",
    "data_matricula",
    "fatores",
)
# Tenure bands the retention team works with: the first 90 days carry most of the churn.
TENURE_BANDS = ("0–3 meses", "3–6 meses", "6–12 meses", "mais de 12 meses")


def _tenure_bands(joined: pd.Series, today: date) -> pd.Series:
    """The band of each join date; none where the date is missing (a list cached by an older
    version, say)."""
    months = (pd.Timestamp(today) - pd.to_datetime(joined)).dt.days / 30.4375
    bands = pd.cut(months, bins=[-np.inf, 3, 6, 12, np.inf], right=False, labels=TENURE_BANDS)
    return bands.astype(object).where(bands.notna(), None)


def _frame(items: list[dict[str, Any]]) -> pd.DataFrame:
    data = pd.DataFrame(items, columns=list(COLUMNS))
    for column in ("fim_contrato", "data_matricula"):
        data[column] = pd.to_datetime(data[column]).dt.date
    today = datetime.now(UTC).astimezone(settings().tz).date()
    data["tempo_de_casa"] = _tenure_bands(data["data_matricula"], today)
    factors = [f if isinstance(f, list) else [] for f in data["fatores"]]
    for i in range(3):
        data[f"motivo_{i + 1}"] = [f[i]["descricao"] if len(f) > i else None for f in factors]
    data["codigos_motivos"] = [[f["fator"] for f in row] for row in factors]
    return data.drop(columns=["fatores"])


@st.cache_data(max_entries=4, show_spinner=False)
def _frame_of_list(digest: str, _raw: bytes, limit: int) -> pd.DataFrame:  # noqa: ARG001 - key
    """The table of a cached list, built once per list the flow writes (its digest is the key:
    a new batch is a new list, so nothing stale is ever shown)."""
    return _frame(orjson.loads(_raw)[:limit])


def at_risk(limit: int) -> tuple[pd.DataFrame, bool]:
    """(ranked rows, whether the cache was down), highest probability first."""
    raw, cache_up = cache().get_raw(RISK_LIST_KEY)
    if raw is not None:
        digest = hashlib.blake2b(raw, digest_size=16).hexdigest()
        return _frame_of_list(digest, raw, limit), False
    rows = shared_frame(
        f"select {', '.join(COLUMNS)} from alunos_em_risco(:fuso) where not sintetico "
        "order by probabilidade desc, aluno_id limit :limit",
        fuso=settings().gym_timezone,
        limit=limit,
    )
    return _frame(
        [{str(k): v for k, v in row.items()} for row in rows.to_dict("records")]
    ), not cache_up
