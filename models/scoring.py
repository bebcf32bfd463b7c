"""Scoring with the `@champion` model: features of the as-of date → probability, risk tier and
reason codes. Returns the scored members; storing and caching them is the caller's (the flow
hands them to serving's score writer). Also predicts the one-member frame the API scores on
demand."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from models import registry
from models.features import FEATURES, MissingFeatureError, load_scoring
from models.reasons import explain

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
class ScoredMember:
    aluno_id: int
    probabilidade: float
    faixa_risco: str
    fatores: list[dict[str, Any]]


@dataclass(frozen=True)
class ScoredBatch:
    """Every active member of one as-of date, scored by one model version."""

    as_of: date
    model_name: str
    model_version: str
    members: list[ScoredMember]


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


# The tiers a score falls in, highest first; serving stores them (serving.vocabulary.RISK_TIERS
# spells the same words, and a test holds the two together).
TIERS = ("alto", "medio", "baixo")
# Probabilities are stored and shown with this many decimals.
PRECISION = 6


def risk_tier(probabilities: np.ndarray, thresholds: dict[str, float]) -> np.ndarray:
    """The tier of each (stored, rounded) probability. Thresholds are compared at the same
    precision: a score equal to a threshold (isotonic calibration makes many) is in the higher
    tier, and the stored number always agrees with its tier."""
    high, medium, low = TIERS
    alto, medio = round(thresholds[high], PRECISION), round(thresholds[medium], PRECISION)
    return np.where(probabilities >= alto, high, np.where(probabilities >= medio, medium, low))


def predict(champion: Champion, features: pd.DataFrame) -> list[ScoredMember]:
    probabilities = np.round(champion.model.predict_proba(features[FEATURES])[:, 1], PRECISION)
    tiers = risk_tier(probabilities, champion.thresholds)
    reasons = explain(features, champion.reasons, must_explain=tiers == TIERS[0])
    # Plain Python values column by column (numpy's per-item conversions cost more than the
    # objects themselves at 100,000 members).
    return [
        ScoredMember(aluno_id, p, tier, factors)
        for aluno_id, p, tier, factors in zip(
            features["aluno_id"].astype("int64").tolist(),
            probabilities.astype("float64").tolist(),
            tiers.tolist(),
            reasons,
            strict=True,
        )
    ]


def score_members(
    engine: sa.Engine,
    *,
    schema: str,
    model_name: str,
    as_of: date,
    progress: Progress | None = None,
) -> ScoredBatch:
    """Score every member with a feature row for `as_of` (the warehouse's scoring rows)."""
    report = progress or (lambda _fraction, _message: None)
    report(0.05, f"loading {model_name}@champion")
    champion = load_champion(model_name)
    report(0.25, f"reading features as of {as_of}")
    features = load_scoring(engine, schema, as_of=as_of)
    if features.empty:
        raise MissingFeatureError(
            f"no feature rows for {as_of} in {schema}.churn_features: build the warehouse for "
            f"that date first (gympulse dbt build --as-of {as_of})"
        )
    report(0.5, f"scoring {len(features):,} members with v{champion.version}")
    members = predict(champion, features)
    report(1.0, f"{len(members):,} members scored")
    return ScoredBatch(as_of, champion.name, champion.version, members)
