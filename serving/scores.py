"""The one writer of churn scores, and where they are read.

Written: appended to `previsoes_churn` (history kept) in one COPY — by the nightly batch and by
the API's on-demand score alike. After a batch commits, Redis: one bump of the score generation
(`serving.cache.SCORE_GENERATION_KEY`) retires every member's cached risk at once — the risk
routes read each member's new score from PostgreSQL on its first miss and cache it under the new
generation — then the ranked at-risk list and the KPI summary the dashboard reads. A batch
writes three keys, not one per member, so its cost does not grow with the gym.

Read: a member's current score is a row of the view `previsoes_churn_atuais`, and the scores in
force on a past day come from `previsoes_vigentes(day)` (both defined once, in migration 0004).
The at-risk list — the API's `GET /alunos/risco`, the Redis list, the export, the dashboard — is
`alunos_em_risco(fuso, ate)` (migration 0006); `at_risk_query` and `at_risk_item` are its one
reader and its one JSON form, so the cached list and the API's cannot drift apart.

A score is anything with the four fields of `Score` (the ML library's scored members are), so
serving needs nothing of the library to store them."""

import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol, cast

import orjson
import psycopg
import redis
import sqlalchemy as sa

from serving.cache import PREFIX, retire_cached_scores
from serving.vocabulary import HIGH, RISK_TIERS

log = logging.getLogger(__name__)

RISK_LIST_KEY = PREFIX + "risco:lista"
KPI_KEY = PREFIX + "kpis:churn"
LATEST_FIELD = "latest"  # the field GET /aluno/{id}/risco-churn reads


# What every reader selects from: each member's score in force now (migration 0004).
current_scores = sa.table(
    "previsoes_churn_atuais",
    *(
        sa.column(name)
        for name in (
            "aluno_id",
            "probabilidade",
            "faixa_risco",
            "fatores",
            "modelo_nome",
            "modelo_versao",
            "data_referencia",
            "calculado_em",
        )
    ),
)
# A member's scores, every one kept (the risk history); newest first is the current score first.
score_history = sa.table(
    "previsoes_churn",
    *(sa.column(name) for name in ("id", *current_scores.c.keys())),
)
HISTORY_ORDER = (
    score_history.c.data_referencia.desc(),
    score_history.c.calculado_em.desc(),
    score_history.c.id.desc(),
)
# The columns of `alunos_em_risco` (migration 0006) beyond the score's.
AT_RISK_MEMBER_COLUMNS = (
    "nome",
    "plano_id",
    "plano",
    "data_matricula",
    "fim_contrato",
    "dias_desde_ultima_visita",
    "visitas_4_semanas",
    "visitas_8_semanas_anteriores",
    "tendencia_visitas",
    "sintetico",
)


class Score(Protocol):
    @property
    def aluno_id(self) -> int: ...
    @property
    def probabilidade(self) -> float: ...
    @property
    def faixa_risco(self) -> str: ...
    @property
    def fatores(self) -> list[dict[str, Any]]: ...


class ScoreBatch(Protocol):
    @property
    def as_of(self) -> date: ...
    @property
    def model_name(self) -> str: ...
    @property
    def model_version(self) -> str: ...
    @property
    def members(self) -> Sequence[Score]: ...


@dataclass(frozen=True)
class SavedBatch:
    scored_at: datetime
    cache_refreshed: bool
    kpis: dict[str, Any] | None
    por_faixa: dict[str, int]


def store_scores(
    engine: sa.Engine,
    scores: Sequence[Score],
    *,
    as_of: date,
    model_name: str,
    model_version: str,
    job_id: uuid.UUID | None = None,
    scored_at: datetime | None = None,
) -> datetime:
    """Append the batch in one transaction; returns the batch's `calculado_em`."""
    scored_at = scored_at or datetime.now(UTC)
    raw = engine.raw_connection()
    try:
        with (
            cast(psycopg.Connection, raw.driver_connection).cursor() as cursor,
            cursor.copy(
                "copy previsoes_churn (aluno_id, data_referencia, probabilidade, faixa_risco, "
                "modelo_nome, modelo_versao, fatores, job_id, calculado_em) from stdin"
            ) as copy,
        ):
            for s in scores:
                copy.write_row(
                    (
                        s.aluno_id,
                        as_of,
                        s.probabilidade,
                        s.faixa_risco,
                        model_name,
                        model_version,
                        orjson.dumps(s.fatores).decode(),
                        job_id,
                        scored_at,
                    )
                )
        raw.commit()
    finally:
        raw.close()
    return scored_at


