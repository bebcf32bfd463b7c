"""Batch scoring with the `@champion` model: features of the as-of date → probability, risk tier
and reason codes → `previsoes_churn` (appended) → Redis. Also the on-demand score of one member
the API asks for when a member has never been scored."""

import contextlib
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
import redis
import sqlalchemy as sa

from models import registry
from models.features import FEATURES, MissingFeatureError, load_scoring
from models.reasons import explain
from serving.cache import invalidate_members_sync
from serving.scores import ScoredMember, refresh_cache, store_scores

log = logging.getLogger(__name__)
Progress = Callable[[float, str], None]


class NoChampionError(LookupError):
    """No model holds the `@champion` alias yet: train one first."""


@dataclass(frozen=True)
class Champion:
    name: str
    version: str
    model: Any
    thresholds: dict[str, float]
    reasons: dict[str, Any]


@dataclass(frozen=True)
class ScoringSummary:
    as_of: date
    model_version: str
    scored: int
    por_faixa: dict[str, int]
    cache_refreshed: bool
    kpis: dict[str, Any] | None


def load_champion(model_name: str) -> Champion:
    version = registry.champion(model_name)
    if version is None:
        raise NoChampionError(
            f"no model registered as {model_name}@champion yet: train one first "
            "(gympulse pipeline run, or POST /admin/atualizar-modelo)"
        )
    meta = registry.load_meta(version.run_id)
    model = registry.load_model(model_name, str(version.version))
    return Champion(model_name, str(version.version), model, meta["thresholds"], meta["reasons"])


# Probabilities are stored and shown with this many decimals.
PRECISION = 6


def risk_tier(probabilities: np.ndarray, thresholds: dict[str, float]) -> np.ndarray:
    """The tier of each (stored, rounded) probability. Thresholds are compared at the same
    precision: a score equal to a threshold (isotonic calibration makes many) is in the higher
    tier, and the stored number always agrees with its tier."""
    alto, medio = round(thresholds["alto"], PRECISION), round(thresholds["medio"], PRECISION)
    return np.where(
        probabilities >= alto, "alto", np.where(probabilities >= medio, "medio", "baixo")
    )


def predict(champion: Champion, features: pd.DataFrame) -> list[ScoredMember]:
    probabilities = np.round(champion.model.predict_proba(features[FEATURES])[:, 1], PRECISION)
    tiers = risk_tier(probabilities, champion.thresholds)
    reasons = explain(features, champion.reasons)
    return [
        ScoredMember(int(aluno_id), float(p), str(tier), factors)
        for aluno_id, p, tier, factors in zip(
            features["aluno_id"], probabilities, tiers, reasons, strict=True
        )
    ]


def _member_names(engine: sa.Engine, ids: list[int]) -> dict[int, str]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("select id, nome from alunos where id = any(:ids)"), {"ids": ids}
        )
        return dict(rows.all())


def _refresh_cache(
    engine, cache, scores, as_of, champion, scored_at, ttl, list_size
) -> tuple[dict[str, Any] | None, bool]:
    try:
        kpis = refresh_cache(
            cache,
            scores,
            names=lambda ids: _member_names(engine, ids),
            as_of=as_of,
            model_name=champion.name,
            version=champion.version,
            scored_at=scored_at,
            ttl=ttl,
            list_size=list_size,
        )
    except redis.RedisError as exc:
        # Scores are safe in PostgreSQL; the API reads them there until the cache is back.
        log.warning("scores stored but Redis was not refreshed: %s", exc)
        return None, False
    return kpis, True


def score_members(
    engine: sa.Engine,
    cache: redis.Redis | None,
    *,
    schema: str,
    model_name: str,
    as_of: date,
    cache_ttl: int,
    risk_list_size: int = 500,
    job_id: uuid.UUID | None = None,
    progress: Progress | None = None,
) -> ScoringSummary:
    report = progress or (lambda _fraction, _message: None)
    report(0.05, f"loading {model_name}@champion")
    champion = load_champion(model_name)
    report(0.15, f"reading features as of {as_of}")
    features = load_scoring(engine, schema, as_of=as_of)
    if features.empty:
        raise MissingFeatureError(
            f"no feature rows for {as_of} in {schema}.churn_features: build the warehouse for "
            f"that date first (gympulse dbt build --as-of {as_of})"
        )
    report(0.3, f"scoring {len(features):,} members with v{champion.version}")
    scores = predict(champion, features)
    scored_at = datetime.now(UTC)
    report(0.6, "appending to previsoes_churn and refreshing Redis")
    # PostgreSQL and Redis take the batch at the same time (each server works while Python
    # feeds the other); if PostgreSQL fails, the batch's cache entries are dropped again, so
    # the cache never holds a score the history does not.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="refresh-cache") as pool:
        refreshing = None
        if cache is not None:
            refreshing = pool.submit(
                _refresh_cache,
                engine,
                cache,
                scores,
                as_of,
                champion,
                scored_at,
                cache_ttl,
                risk_list_size,
            )
        try:
            store_scores(
                engine,
                scores,
                as_of=as_of,
                model_name=model_name,
                model_version=champion.version,
                job_id=job_id,
                scored_at=scored_at,
            )
        except Exception:
            if refreshing is not None and refreshing.result()[1]:
                with contextlib.suppress(redis.RedisError):
                    invalidate_members_sync(cache, {s.aluno_id for s in scores})
            raise
        kpis, refreshed = refreshing.result() if refreshing is not None else (None, False)
    tiers = pd.Series([s.faixa_risco for s in scores]).value_counts().to_dict()
    report(1.0, f"{len(scores):,} members scored")
    return ScoringSummary(
        as_of=as_of,
        model_version=champion.version,
        scored=len(scores),
        por_faixa={t: int(tiers.get(t, 0)) for t in ("alto", "medio", "baixo")},
        cache_refreshed=refreshed,
        kpis=kpis,
    )
