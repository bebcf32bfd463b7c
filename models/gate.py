"""The promotion gate: a candidate replaces the champion only when it beats the champion and
every baseline on the same held-out rows by more than the noise.

The noise is a paired bootstrap by member (numpy only, seeded): members are resampled with
replacement, every resample scores both models on the same rows, and the candidate must win on
the 2.5th percentile of the PR-AUC difference, not only on the point estimate. A tie, or a win
the resampling does not confirm, keeps the champion.
"""

from dataclasses import dataclass

import numpy as np

GATE_METRIC = "pr_auc"
RESAMPLES = 1000
CONFIDENCE = 0.95
SEED = 11
# Resamples scored at once: bounds the weight matrix to ~CHUNK × rows floats.
CHUNK = 100


@dataclass(frozen=True)
class Comparison:
    rival: str
    difference: float  # candidate minus rival, PR-AUC on the held-out rows
    low: float
    high: float

    @property
    def beaten(self) -> bool:
        return self.low > 0

    def describe(self) -> str:
        interval = f"{self.difference:+.4f} [{self.low:+.4f}, {self.high:+.4f}]"
        return f"{self.rival} {interval}"


@dataclass(frozen=True)
class GateDecision:
    promoted: bool
    reason: str
    comparisons: tuple[Comparison, ...]


class _RankedScores:
    """One model's held-out scores in descending order with its threshold groups, so the
    PR-AUC of any reweighting of the rows costs two cumulative sums."""

    def __init__(self, y: np.ndarray, scores: np.ndarray) -> None:
        self.order = np.argsort(-scores, kind="stable")
        ranked = scores[self.order]
        # the last row of each run of equal scores: sklearn's thresholds
        self.group_ends = np.flatnonzero(np.r_[ranked[1:] != ranked[:-1], True])
        self.y = y[self.order].astype(float)

    def pr_auc(self, weights: np.ndarray) -> np.ndarray:
        """Average precision for each row of `weights` (resamples × rows)."""
        w = weights[:, self.order]
        true_positives = np.cumsum(w * self.y, axis=1)[:, self.group_ends]
        predicted = np.cumsum(w, axis=1)[:, self.group_ends]
        positives = true_positives[:, -1:]
        precision = np.divide(
            true_positives, predicted, out=np.zeros_like(predicted), where=predicted > 0
        )
        recall = np.divide(
            true_positives, positives, out=np.zeros_like(true_positives), where=positives > 0
        )
        steps = np.diff(recall, axis=1, prepend=0.0)
        return np.sum(steps * precision, axis=1)


def _member_weights(groups: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """How many times each row is drawn when members are drawn with replacement."""
    members, member_of_row = np.unique(groups, return_inverse=True)
    draws = rng.integers(0, len(members), size=(resamples, len(members)))
    counts = np.stack([np.bincount(d, minlength=len(members)) for d in draws])
    return counts[:, member_of_row].astype(float)


def paired_bootstrap(
    y: np.ndarray,
    candidate: np.ndarray,
    rivals: dict[str, np.ndarray],
    groups: np.ndarray,
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> tuple[Comparison, ...]:
    """PR-AUC difference candidate − rival and its interval, every rival on the same draws."""
    y = np.asarray(y, dtype=int)
    ones = np.ones((1, len(y)))
    ranked_candidate = _RankedScores(y, np.asarray(candidate, dtype=float))
    ranked_rivals = {
        name: _RankedScores(y, np.asarray(s, dtype=float)) for name, s in rivals.items()
    }
    differences: dict[str, list[np.ndarray]] = {name: [] for name in rivals}
    rng = np.random.default_rng(seed)
    for start in range(0, resamples, CHUNK):
        weights = _member_weights(np.asarray(groups), min(CHUNK, resamples - start), rng)
        ours = ranked_candidate.pr_auc(weights)
        for name, ranked in ranked_rivals.items():
            differences[name].append(ours - ranked.pr_auc(weights))
    tail = (1 - CONFIDENCE) / 2 * 100
    comparisons = []
    for name, ranked in ranked_rivals.items():
        drawn = np.concatenate(differences[name])
        point = float(ranked_candidate.pr_auc(ones)[0] - ranked.pr_auc(ones)[0])
        low, high = np.percentile(drawn, [tail, 100 - tail])
        comparisons.append(Comparison(name, point, float(low), float(high)))
    return tuple(comparisons)


def decide(
    y: np.ndarray,
    candidate: np.ndarray,
    rivals: dict[str, np.ndarray],
    groups: np.ndarray,
    *,
    first_model: bool = False,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> GateDecision:
    """Promote only when every rival (champion and baselines) is beaten beyond the noise.

    With no champion yet the candidate is promoted anyway (the members need a score), and the
    reason says plainly which baseline it failed to beat."""
    comparisons = paired_bootstrap(y, candidate, rivals, groups, resamples=resamples, seed=seed)
    unbeaten = [c for c in comparisons if not c.beaten]
    summary = "; ".join(c.describe() for c in comparisons)
    level = f"{CONFIDENCE:.0%} paired bootstrap by member, {resamples} resamples"
    if first_model:
        reason = "first model: becomes champion"
        if unbeaten:
            reason += (
                " although it does not beat "
                + ", ".join(c.rival for c in unbeaten)
                + f" beyond the noise ({GATE_METRIC} difference {summary}; {level})"
            )
        return GateDecision(True, reason, comparisons)
    if unbeaten:
        reason = (
            "does not beat "
            + ", ".join(c.rival for c in unbeaten)
            + f" beyond the noise ({GATE_METRIC} difference {summary}; {level})"
        )
        return GateDecision(False, reason, comparisons)
    return GateDecision(
        True, f"beats every rival on {GATE_METRIC} ({summary}; {level})", comparisons
    )
