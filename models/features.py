"""The feature contract the churn models read: dbt's `churn_features` table (dbt/models/marts).

Training reads the labelled weekly snapshots, scoring reads the rows of one as-of date; both
come from the same SQL, so what a model is trained on is what it is scored on. Missing values
mean something ("never visited", "no earlier visits") and are filled inside the model pipeline,
so a model loaded from MLflow takes the contract's columns as they are in the table.
"""

import io
from datetime import date
from typing import cast

import numpy as np
import pandas as pd
import psycopg
import sqlalchemy as sa
from sklearn.base import BaseEstimator, TransformerMixin

HORIZON_DAYS = 30
KEY_COLUMNS = ["aluno_id", "data_referencia"]
LABEL = "churn_30d"
CATEGORICAL = ["plano"]
NUMERIC = [
    "duracao_meses",
    "dias_desde_ultima_visita",
    "duracao_media_minutos",
    "duracao_media_28_dias",
    "visitas_7_dias",
    "visitas_14_dias",
    "visitas_28_dias",
    "visitas_56_dias",
    "visitas_8_semanas_anteriores",
    "dias_de_casa",
    "dias_para_fim_contrato",
    "fracao_contrato_decorrida",
    "tendencia_visitas_semana",
    "razao_tendencia",
    "razao_tendencia_7_28",
    "regularidade_4_semanas",
    "regularidade_8_semanas",
]
FEATURES = CATEGORICAL + NUMERIC
# A trend ratio above this says "much more than before"; larger values are noise.
MAX_TREND_RATIO = 3.0
# Each trend ratio and the recent count over its numerator's window: the ratio is null when
# the earlier window had no visit.
TREND_RATIOS = {"razao_tendencia": "visitas_28_dias", "razao_tendencia_7_28": "visitas_7_dias"}


class MissingFeatureError(LookupError):
    """The warehouse has no feature rows for what was asked (build it first)."""


def _table(schema: str) -> str:
    return f'"{schema}"."churn_features"'


def _read(engine: sa.Engine, sql: str, params: dict) -> pd.DataFrame:
    """The query's rows through COPY ... TO STDOUT (CSV): about three times faster than a
    cursor for 100,000 rows. `sql` uses psycopg placeholders (%(name)s)."""
    buffer = io.BytesIO()
    raw = engine.raw_connection()
    try:
        with (
            cast(psycopg.Connection, raw.driver_connection).cursor() as cursor,
            cursor.copy(f"copy ({sql}) to stdout with (format csv, header true)", params) as copy,
        ):
            for chunk in copy:
                buffer.write(chunk)
        raw.rollback()
    finally:
        raw.close()
    buffer.seek(0)
    frame = pd.read_csv(buffer, dtype={"plano": "object"}, keep_default_na=False, na_values=[""])
    return normalise(frame)


def normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """Numeric columns as floats (PostgreSQL numerics arrive as Decimal), dates as dates."""
    frame = frame.copy()
    for column in NUMERIC:
        if column in frame:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    if "plano" in frame:
        frame["plano"] = frame["plano"].astype("object")
    if "data_referencia" in frame:
        frame["data_referencia"] = pd.to_datetime(frame["data_referencia"]).dt.date
    return frame


def load_labelled(
    engine: sa.Engine, schema: str, *, as_of: date, horizon: int = HORIZON_DAYS
) -> pd.DataFrame:
    """Weekly snapshots whose label was fully observed by `as_of`.

    `data_referencia + horizon <= as_of` makes a backtest honest even against a table built
    later: such a row's features end at its date and its label at most `horizon` days after.
    """
    sql = f"""
        select {", ".join(KEY_COLUMNS + FEATURES)}, {LABEL}
        from {_table(schema)}
        where tipo_linha = 'treino'
          and {LABEL} is not null
          and data_referencia + %(horizon)s <= %(as_of)s
        order by data_referencia, aluno_id
    """
    frame = _read(engine, sql, {"as_of": as_of, "horizon": horizon})
    if frame.empty:
        raise MissingFeatureError(
            f"no labelled feature rows on or before {as_of - pd.Timedelta(days=horizon)} in "
            f"{schema}.churn_features: build the warehouse first (gympulse dbt build)"
        )
    frame[LABEL] = frame[LABEL].astype("int64")
    return frame


def load_scoring(
    engine: sa.Engine, schema: str, *, as_of: date, aluno_ids: list[int] | None = None
) -> pd.DataFrame:
    """One row per member active on `as_of` (the scoring row dbt built for that date)."""
    only = "and aluno_id = any(%(ids)s)" if aluno_ids is not None else ""
    sql = f"""
        select distinct on (aluno_id) {", ".join(KEY_COLUMNS + FEATURES)}
        from {_table(schema)}
        where data_referencia = %(as_of)s {only}
        order by aluno_id, is_scoring_row desc
    """
    params: dict = {"as_of": as_of}
    if aluno_ids is not None:
        params["ids"] = list(aluno_ids)
    return _read(engine, sql, params)


def scoring_dates(engine: sa.Engine, schema: str) -> list[date]:
    """The as-of dates the warehouse holds scoring rows for, newest first."""
    sql = f"""
        select distinct data_referencia from {_table(schema)}
        where is_scoring_row order by data_referencia desc
    """
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(sa.text(sql))]


def newest_closed_snapshot(engine: sa.Engine, schema: str, *, before: date) -> date | None:
    """The newest training snapshot (a Sunday, a whole day's visits) strictly before `before`:
    the population the drift monitor compares with the training weeks, like for like."""
    sql = f"""
        select max(data_referencia) from {_table(schema)}
        where tipo_linha = 'treino' and data_referencia < :before
    """
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), {"before": before}).scalar_one()


def fill_missing(frame: pd.DataFrame) -> pd.DataFrame:
    """Give the contract's nulls their meaning, in numbers every model can use."""
    out = frame.copy()
    never_visited = out["dias_desde_ultima_visita"].isna()
    out.loc[never_visited, "dias_desde_ultima_visita"] = out.loc[never_visited, "dias_de_casa"] + 1
    for duration in ("duracao_media_minutos", "duracao_media_28_dias"):
        out[duration] = out[duration].fillna(0.0)
    # No visits in the earlier window: "as before" when there are none now either, else "more".
    for ratio_column, recent_column in TREND_RATIOS.items():
        recent = out[recent_column].fillna(0) > 0
        ratio = out[ratio_column]
        out[ratio_column] = np.where(
            ratio.isna(), np.where(recent, MAX_TREND_RATIO, 1.0), ratio.clip(upper=MAX_TREND_RATIO)
        )
    for column in NUMERIC:
        out[column] = out[column].astype("float64").fillna(0.0)
    out["plano"] = out["plano"].fillna("desconhecido").astype(str)
    return out[FEATURES]


def with_retired_columns(filled: pd.DataFrame) -> pd.DataFrame:
    """The filled features plus the columns the contract no longer has, rebuilt from those it
    does, so a model registered before the feature horizons (still @champion until a training
    replaces it) keeps scoring, and the next gate can judge it; newer models select their
    columns by name and never read these."""
    return filled.assign(
        visitas_semana=filled["visitas_28_dias"] / 4, visitas_4_semanas=filled["visitas_28_dias"]
    )


class FeatureFiller(TransformerMixin, BaseEstimator):
    """`fill_missing` as the first step of every model pipeline."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        frame = pd.DataFrame(X, columns=FEATURES) if not hasattr(X, "columns") else X
        return with_retired_columns(fill_missing(frame))
