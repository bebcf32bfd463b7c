"""The drift and calibration monitor's arithmetic: pure functions, no I/O.

- **Reference**: at registration, each feature's distribution over the newest labelled weeks
  (the held-out period; deciles for a number, a share per category for the plan; a missing
  value is its own bin, since it means something in the contract) and the model's held-out
  scores, as plain JSON (`training_reference`, chosen in models/registry.py).
- **PSI** (population stability index) of a population's feature rows against that reference,
  and of tonight's scores against the model's first batch (`score_reference`): sum over bins of
  (actual - expected) × ln(actual / expected). Above `PSI_ALERT` (0.2, the usual "the
  population has moved" line) a variable is flagged.
- **Calibration**: for scoring dates whose 30 days have closed, the mean predicted probability
  against the share that really cancelled, per month and risk tier; a gap over `GAP_ALERT_PP`
  percentage points is flagged.

No maintained PSI package small enough to add was found (the drift suites bring dashboards and
dozens of dependencies for one formula), so the formula lives here, with its tests.
"""

from typing import Any

import numpy as np
import pandas as pd

from models.features import CATEGORICAL, FEATURES

PSI_ALERT = 0.2
GAP_ALERT_PP = 2.0
BINS = 10
SCORE = "score"  # the variable name of the score distribution, beside the features
ALL_TIERS = "todas"  # a month's row over every tier
# An empty bin would make the logarithm infinite; this share stands in for it.
EMPTY_SHARE = 1e-4
MISSING = "__missing__"


def _numeric_reference(values: pd.Series, bins: int) -> dict[str, Any]:
    present = values.dropna().astype("float64")
    cuts = np.linspace(0, 1, bins + 1)[1:-1]
    edges = np.unique(np.quantile(present, cuts)).tolist() if len(present) else []
    reference: dict[str, Any] = {"kind": "numeric", "edges": edges}
    reference["shares"] = _numeric_shares(reference, values).tolist()
    return reference


def _numeric_shares(reference: dict[str, Any], values: pd.Series) -> np.ndarray:
    """Share of values in each bin: below the first edge, between edges (a value equal to an
    edge goes up), above the last, then missing."""
    numbers = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()
    missing = np.isnan(numbers)
    edges = np.asarray(reference["edges"], dtype="float64")
    counts = np.bincount(
        np.searchsorted(edges, numbers[~missing], side="right"), minlength=len(edges) + 1
    )
    counts = np.append(counts, missing.sum())
    return counts / max(len(numbers), 1)


def _categorical_reference(values: pd.Series) -> dict[str, Any]:
    shares = values.fillna(MISSING).astype(str).value_counts(normalize=True)
    return {"kind": "categorical", "shares": {str(k): float(v) for k, v in shares.items()}}


def _categorical_shares(reference: dict[str, Any], values: pd.Series) -> tuple[np.ndarray, ...]:
    """(expected, actual) over the reference's categories plus one bin for categories it never
    saw (expected empty)."""
    known = list(reference["shares"])
    actual = values.fillna(MISSING).astype(str).value_counts(normalize=True)
    expected = [reference["shares"][k] for k in known] + [0.0]
    observed = [float(actual.get(k, 0.0)) for k in known]
    observed.append(float(actual[~actual.index.isin(known)].sum()))
    return np.asarray(expected), np.asarray(observed)


def training_reference(
    features: pd.DataFrame, scores: np.ndarray, bins: int = BINS
) -> dict[str, dict[str, Any]]:
    """What PSI compares against: each feature's training distribution and the model's
    held-out scores (out of sample; a forest's scores on its own training rows are too sure)."""
    reference = {
        column: _categorical_reference(features[column])
        if column in CATEGORICAL
        else _numeric_reference(features[column], bins)
        for column in FEATURES
    }
    reference[SCORE] = score_reference(scores, bins)
    return reference


def score_reference(scores: np.ndarray, bins: int = BINS) -> dict[str, Any]:
    """The score's reference from the model's own first batch. The training reference's
    held-out scores come from the validation fit; the registered version is the refit on every
    labelled row, whose scores differ from those by construction (most in the low tail), so
    only its own scores compare like for like."""
    return _numeric_reference(pd.Series(scores, dtype="float64"), bins)


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two share vectors over the same bins."""
    e = np.clip(np.asarray(expected, dtype="float64"), EMPTY_SHARE, None)
    a = np.clip(np.asarray(actual, dtype="float64"), EMPTY_SHARE, None)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_against(reference: dict[str, Any], values: pd.Series) -> float:
    if reference["kind"] == "categorical":
        expected, actual = _categorical_shares(reference, values)
        return psi(expected, actual)
    return psi(np.asarray(reference["shares"]), _numeric_shares(reference, values))


def drift(
    reference: dict[str, dict[str, Any]], features: pd.DataFrame, scores: np.ndarray | None
) -> pd.DataFrame:
    """variavel, psi, alerta: each feature the reference knows, then the score (when there are
    scores), flagged above PSI_ALERT."""
    rows = [
        (column, psi_against(reference[column], features[column]))
        for column in FEATURES
        if column in reference and column in features
    ]
    if scores is not None and len(scores) and SCORE in reference:
        rows.append((SCORE, psi_against(reference[SCORE], pd.Series(scores, dtype="float64"))))
    table = pd.DataFrame(rows, columns=["variavel", "psi"])
    return table.assign(alerta=table["psi"] > PSI_ALERT)


def calibration_gaps(outcomes: pd.DataFrame) -> pd.DataFrame:
    """`outcomes` has one row per month and tier (mes, faixa_risco, datas_pontuacao,
    pontuacoes, prevista, realizada: mean probability and share cancelled); adds the gap in
    percentage points (realised − predicted) and its flag."""
    gap = (outcomes["realizada"] - outcomes["prevista"]) * 100
    return outcomes.assign(diferenca_pp=gap, alerta=gap.abs() > GAP_ALERT_PP)
