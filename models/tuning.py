"""The forest's hyperparameters, chosen out of time: a small grid, every candidate fitted on the
same training rows and judged by PR-AUC on the same held-out rows (models/evaluation.py).

The search is cheap on purpose (the whole training must stay within twice one raw fit of the
final forest): SEARCH_TREES trees, each grown on a SEARCH_SAMPLE bootstrap of the rows, with the
leaf size scaled by the same fraction so a leaf holds the same share of the data as it will in
the full forest. Only the chosen configuration is grown at full size.
"""

from collections.abc import Callable
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np
import pandas as pd

from models.evaluation import metrics

# 2 × 2 × 2 = 8 candidates.
GRID: dict[str, list[Any]] = {
    "min_samples_leaf": [10, 40],
    "max_features": ["sqrt", 0.5],
    "class_weight": [None, "balanced_subsample"],
}
SEARCH_TREES = 40
SEARCH_SAMPLE = 0.1


@dataclass(frozen=True)
class Candidate:
    params: dict[str, Any]
    metrics: dict[str, float]

    @property
    def name(self) -> str:
        return candidate_name(self.params)


def candidate_name(params: dict[str, Any]) -> str:
    weighting = "-balanced" if params.get("class_weight") else ""
    return f"rf-min_leaf{params['min_samples_leaf']}-{params['max_features']}{weighting}"


def grid() -> list[dict[str, Any]]:
    keys = list(GRID)
    return [dict(zip(keys, values, strict=True)) for values in product(*GRID.values())]


def search_params(params: dict[str, Any]) -> dict[str, Any]:
    """The cheap stand-in for a configuration: fewer trees on a row sample, same leaf share."""
    return {
        **params,
        "n_estimators": SEARCH_TREES,
        "max_samples": SEARCH_SAMPLE,
        "min_samples_leaf": max(1, round(params["min_samples_leaf"] * SEARCH_SAMPLE)),
    }


def search(
    fit: Callable[[dict[str, Any]], Any],
    X_test: pd.DataFrame,
    y_test: np.ndarray,
    candidates: list[dict[str, Any]],
) -> tuple[dict[str, Any], list[Candidate]]:
    """Fit each candidate with `fit(params)` and keep the best held-out PR-AUC (the first
    listed on a tie)."""
    judged = []
    for params in candidates:
        model = fit(search_params(params))
        judged.append(Candidate(params, metrics(y_test, model.predict_proba(X_test)[:, 1])))
    best = max(judged, key=lambda c: c.metrics["pr_auc"])
    return best.params, judged