def json_instant(at: datetime) -> str:
    """pydantic's JSON form of an aware datetime: ISO 8601, "Z" for UTC."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class AtRiskFilter:
    """Which at-risk rows a reader wants; synthetic members are left out unless asked for."""

    faixa: str | None = None
    plano_id: int | None = None
    incluir_sinteticos: bool = False

    def apply(self, query: sa.Select, rows: sa.TableValuedAlias) -> sa.Select:
        if not self.incluir_sinteticos:
            query = query.where(sa.not_(rows.c.sintetico))
        if self.faixa is not None:
            query = query.where(rows.c.faixa_risco == self.faixa)
        if self.plano_id is not None:
            query = query.where(rows.c.plano_id == self.plano_id)
        return query


def _at_risk_rows(time_zone: str) -> sa.TableValuedAlias:
    return sa.func.alunos_em_risco(time_zone).table_valued(
        *current_scores.c.keys(), *AT_RISK_MEMBER_COLUMNS, name="em_risco"
    )


# `alunos_em_risco`'s attendance columns are subqueries the planner costs for every member,
# though only the rows past the caller's LIMIT run them: at 100,000 members the estimate passes
# PostgreSQL's JIT thresholds and compiling the plan takes 2.4 s of a 0.1 s query. Run before
# an at-risk read, in its transaction (and only there: nothing else changes).
WITHOUT_JIT = sa.text("set local jit = off")


def at_risk_query(
    time_zone: str, wanted: AtRiskFilter = AtRiskFilter(), *, with_total: bool = True
) -> sa.Select:
    """The ranked at-risk list, with `total` (the count of rows the filter matches) on every
    row unless `with_total` is false. Add the limit and offset: the attendance columns are read
    for those rows only. The total is a window over every matching row (at 100,000 members it
    spills to disk), so a reader that does not page leaves it out."""
    rows = _at_risk_rows(time_zone)
    query = sa.select(rows)
    if with_total:
        query = query.add_columns(sa.func.count().over().label("total"))
    query = wanted.apply(query, rows)
    return query.order_by(rows.c.probabilidade.desc(), rows.c.aluno_id)


def at_risk_count(time_zone: str, wanted: AtRiskFilter = AtRiskFilter()) -> sa.Select:
    """The count alone, for a page past the last one (which carries no `total`)."""
    rows = _at_risk_rows(time_zone)
    return wanted.apply(sa.select(sa.func.count()).select_from(rows), rows)


def at_risk_item(row: sa.Row[Any]) -> dict[str, Any]:
    """A row of `at_risk_query` as JSON, as `GET /alunos/risco` answers each item."""
    item = {
        name: getattr(row, name) for name in (*current_scores.c.keys(), *AT_RISK_MEMBER_COLUMNS)
    }
    for name in ("data_referencia", "data_matricula", "fim_contrato"):
        item[name] = item[name].isoformat()
    item["calculado_em"] = json_instant(item["calculado_em"])
    return item


def read_at_risk(engine: sa.Engine, time_zone: str, limit: int) -> list[dict[str, Any]]:
    """The API's first `limit` rows, unfiltered (what the Redis list holds)."""
    with engine.connect() as conn:
        conn.execute(WITHOUT_JIT)
        query = at_risk_query(time_zone, with_total=False).limit(limit)
        return [at_risk_item(row) for row in conn.execute(query)]


def synthetic_members(engine: sa.Engine) -> set[int]:
    """Active synthetic members (the database's `aluno_sintetico` rule, as `alunos_em_risco`
    flags them): left out of the KPIs. Read from `alunos` alone: the at-risk rows would read
    every member's current score for a handful of ids."""
    with engine.connect() as conn:
        found = conn.execute(
            sa.text("select id from alunos where ativo and aluno_sintetico(aluno_ref)")
        ).all()
        return {int(row.id) for row in found}


def risk_answer(
    score: Score, *, as_of: date, model_name: str, version: str, at: datetime
) -> dict[str, Any]:
    """What `GET /aluno/{id}/risco-churn` answers for a score, as JSON, in the API's field order
    and formats; a test compares it with the route's response model, so the two cannot drift
    apart."""
    return {
        "aluno_id": score.aluno_id,
        "probabilidade": score.probabilidade,
        "faixa_risco": score.faixa_risco,
        "fatores": score.fatores,
        "modelo_nome": model_name,
        "modelo_versao": version,
        "data_referencia": as_of.isoformat(),
        "calculado_em": json_instant(at),
    }


