"""The promotion gate on constructed scores (no gym, no MLflow): a candidate that only ties a
baseline is refused, one that is clearly better is promoted, and the PR-AUC the bootstrap
resamples is scikit-learn's."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from models import gate

MEMBERS, WEEKS = 400, 4


@pytest.fixture(scope="module")
def held_out():
    """4 weekly rows per member, 12 % churn, and a score that knows who churns."""
    rng = np.random.default_rng(3)
    groups = np.repeat(np.arange(MEMBERS), WEEKS)
    y = (rng.random(len(groups)) < 0.12).astype(int)
    informative = np.clip(0.5 * y + rng.normal(0.3, 0.2, len(y)), 0, 1)
    return y, groups, informative, rng


def test_a_candidate_that_only_ties_a_baseline_is_refused(held_out):
    y, groups, informative, rng = held_out
    weak = rng.random(len(y))

    # the same ranking as the baseline, on a different scale: an exact tie on PR-AUC
    decision = gate.decide(
        y,
        informative / 2,
        {"logistic_regression": informative, "inactivity_rule": weak},
        groups,
    )

    assert not decision.promoted
    assert decision.reason.startswith("does not beat logistic_regression beyond the noise")
    tie, beaten = decision.comparisons
    assert (tie.difference, tie.low, tie.high) == (0.0, 0.0, 0.0)
    assert beaten.beaten and not tie.beaten
    assert "inactivity_rule" not in decision.reason.split("(")[0]


def test_a_small_win_inside_the_noise_is_refused(held_out):
    y, groups, informative, rng = held_out
    # the baseline is the candidate with a sliver of noise: a point estimate either way,
    # never a difference the member bootstrap confirms
    baseline = informative + rng.normal(0, 0.01, len(y))

    decision = gate.decide(y, informative, {"hist_gradient_boosting": baseline}, groups)

    (comparison,) = decision.comparisons
    assert comparison.low < 0 < comparison.high
    assert not decision.promoted


def test_a_clearly_better_candidate_is_promoted(held_out):
    y, groups, informative, rng = held_out
    rivals = {
        "champion v1": np.clip(0.15 * y + rng.normal(0.3, 0.2, len(y)), 0, 1),
        "inactivity_rule": rng.random(len(y)),
    }

    decision = gate.decide(y, informative, rivals, groups)

    assert decision.promoted
    assert decision.reason.startswith("beats every rival on pr_auc")
    assert all(c.low > 0 for c in decision.comparisons)


def test_a_first_model_is_promoted_but_says_what_it_failed_to_beat(held_out):
    y, groups, informative, _rng = held_out

    decision = gate.decide(
        y, informative, {"logistic_regression": informative}, groups, first_model=True
    )

    assert decision.promoted
    assert decision.reason.startswith(
        "first model: becomes champion although it does not beat logistic_regression"
    )


def test_the_bootstrap_is_seeded_and_its_pr_auc_is_scikit_learns(held_out):
    y, groups, informative, rng = held_out
    # ties in the scores, where a naive cumulative precision would differ from sklearn's
    rounded = np.round(informative, 1)

    once = gate.paired_bootstrap(y, rounded, {"base": informative}, groups, resamples=200)
    again = gate.paired_bootstrap(y, rounded, {"base": informative}, groups, resamples=200)

    assert once == again
    ours = gate._RankedScores(y, rounded).pr_auc(np.ones((1, len(y))))[0]
    assert ours == pytest.approx(average_precision_score(y, rounded))
    # a resample's weights are member draws: a member counts 0, 1, 2... times, all rows alike
    weights = gate._member_weights(groups, 5, rng)
    per_member = weights.reshape(5, MEMBERS, WEEKS)
    assert (per_member == per_member[:, :, :1]).all()
    assert weights.sum(axis=1).tolist() == [MEMBERS * WEEKS] * 5
    resampled = gate._RankedScores(y, rounded).pr_auc(weights[:1])[0]
    expected = average_precision_score(y, rounded, sample_weight=weights[0])
    assert resampled == pytest.approx(expected)
