"""Batch scoring as the flows run it: the ML library scores every member with the champion, then
serving's one score writer stores the batch in `previsoes_churn` and refreshes Redis. A plain
function, so it is tested (and benchmarked) without Prefect."""

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import redis
import sqlalchemy as sa

from models.scoring import Progress, score_members
from serving.scores import save_batch


@dataclass(frozen=True)
class ScoringSummary:
    as_of: date
    model_version: str
    scored: int
    por_faixa: dict[str, int]
    cache_refreshed: bool
    kpis: dict[str, Any] | None


def score_and_store(
    engine: sa.Engine,
    cache: redis.Redis | None,
    *,
    schema: str,
    model_name: str,
    as_of: date,
    cache_ttl: int,
    time_zone: str,
    risk_list_size: int = 500,
    job_id: uuid.UUID | None = None,
    progress: Progress | None = None,
) -> ScoringSummary:
    report = progress or (lambda _fraction, _message: None)
    batch = score_members(
        engine,
        schema=schema,
        model_name=model_name,
        as_of=as_of,
        progress=lambda fraction, message: report(0.6 * fraction, message),
    )
    report(0.6, "appending to previsoes_churn and refreshing Redis")
    saved = save_batch(
        engine,
        cache,
        batch,
        cache_ttl=cache_ttl,
        risk_list_size=risk_list_size,
        time_zone=time_zone,
        job_id=job_id,
    )
    report(1.0, f"{len(batch.members):,} members scored and stored")
    return ScoringSummary(
        as_of=batch.as_of,
        model_version=batch.model_version,
        scored=len(batch.members),
        por_faixa=saved.por_faixa,
        cache_refreshed=saved.cache_refreshed,
        kpis=saved.kpis,
    )
