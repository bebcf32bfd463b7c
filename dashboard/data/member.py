"""One member (Aluno page): profile and status history, visits, the current risk from the
member's Redis hash (what `GET /aluno/{id}/risco-churn` answers) and every score ever kept.
Contact details are not readable by the dashboard role; the page asks the API for them."""

from dataclasses import dataclass
from typing import Any

import pandas as pd

from dashboard.data.clients import cache, settings
from dashboard.data.sql import frame


def churn_key(aluno_id: int) -> str:
    return f"gp:churn:{aluno_id}"  # written by the risk route


LATEST_FIELD = "latest"
# Bumped by each batch of scores: the route files its answers under the generation (serving.cache).
SCORE_GENERATION_KEY = "gp:scores:geracao"


def latest_field(generation: bytes | None) -> str:
    return f"{LATEST_FIELD}@{(generation or b'0').decode()}"


@dataclass(frozen=True)
class Profile:
    aluno_id: int
    nome: str
    plano: str
    valor_mensal: float
    duracao_meses: int
    data_matricula: pd.Timestamp
    ativo: bool
    sintetico: bool


def search(text: str, limit: int = 20) -> pd.DataFrame:
    """Members whose name contains the text (id and name), for the picker."""
    return frame(
        "select id as aluno_id, nome, ativo from alunos "
        "where lower(nome) like '%' || lower(:text) || '%' order by nome, id limit :limit",
        text=text,
        limit=limit,
    )


def profile(aluno_id: int) -> Profile | None:
    rows = frame(
        """
        select a.id, a.nome, p.nome as plano, p.valor_mensal, p.duracao_meses, a.data_matricula,
               a.ativo, aluno_sintetico(a.aluno_ref) as sintetico
        from alunos a join planos p on p.id = a.plano_id where a.id = :aluno_id
        """,
        aluno_id=aluno_id,
    )
    if rows.empty:
        return None
    r = rows.iloc[0]
    return Profile(
        aluno_id=int(r["id"]),
        nome=str(r["nome"]),
        plano=str(r["plano"]),
        valor_mensal=float(r["valor_mensal"]),
        duracao_meses=int(r["duracao_meses"]),
        data_matricula=pd.Timestamp(r["data_matricula"]),
        ativo=bool(r["ativo"]),
        sintetico=bool(r["sintetico"]),
    )


def status_history(aluno_id: int) -> pd.DataFrame:
    return frame(
        "select ocorrido_em, ativo, motivo from alunos_status_historico "
        "where aluno_id = :aluno_id order by ocorrido_em desc, id desc",
        aluno_id=aluno_id,
    )


def visits(aluno_id: int, days: int = 180) -> pd.DataFrame:
    """Entries and exits of the last `days` days, in the gym's time zone."""
    data = frame(
        "select ocorrido_em, tipo, origem from checkins "
        "where aluno_id = :aluno_id and ocorrido_em >= now() - make_interval(days => :days) "
        "order by ocorrido_em",
        aluno_id=aluno_id,
        days=days,
    )
    data["ocorrido_em"] = pd.to_datetime(data["ocorrido_em"], utc=True).dt.tz_convert(
        settings().gym_timezone
    )
    return data


def weekly_visits(visits: pd.DataFrame) -> pd.DataFrame:
    """Entries per week (weeks start on Monday), weeks without a visit included."""
    entries = visits[visits["tipo"] == "entrada"]
    if entries.empty:
        return pd.DataFrame(
            {"semana": pd.Series(dtype="datetime64[ns]"), "visitas": pd.Series(dtype=int)}
        )
    weeks = entries["ocorrido_em"].dt.tz_localize(None).dt.to_period("W-SUN").dt.start_time
    counts = weeks.value_counts().sort_index()
    every_week = pd.date_range(counts.index.min(), counts.index.max(), freq="W-MON")
    counts = counts.reindex(every_week, fill_value=0)
    return pd.DataFrame({"semana": counts.index, "visitas": counts.to_numpy()})


def current_risk(aluno_id: int) -> tuple[dict[str, Any] | None, bool]:
    """(the member's current score as the API answers it, whether the cache was down)."""
    generation, _ = cache().get_raw(SCORE_GENERATION_KEY)
    cached, cache_up = cache().get_json(churn_key(aluno_id), latest_field(generation))
    if cached is not None:
        return cached, False
    rows = frame(
        "select probabilidade, faixa_risco, fatores, modelo_nome, modelo_versao, data_referencia, "
        "calculado_em from previsoes_churn_atuais where aluno_id = :aluno_id",
        aluno_id=aluno_id,
    )
    if rows.empty:
        return None, not cache_up
    return {str(k): v for k, v in rows.iloc[0].to_dict().items()}, not cache_up


def risk_history(aluno_id: int) -> pd.DataFrame:
    """Every score kept for the member, oldest first (one point per as-of date and run)."""
    return frame(
        "select data_referencia, calculado_em, probabilidade, faixa_risco, modelo_versao "
        "from previsoes_churn where aluno_id = :aluno_id order by data_referencia, calculado_em",
        aluno_id=aluno_id,
    )
