"""Calibration that pays for itself: an isotonic map fitted on the forest's out-of-bag
predictions (no extra forest, no rows taken from training), kept only when it lowers the Brier
score on the held-out rows, which it was not fitted on."""

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.pipeline import Pipeline


class OutOfBagCalibrated:
    """A fitted forest pipeline followed by a monotone map of its churn probability."""

    def __init__(self, forest: Pipeline, isotonic: IsotonicRegression) -> None:
        self.forest = forest
        self.isotonic = isotonic

    @property
    def classes_(self) -> np.ndarray:
        return self.forest.classes_

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        risk = self.isotonic.predict(self.forest.predict_proba(X)[:, 1])
        return np.column_stack([1 - risk, risk])


def out_of_bag_isotonic(forest: Pipeline, y: np.ndarray) -> IsotonicRegression:
    """Isotonic regression of the label on the out-of-bag churn probability of each training
    row (a row no tree left out, rare with hundreds of trees, is skipped)."""
    oob = forest[-1].oob_decision_function_[:, 1]
    seen = ~np.isnan(oob)
    return IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(
        oob[seen], np.asarray(y)[seen]
    )


def calibrate(forest: Pipeline, y: np.ndarray) -> OutOfBagCalibrated:
    return OutOfBagCalibrated(forest, out_of_bag_isotonic(forest, y))