def kpi_summary(
    scores: Sequence[Score], *, as_of: date, model_name: str, version: str, at: datetime
) -> dict[str, Any]:
    tiers = Counter(s.faixa_risco for s in scores)
    reasons = Counter(f["fator"] for s in scores if s.faixa_risco == HIGH for f in s.fatores)
    total = len(scores)
    return {
        "data_referencia": as_of.isoformat(),
        "calculado_em": at.isoformat(),
        "modelo_nome": model_name,
        "modelo_versao": version,
        "alunos_pontuados": total,
        "por_faixa": {tier: tiers.get(tier, 0) for tier in RISK_TIERS},
        "probabilidade_media": round(sum(s.probabilidade for s in scores) / total, 4)
        if total
        else 0,
        # The sum of probabilities is the number of cancellations the model expects in 30 days.
        "cancelamentos_esperados_30d": round(sum(s.probabilidade for s in scores), 1),
        "fatores_alto_risco": dict(reasons.most_common()),
    }


def publish_risk_list(
    client: redis.Redis, at_risk: list[dict[str, Any]], kpis: dict[str, Any], *, ttl: int
) -> None:
    """The at-risk list and the KPI summary, together. Raises redis errors to the caller."""
    with client.pipeline(transaction=True) as pipe:
        pipe.set(RISK_LIST_KEY, orjson.dumps(at_risk), ex=ttl)
        pipe.set(KPI_KEY, orjson.dumps(kpis), ex=ttl)
        pipe.execute()


def _publish_or_warn(
    engine: sa.Engine,
    cache: redis.Redis,
    batch: ScoreBatch,
    *,
    scored_at: datetime,
    ttl: int,
    list_size: int,
    time_zone: str,
) -> dict[str, Any] | None:
    """Once the batch is committed: the cached answers of the batches before are retired, and the
    list is the API's first rows, from PostgreSQL."""
    try:
        retire_cached_scores(cache)
    except redis.RedisError as exc:
        log.warning(
            "scores stored but Redis was not told: it serves the previous scores until they "
            "expire (%s)",
            exc,
        )
        return None
    synthetic = synthetic_members(engine)
    kpis = kpi_summary(
        [s for s in batch.members if s.aluno_id not in synthetic],
        as_of=batch.as_of,
        model_name=batch.model_name,
        version=batch.model_version,
        at=scored_at,
    )
    try:
        publish_risk_list(cache, read_at_risk(engine, time_zone, list_size), kpis, ttl=ttl)
    except redis.RedisError as exc:
        log.warning("scores stored but the at-risk list was not refreshed: %s", exc)
        return None
    return kpis


def save_batch(
    engine: sa.Engine,
    cache: redis.Redis | None,
    batch: ScoreBatch,
    *,
    cache_ttl: int,
    risk_list_size: int,
    time_zone: str,
    job_id: uuid.UUID | None = None,
) -> SavedBatch:
    """Append a scored batch to the history; once it is committed, retire the cached answers of
    the batches before and publish the at-risk list and the KPIs. With Redis down the scores are
    safe in PostgreSQL, and the API reads them there."""
    scored_at = store_scores(
        engine,
        batch.members,
        as_of=batch.as_of,
        model_name=batch.model_name,
        model_version=batch.model_version,
        job_id=job_id,
    )
    kpis = None
    if cache is not None:
        kpis = _publish_or_warn(
            engine,
            cache,
            batch,
            scored_at=scored_at,
            ttl=cache_ttl,
            list_size=risk_list_size,
            time_zone=time_zone,
        )
    tiers = Counter(s.faixa_risco for s in batch.members)
    return SavedBatch(scored_at, kpis is not None, kpis, {t: tiers.get(t, 0) for t in RISK_TIERS})


def save_member_score(
    engine: sa.Engine, score: Score, *, as_of: date, model_name: str, model_version: str
) -> dict[str, Any]:
    """Append one member's score (scored on demand) like a batch score; returns what
    `GET /aluno/{id}/risco-churn` answers for it. The caller caches it (version-guarded)."""
    scored_at = store_scores(
        engine, [score], as_of=as_of, model_name=model_name, model_version=model_version
    )
    return risk_answer(
        score, as_of=as_of, model_name=model_name, version=model_version, at=scored_at
    )
