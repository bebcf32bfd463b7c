"""The one writer of churn scores, and where they are read.

Written: appended to `previsoes_churn` (history kept) in one COPY — by the nightly batch and by
the API's on-demand score alike — then Redis: each member's risk (what
`GET /aluno/{id}/risco-churn` answers, 24 h), the ranked at-risk list and the KPI summary the
dashboard reads. Members cached from an earlier batch and not in this one (cancelled since) are
dropped, so no stale risk outlives a rescoring.

Read: a member's current score is a row of the view `previsoes_churn_atuais`, and the scores in
force on a past day come from `previsoes_vigentes(day)` (both defined once, in migration 0004).

A score is anything with the four fields of `Score` (the ML library's scored members are), so
serving needs nothing of the library to store them."""

import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol, cast

import orjson
import psycopg
import redis
import sqlalchemy as sa

from serving.cache import (
    PREFIX,
    VERSION_TTL_SECONDS,
    churn_key,
    invalidate_members_sync,
    version_key,
)
from serving.vocabulary import HIGH, RISK_TIERS

log = logging.getLogger(__name__)

RISK_LIST_KEY = PREFIX + "risco:lista"
KPI_KEY = PREFIX + "kpis:churn"
LATEST_FIELD = "latest"  # the field GET /aluno/{id}/risco-churn reads
_CHUNK = 2_000


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
Progress = Callable[[float, str], None]


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


class RiskBodies:
    """What `GET /aluno/{id}/risco-churn` answers for a score of this batch, as JSON. Built by
    hand for speed (100,000 per batch), in the API's field order and formats; a test compares
    it with the route's response model, so the two cannot drift apart."""

    def __init__(self, as_of: date, model_name: str, version: str, at: datetime) -> None:
        self.common = {
            "modelo_nome": model_name,
            "modelo_versao": version,
            "data_referencia": as_of.isoformat(),
            # pydantic's JSON form of an aware datetime: ISO 8601, "Z" for UTC.
            "calculado_em": at.isoformat().replace("+00:00", "Z"),
        }

    def __call__(self, s: Score) -> dict[str, Any]:
        return {
            "aluno_id": s.aluno_id,
            "probabilidade": s.probabilidade,
            "faixa_risco": s.faixa_risco,
            "fatores": s.fatores,
            **self.common,
        }


# Per member: version bumped (refuses a concurrent read's older answer, see cache.set_field),
# then the answer written with its TTL. KEYS: churn hash, version key, per member.
_WRITE_SCRIPT = """
local ttl, version_ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 1, #KEYS, 2 do
    redis.call('INCR', KEYS[i + 1])
    redis.call('EXPIRE', KEYS[i + 1], version_ttl)
    redis.call('HSET', KEYS[i], 'latest', ARGV[2 + (i + 1) / 2])
    redis.call('EXPIRE', KEYS[i], ttl)
end
return #KEYS / 2
"""


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


def refresh_cache(
    client: redis.Redis,
    scores: Sequence[Score],
    *,
    names: Callable[[list[int]], dict[int, str]],
    as_of: date,
    model_name: str,
    version: str,
    scored_at: datetime,
    ttl: int,
    list_size: int,
) -> dict[str, Any]:
    """Write the batch to Redis; returns the KPI summary. Raises redis errors to the caller.
    `names` looks up the names of the members on the at-risk list."""
    scored = {s.aluno_id for s in scores}
    stale = set()
    for key in client.scan_iter(match=churn_key("*"), count=10_000):
        aluno_id = int(key.rsplit(b":", 1)[1])
        if aluno_id not in scored:
            stale.add(aluno_id)
    invalidate_members_sync(client, stale)
    body_of = RiskBodies(as_of, model_name, version, scored_at)
    write = client.register_script(_WRITE_SCRIPT)
    for start in range(0, len(scores), _CHUNK):
        chunk = scores[start : start + _CHUNK]
        keys = [k for s in chunk for k in (churn_key(s.aluno_id), version_key(s.aluno_id))]
        write(
            keys=keys, args=[ttl, VERSION_TTL_SECONDS, *(orjson.dumps(body_of(s)) for s in chunk)]
        )
    ranked = sorted(scores, key=lambda s: (-s.probabilidade, s.aluno_id))[:list_size]
    named = names([s.aluno_id for s in ranked])
    at_risk = [body_of(s) | {"nome": named.get(s.aluno_id, "")} for s in ranked]
    summary = kpi_summary(scores, as_of=as_of, model_name=model_name, version=version, at=scored_at)
    with client.pipeline(transaction=True) as pipe:
        pipe.set(RISK_LIST_KEY, orjson.dumps(at_risk), ex=ttl)
        pipe.set(KPI_KEY, orjson.dumps(summary), ex=ttl)
        pipe.execute()
    log.info("cache refreshed: %d members, %d stale dropped", len(scores), len(stale))
    return summary


def member_names(engine: sa.Engine, ids: list[int]) -> dict[int, str]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("select id, nome from alunos where id = any(:ids)"), {"ids": ids}
        )
        return {int(row.id): str(row.nome) for row in rows}


def _refresh_or_warn(engine, cache, batch: ScoreBatch, scored_at, ttl, list_size):
    try:
        kpis = refresh_cache(
            cache,
            batch.members,
            names=lambda ids: member_names(engine, ids),
            as_of=batch.as_of,
            model_name=batch.model_name,
            version=batch.model_version,
            scored_at=scored_at,
            ttl=ttl,
            list_size=list_size,
        )
    except redis.RedisError as exc:
        # Scores are safe in PostgreSQL; the API reads them there until the cache is back.
        log.warning("scores stored but Redis was not refreshed: %s", exc)
        return None, False
    return kpis, True


def save_batch(
    engine: sa.Engine,
    cache: redis.Redis | None,
    batch: ScoreBatch,
    *,
    cache_ttl: int,
    risk_list_size: int,
    job_id: uuid.UUID | None = None,
) -> SavedBatch:
    """Append a scored batch to the history and refresh the cache with it. PostgreSQL and Redis
    take the batch at the same time (each server works while Python feeds the other); if
    PostgreSQL fails, the batch's cache entries are dropped again, so the cache never holds a
    score the history does not."""
    scored_at = datetime.now(UTC)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="refresh-cache") as pool:
        refreshing = None
        if cache is not None:
            refreshing = pool.submit(
                _refresh_or_warn, engine, cache, batch, scored_at, cache_ttl, risk_list_size
            )
        try:
            store_scores(
                engine,
                batch.members,
                as_of=batch.as_of,
                model_name=batch.model_name,
                model_version=batch.model_version,
                job_id=job_id,
                scored_at=scored_at,
            )
        except Exception:
            if cache is not None and refreshing is not None and refreshing.result()[1]:
                with contextlib.suppress(redis.RedisError):
                    invalidate_members_sync(cache, {s.aluno_id for s in batch.members})
            raise
        kpis, refreshed = refreshing.result() if refreshing is not None else (None, False)
    tiers = Counter(s.faixa_risco for s in batch.members)
    return SavedBatch(scored_at, refreshed, kpis, {t: tiers.get(t, 0) for t in RISK_TIERS})


def save_member_score(
    engine: sa.Engine, score: Score, *, as_of: date, model_name: str, model_version: str
) -> dict[str, Any]:
    """Append one member's score (scored on demand) like a batch score; returns what
    `GET /aluno/{id}/risco-churn` answers for it. The caller caches it (version-guarded)."""
    scored_at = store_scores(
        engine, [score], as_of=as_of, model_name=model_name, model_version=model_version
    )
    return RiskBodies(as_of, model_name, model_version, scored_at)(score)
