"""Train the churn Random Forest and its three baselines on the same out-of-time split.

Plain functions (no Prefect, no MLflow): `train_models` takes the labelled feature frame and
returns everything a run logs — the grid's candidates, the chosen configuration's validation
fit and its metrics next to the baselines' on the held-out set, the calibration decision,
importances, risk-tier thresholds, the reason-code reference, and the refit of the chosen
configuration on every labelled snapshot (the model that is registered).
"""

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.inspection import permutation_importance
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from models.calibration import calibrate
from models.evaluation import Split, metrics, out_of_time_split
from models.features import CATEGORICAL, FEATURES, LABEL, NUMERIC, FeatureFiller, fill_missing
from models.reasons import FACTORS, reason_reference
from models.tuning import Candidate, grid, search

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
IMPORTANCE_TREES = 100
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


def gradient_boosting() -> Pipeline:
    """What a boosted model would get from the same features: the ML engineer's yardstick for
    what the forest leaves on the table (the production family stays the forest)."""
    return Pipeline(
        [
            ("preencher", FeatureFiller()),
            ("codificar", _encoder(scale=False)),
            ("boosting", HistGradientBoostingClassifier(max_iter=100, random_state=0)),
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


# Fitted on the same training rows as the forest, judged on the same held-out rows.
BASELINES: dict[str, Callable[[], Any]] = {
    "logistic_regression": logistic_regression,
    "inactivity_rule": InactivityRule,
    "hist_gradient_boosting": gradient_boosting,
}


@dataclass
class TrainingResult:
    """`model` is what gets registered: the chosen configuration refitted on every labelled
    snapshot. Every metric is the validation fit's (`validation_model`, trained on the split's
    training rows) on the held-out rows, which the refit has seen."""

    model: Any
    validation_model: Any
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
    candidates: list[Candidate] = field(default_factory=list)
    refit_data: pd.DataFrame | None = None

    @property
    def forest_metrics(self) -> dict[str, float]:
        return self.metrics["random_forest"]

    @property
    def baselines(self) -> list[str]:
        return [name for name in self.metrics if name != "random_forest"]


def _sample(train: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    if len(train) <= max_rows:
        return train
    return train.sample(n=max_rows, random_state=seed).sort_values(["data_referencia", "aluno_id"])


def _importances(model, test: pd.DataFrame, seed: int) -> pd.DataFrame:
    result = permutation_importance(
        model,
        test[FEATURES],
        test[LABEL],
        scoring="average_precision",
        # two repeats: the table and plot rank features; the reason weights (factor_importance)
        # keep three. Each repeat is one held-out prediction per feature.
        n_repeats=2,
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

    Per-feature permutation understates correlated features (the visit counts of the 7, 14, 28
    and 56 days overlap: shuffling one leaves the others), so the reason weights shuffle each
    factor's features as a block."""
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


def _first_trees(model: Pipeline, trees: int) -> Pipeline:
    """The fitted pipeline with only its forest's first `trees` trees (the model is untouched)."""
    forest = copy.copy(model[-1])
    forest.estimators_ = forest.estimators_[:trees]
    forest.n_estimators = len(forest.estimators_)
    return Pipeline([*model.steps[:-1], (model.steps[-1][0], forest)])


def _fit_forest(params: dict[str, Any], frame: pd.DataFrame, **extra: Any) -> Pipeline:
    return random_forest({**params, **extra}).fit(frame[FEATURES], frame[LABEL])


def _choose_calibration(
    forest: Pipeline, train: pd.DataFrame, X_test: pd.DataFrame, y_test: np.ndarray
) -> tuple[Any, np.ndarray, float, float]:
    """(model, held-out scores, Brier raw, Brier calibrated): the isotonic map on the forest's
    out-of-bag predictions is kept only when it lowers the Brier score on the held-out rows."""
    raw_scores = forest.predict_proba(X_test)[:, 1]
    calibrated = calibrate(forest, train[LABEL].to_numpy())
    calibrated_scores = calibrated.predict_proba(X_test)[:, 1]
    brier_raw = metrics(y_test, raw_scores)["brier"]
    brier_cal = metrics(y_test, calibrated_scores)["brier"]
    if brier_cal < brier_raw:
        return calibrated, calibrated_scores, brier_raw, brier_cal
    return forest, raw_scores, brier_raw, brier_cal


def _refit(params: dict[str, Any], labelled: pd.DataFrame, calibrated: bool) -> Any:
    """The chosen configuration on every labelled snapshot, calibrated the same way."""
    forest = _fit_forest(params, labelled, oob_score=calibrated)
    return calibrate(forest, labelled[LABEL].to_numpy()) if calibrated else forest


# Over 60 lines on purpose: one recipe read top to bottom (split ▶ grid ▶ validation forest ▶
# calibration ▶ baselines ▶ importances ▶ thresholds ▶ refit on everything), a call per step.
def train_models(
    labelled: pd.DataFrame,
    *,
    forest_params: dict[str, Any] | None = None,
    holdout_weeks: int = 4,
    max_training_rows: int = MAX_TRAINING_ROWS,
    progress: Progress | None = None,
) -> TrainingResult:
    """With `forest_params` that configuration is used as given; without, the grid
    (models/tuning.py) chooses it on the held-out rows."""
    report = progress or (lambda _fraction, _message: None)
    seed = int({**DEFAULT_FOREST, **(forest_params or {})}["random_state"])
    split = out_of_time_split(labelled, holdout_weeks=holdout_weeks)
    train = _sample(split.train, max_training_rows, seed)
    X_test, y_test = split.test[FEATURES], split.test[LABEL].to_numpy()

    candidates: list[Candidate] = []
    if forest_params is None:
        report(0.05, f"grid of {len(grid())} forests on {len(train):,} snapshots")
        chosen, candidates = search(
            lambda p: _fit_forest({**DEFAULT_FOREST, **p}, train), X_test, y_test, grid()
        )
        params = {**DEFAULT_FOREST, **chosen}
    else:
        params = {**DEFAULT_FOREST, **forest_params}

    report(0.3, f"random forest on {len(train):,} snapshots")
    forest = _fit_forest(params, train, oob_score=True)

    report(0.5, "calibrating (isotonic on out-of-bag predictions)")
    model, scores, brier_raw, brier_cal = _choose_calibration(forest, train, X_test, y_test)

    report(0.55, "baselines: inactivity rule, logistic regression, gradient boosting")
    held_out_scores = {
        "random_forest": scores,
        **{
            name: make().fit(train[FEATURES], train[LABEL]).predict_proba(X_test)[:, 1]
            for name, make in BASELINES.items()
        },
    }
    results = {name: metrics(y_test, s) for name, s in held_out_scores.items()}

    report(0.6, "feature importances on the held-out set")
    # On the forest's first IMPORTANCE_TREES trees: an average of 100 trees ranks features as
    # the 300 do, and shuffling every feature and factor costs a third.
    judged = _first_trees(forest, IMPORTANCE_TREES)
    importances = _importances(judged, split.test, seed)
    # At the precision scores are stored with (models.scoring.PRECISION), so a stored score
    # and its tier agree with the thresholds logged with the model.
    thresholds = {
        "alto": round(float(np.quantile(scores, HIGH_RISK_QUANTILE)), 6),
        "medio": round(float(np.quantile(scores, MEDIUM_RISK_QUANTILE)), 6),
    }
    reasons = reason_reference(train, factor_importance(judged, split.test, seed))

    refit_rows = _sample(labelled, max_training_rows, seed)
    report(0.7, f"refit on all {len(refit_rows):,} labelled snapshots")
    refit = _refit(params, refit_rows, calibrated=model is not forest)
    return TrainingResult(
        model=refit,
        validation_model=model,
        split=split,
        metrics=results,
        calibrated=model is not forest,
        brier_uncalibrated=brier_raw,
        brier_calibrated=brier_cal,
        held_out_scores=held_out_scores,
        importances=importances,
        thresholds=thresholds,
        reasons=reasons,
        params={**params, "holdout_weeks": holdout_weeks},
        sizes={
            "rows_labelled": len(labelled),
            "rows_train": len(split.train),
            "rows_train_used": len(train),
            "rows_test": len(split.test),
            "rows_refit": len(refit_rows),
            "members_train": int(split.train["aluno_id"].nunique()),
            "members_test": int(split.test["aluno_id"].nunique()),
            "members_refit": int(refit_rows["aluno_id"].nunique()),
            "churn_train": int(split.train[LABEL].sum()),
            "churn_test": int(split.test[LABEL].sum()),
        },
        candidates=candidates,
        refit_data=refit_rows,
    )
