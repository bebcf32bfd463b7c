"""PostgreSQL as the read-only dashboard role. Shared answers (the same for every user) are
cached for a short while with `st.cache_data`; nothing here depends on who is logged in."""

from typing import Any

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from dashboard.data.clients import engine, settings

TTL_SECONDS = settings().dashboard_cache_seconds
# Members created by `POST /aluno/sintetico` are demos, not members: left out of every figure.
NOT_SYNTHETIC = "not aluno_sintetico(a.aluno_ref)"  # the database's rule (migration 0006)


class DataUnavailable(Exception):
    """PostgreSQL did not answer, or a mart the page reads is not built yet."""


def frame(query: str, **params: Any) -> pd.DataFrame:
    try:
        with engine().connect() as conn:
            return pd.read_sql(sa.text(query), conn, params=params)
    except (sa.exc.DBAPIError, pd.errors.DatabaseError) as exc:
        # pandas wraps the driver's error in its own; the cause says what happened.
        cause = exc if isinstance(exc, sa.exc.DBAPIError) else exc.__cause__
        if isinstance(cause, sa.exc.ProgrammingError):  # a missing relation or grant
            raise DataUnavailable(
                "Dados ainda não disponíveis: rode `gympulse db upgrade` e `gympulse dbt build`."
            ) from exc
        raise DataUnavailable(
            "O banco de dados não respondeu. Tente de novo em instantes."
        ) from exc


def warehouse(table: str) -> str:
    """A mart's qualified name in the dbt schema the settings name."""
    return f'"{settings().dbt_schema}".{table}'


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def shared_frame(query: str, **params: Any) -> pd.DataFrame:
    return frame(query, **params)
