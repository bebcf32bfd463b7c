"""Train the churn Random Forest and its two baselines on the same out-of-time split.

Plain functions (no Prefect, no MLflow): `train_models` takes the labelled feature frame and
returns everything a run logs — fitted champion candidate, metrics of the candidate and of
both baselines on the held-out set, calibration decision, importances, risk-tier thresholds and
the reference the reason codes are computed against.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.inspection import permutation_importance
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from models.evaluation import Split, metrics, out_of_time_split
from models.features import CATEGORICAL, FEATURES, LABEL, NUMERIC, FeatureFiller, fill_missing
from models.reasons import FACTORS, reason_reference

Progress = Callable[[float, str], None]

DEFAULT_FOREST = {
    "n_estimators": 300,
    "min_samples_leaf": 20,
    "max_features": "sqrt",
    "max_depth": None,
    "random_state": 42,
}
# Beyond this many training rows a uniform sample is as good and much faster; uniform keeps the
# base rate, so probabilities stay calibrated.
MAX_TRAINING_ROWS = 400_000
HIGH_RISK_QUANTILE = 0.90
MEDIUM_RISK_QUANTILE = 0.70


def _encoder(scale: bool) -> ColumnTransformer:
    numeric = (
        ("numericas", StandardScaler(), NUMERIC) if scale else ("numericas", "passthrough", NUMERIC)
    )
    return ColumnTransformer(
        [
            ("plano", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CATEGORICAL),
            numeric,
        ],
        verbose_feature_names_out=False,
    )


def random_forest(params: dict[str, Any] | None = None) -> Pipeline:
    forest = RandomForestClassifier(**{**DEFAULT_FOREST, **(params or {})}, n_jobs=-1)
    return Pipeline(
        [("preencher", FeatureFiller()), ("codificar", _encoder(scale=False)), ("floresta", forest)]
    )


def logistic_regression() -> Pipeline:
    return Pipeline(
        [
            ("preencher", FeatureFiller()),
            ("codificar", _encoder(scale=True)),
            ("logistica", LogisticRegression(max_iter=2000)),
        ]
    )


class InactivityRule:
    """The rule a gym uses without a model: the longer since the last visit, the riskier.
    Isotonic on the training set turns days into probabilities so its Brier score is fair."""

    def fit(self, X: pd.DataFrame, y) -> "InactivityRule":
        self._isotonic = IsotonicRegression(out_of_bounds="clip", increasing=True)
        self._isotonic.fit(fill_missing(X)["dias_desde_ultima_visita"], y)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        risk = self._isotonic.predict(fill_missing(X)["dias_desde_ultima_visita"])
        return np.column_stack([1 - risk, risk])


@dataclass
class TrainingResult:
    model: Any
    split: Split
    metrics: dict[str, dict[str, float]]
    calibrated: bool
    brier_uncalibrated: float
    brier_calibrated: float
    held_out_scores: dict[str, np.ndarray]
    importances: pd.DataFrame
    thresholds: dict[str, float]
    reasons: dict[str, Any]
    params: dict[str, Any]
    sizes: dict[str, int] = field(default_factory=dict)

    @property
    def forest_metrics(self) -> dict[str, float]:
        return self.metrics["random_forest"]


def _sample(train: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    if len(train) <= max_rows:
        return train
    return train.sample(n=max_rows, random_state=seed).sort_values(["data_referencia", "aluno_id"])


def _calibrated_forest(forest: Pipeline, train: pd.DataFrame) -> CalibratedClassifierCV:
    # Folds grouped by member: calibrating on a member the forest has memorised would teach the
    # calibrator that the forest is always right.
    folds = list(GroupKFold(n_splits=3).split(train, train[LABEL], groups=train["aluno_id"]))
    return CalibratedClassifierCV(forest, method="isotonic", cv=folds).fit(
        train[FEATURES], train[LABEL]
    )


def _importances(model, test: pd.DataFrame, seed: int) -> pd.DataFrame:
    result = permutation_importance(
        model,
        test[FEATURES],
        test[LABEL],
        scoring="average_precision",
        n_repeats=3,
        random_state=seed,
        n_jobs=1,
    )
    return (
        pd.DataFrame(
            {
                "feature": FEATURES,
                "importancia": result.importances_mean,
                "desvio": result.importances_std,
            }
        )
        .sort_values("importancia", ascending=False)
        .reset_index(drop=True)
    )


def factor_importance(model, test: pd.DataFrame, seed: int, repeats: int = 3) -> dict[str, float]:
    """Drop in held-out PR-AUC when a reason factor's features are shuffled together.

    Per-feature permutation understates correlated features (visits per week and visits in 4
    weeks carry the same signal: shuffling one leaves the other), so the reason weights shuffle
    each factor's features as a block."""
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(seed)
    X, y = test[FEATURES], test[LABEL].to_numpy()
    base = average_precision_score(y, model.predict_proba(X)[:, 1])
    weights = {}
    for factor in FACTORS:
        drops = []
        for _ in range(repeats):
            shuffled = X.copy()
            order = rng.permutation(len(X))
            columns = list(factor.features_weighted)
            shuffled[columns] = X[columns].to_numpy()[order]
            drops.append(base - average_precision_score(y, model.predict_proba(shuffled)[:, 1]))
        weights[factor.code] = float(np.mean(drops))
    return weights


