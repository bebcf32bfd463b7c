"""The ranked at-risk list (Risco de churn): the Redis list the scoring flow writes, else the same
rows from `alunos_em_risco` (migration 0006), which the API's list and the Redis list read too."""

import hashlib
from dataclasses import dataclass
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
# The page's table and its CSV export, in this order.
TABLE_COLUMNS = (
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
)


@dataclass(frozen=True)
class AtRisk:
    """The ranked rows and what the page derives from them alone, built once per cached list.
    Shared by every session (`st.cache_resource`): read-only, filtering makes new frames."""

    rows: pd.DataFrame  # highest probability first, with `codigos_motivos` for the filter
    plans: list[str]  # the plan filter's options
    reason_codes: list[str]  # the reason filter's options
    table: pd.DataFrame  # the unfiltered table (TABLE_COLUMNS)
    csv: bytes  # its export

    @property
    def empty(self) -> bool:
        return self.rows.empty


def table_of(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[list(TABLE_COLUMNS)].reset_index(drop=True)


def csv_of(table: pd.DataFrame) -> bytes:
    """Brazilian spreadsheet CSV: `;` between fields, decimal comma, a BOM so Excel reads UTF-8."""
    return table.to_csv(index=False, sep=";", decimal=",").encode("utf-8-sig")


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


def _at_risk(rows: pd.DataFrame) -> AtRisk:
    table = table_of(rows)
    return AtRisk(
        rows=rows,
        plans=sorted(rows["plano"].dropna().unique()),
        reason_codes=sorted({code for codes in rows["codigos_motivos"] for code in codes}),
        table=table,
        csv=csv_of(table),
    )


@st.cache_resource(max_entries=4, show_spinner=False)
def _of_list(digest: str, _raw: bytes, limit: int) -> AtRisk:  # noqa: ARG001 - key
    """A cached list's rows, built once per list the flow writes (its digest is the key: a new
    batch is a new list, so nothing stale is ever shown). A resource, not data: a page run
    reads it without unpickling a copy."""
    return _at_risk(_frame(orjson.loads(_raw)[:limit]))


def at_risk(limit: int) -> tuple[AtRisk, bool]:
    """(the ranked rows, highest probability first, with what the page derives from them;
    whether the cache was down)."""
    raw, cache_up = cache().get_raw(RISK_LIST_KEY)
    if raw is not None:
        digest = hashlib.blake2b(raw, digest_size=16).hexdigest()
        return _of_list(digest, raw, limit), False
    rows = shared_frame(
        f"select {', '.join(COLUMNS)} from alunos_em_risco(:fuso) where not sintetico "
        "order by probabilidade desc, aluno_id limit :limit",
        fuso=settings().gym_timezone,
        limit=limit,
    )
    return _at_risk(
        _frame([{str(k): v for k, v in row.items()} for row in rows.to_dict("records")])
    ), not cache_up
