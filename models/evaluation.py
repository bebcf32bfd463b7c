"""Out-of-time validation and the metrics a retention team can act on.

The held-out set is the newest labelled snapshot dates, for a fixed share of members (chosen by
a hash of the member id, so the same members are held out run after run); the training set is
the other members' snapshots whose 30-day label window closed before the held-out period
starts, so no label the model learned from overlaps the period it is judged on.
"""

import hashlib
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from models.features import HORIZON_DAYS, LABEL

TOP_FRACTION = 0.10


class NotEnoughDataError(ValueError):
    """Too little labelled history, or no churn in it, to train and validate a model."""


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    test: pd.DataFrame
    test_from: object  # date
    test_to: object  # date
    train_to: object  # date


def held_out_member(aluno_ids: pd.Series, fraction: float) -> np.ndarray:
    """Stable across runs and machines (not Python's salted hash)."""

    def bucket(aluno_id: int) -> float:
        digest = hashlib.blake2b(str(int(aluno_id)).encode(), digest_size=4).digest()
        return int.from_bytes(digest, "big") / 2**32

    return np.array([bucket(i) < fraction for i in aluno_ids], dtype=bool)


def out_of_time_split(
    frame: pd.DataFrame,
    *,
    holdout_weeks: int = 4,
    member_fraction: float = 0.3,
    horizon: int = HORIZON_DAYS,
) -> Split:
    dates = sorted(frame["data_referencia"].unique())
    if len(dates) < holdout_weeks + 6:
        raise NotEnoughDataError(
            f"{len(dates)} labelled snapshot dates; at least {holdout_weeks + 6} are needed "
            f"({holdout_weeks} held out plus history to train on)"
        )
    test_from = dates[-holdout_weeks]
    train_to = test_from - timedelta(days=horizon)
    held_out = held_out_member(frame["aluno_id"], member_fraction)
    test = frame[held_out & (frame["data_referencia"] >= test_from)]
    train = frame[~held_out & (frame["data_referencia"] <= train_to)]
    for name, part in (("training", train), ("held-out", test)):
        churned = int(part[LABEL].sum())
        if churned < 5 or churned == len(part):
            raise NotEnoughDataError(
                f"the {name} set has {churned} cancellations in {len(part)} rows: a churn "
                "model needs both classes (simulate or import more history)"
            )
    return Split(
        train=train.reset_index(drop=True),
        test=test.reset_index(drop=True),
        test_from=test_from,
        test_to=dates[-1],
        train_to=train_to,
    )


def top_fraction_mask(scores: np.ndarray, fraction: float = TOP_FRACTION) -> np.ndarray:
    count = max(1, round(len(scores) * fraction))
    order = np.argsort(-scores, kind="stable")
    mask = np.zeros(len(scores), dtype=bool)
    mask[order[:count]] = True
    return mask


def metrics(y_true: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """ROC-AUC, PR-AUC, Brier, and what contacting the top 10 % would catch."""
    y_true = np.asarray(y_true, dtype=int)
    scores = np.asarray(scores, dtype=float)
    top = top_fraction_mask(scores)
    base_rate = y_true.mean()
    top_rate = y_true[top].mean()
    return {
        "roc_auc": float(roc_auc_score(y_true, scores)),
        "pr_auc": float(average_precision_score(y_true, scores)),
        "brier": float(brier_score_loss(y_true, np.clip(scores, 0, 1))),
        "lift_top10": float(top_rate / base_rate) if base_rate > 0 else 0.0,
        "recall_top10": float(y_true[top].sum() / max(1, y_true.sum())),
        "base_rate": float(base_rate),
    }


def calibration_table(y_true: np.ndarray, scores: np.ndarray, bins: int = 10) -> pd.DataFrame:
    observed, predicted = calibration_curve(y_true, scores, n_bins=bins, strategy="quantile")
    return pd.DataFrame({"prevista": predicted, "observada": observed})