# Over 60 lines on purpose: one recipe read top to bottom (split ▶ forest ▶ calibration ▶
# baselines ▶ importances ▶ thresholds), each step a call of its own.
def train_models(
    labelled: pd.DataFrame,
    *,
    forest_params: dict[str, Any] | None = None,
    holdout_weeks: int = 4,
    max_training_rows: int = MAX_TRAINING_ROWS,
    progress: Progress | None = None,
) -> TrainingResult:
    report = progress or (lambda _fraction, _message: None)
    params = {**DEFAULT_FOREST, **(forest_params or {})}
    seed = int(params["random_state"])
    split = out_of_time_split(labelled, holdout_weeks=holdout_weeks)
    train = _sample(split.train, max_training_rows, seed)
    X_test, y_test = split.test[FEATURES], split.test[LABEL].to_numpy()

    report(0.1, f"random forest on {len(train):,} snapshots")
    forest = random_forest(params).fit(train[FEATURES], train[LABEL])
    forest_scores = forest.predict_proba(X_test)[:, 1]

    report(0.4, "calibrating (isotonic, folds grouped by member)")
    calibrated = _calibrated_forest(random_forest(params), train)
    calibrated_scores = calibrated.predict_proba(X_test)[:, 1]
    brier_raw = metrics(y_test, forest_scores)["brier"]
    brier_cal = metrics(y_test, calibrated_scores)["brier"]
    use_calibrated = brier_cal < brier_raw
    model, scores = (calibrated, calibrated_scores) if use_calibrated else (forest, forest_scores)

    report(0.7, "baselines: inactivity rule and logistic regression")
    rule = InactivityRule().fit(train[FEATURES], train[LABEL])
    logistic = logistic_regression().fit(train[FEATURES], train[LABEL])
    held_out_scores = {
        "random_forest": scores,
        "logistic_regression": logistic.predict_proba(X_test)[:, 1],
        "inactivity_rule": rule.predict_proba(X_test)[:, 1],
    }
    results = {name: metrics(y_test, s) for name, s in held_out_scores.items()}

    report(0.8, "feature importances on the held-out set")
    # Measured on the forest fitted on the whole training set: the calibrated model is the same
    # recipe on three folds plus a monotone map, so it relies on the same features; scoring one
    # forest instead of three makes this step three times cheaper.
    importances = _importances(forest, split.test, seed)
    # At the precision scores are stored with (models.scoring.PRECISION), so a stored score
    # and its tier agree with the thresholds logged with the model.
    thresholds = {
        "alto": round(float(np.quantile(scores, HIGH_RISK_QUANTILE)), 6),
        "medio": round(float(np.quantile(scores, MEDIUM_RISK_QUANTILE)), 6),
    }
    return TrainingResult(
        model=model,
        split=split,
        metrics=results,
        calibrated=use_calibrated,
        brier_uncalibrated=brier_raw,
        brier_calibrated=brier_cal,
        held_out_scores=held_out_scores,
        importances=importances,
        thresholds=thresholds,
        reasons=reason_reference(train, factor_importance(forest, split.test, seed)),
        params={**params, "holdout_weeks": holdout_weeks},
        sizes={
            "rows_labelled": len(labelled),
            "rows_train": len(split.train),
            "rows_train_used": len(train),
            "rows_test": len(split.test),
            "members_train": int(split.train["aluno_id"].nunique()),
            "members_test": int(split.test["aluno_id"].nunique()),
            "churn_train": int(split.train[LABEL].sum()),
            "churn_test": int(split.test[LABEL].sum()),
        },
    )
