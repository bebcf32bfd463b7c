"""The drift monitor's arithmetic (models/monitoring.py), on frames made here: no database."""

import numpy as np
import pandas as pd
import pytest

from models.features import CATEGORICAL, FEATURES, NUMERIC
from models.monitoring import (
    PSI_ALERT,
    SCORE,
    calibration_gaps,
    drift,
    psi,
    training_reference,
)


def _population(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({column: rng.gamma(2.0, 5.0, rows) for column in NUMERIC})
    frame["duracao_meses"] = rng.choice([1, 3, 12], rows).astype(float)
    # Meaningful nulls: never visited, no completed visit.
    frame.loc[rng.random(rows) < 0.05, "dias_desde_ultima_visita"] = np.nan
    frame["plano"] = rng.choice(["Mensal", "Trimestral", "Anual"], rows, p=[0.5, 0.3, 0.2])
    return frame[FEATURES]


@pytest.fixture(scope="module")
def reference():
    training = _population(20_000, seed=1)
    scores = np.random.default_rng(2).beta(2, 8, 20_000)
    return training_reference(training, scores)


def test_a_shifted_feature_is_flagged_and_the_unshifted_ones_are_not(reference):
    tonight = _population(5_000, seed=3)
    tonight["dias_desde_ultima_visita"] += 15  # everyone stayed away two more weeks
    scores = np.random.default_rng(4).beta(2, 8, 5_000)

    table = drift(reference, tonight, scores).set_index("variavel")

    assert list(table.index) == [*FEATURES, SCORE]
    assert table.loc["dias_desde_ultima_visita", "psi"] > PSI_ALERT
    assert table.loc["dias_desde_ultima_visita", "alerta"]
    unshifted = table.drop(index="dias_desde_ultima_visita")
    assert (unshifted["psi"] < 0.05).all(), unshifted
    assert not unshifted["alerta"].any()


def test_a_shifted_score_distribution_and_plan_mix_are_flagged(reference):
    tonight = _population(5_000, seed=5)
    tonight["plano"] = np.random.default_rng(6).choice(
        ["Mensal", "Trimestral", "Anual", "Diária"], 5_000, p=[0.2, 0.2, 0.2, 0.4]
    )
    riskier = np.random.default_rng(7).beta(5, 5, 5_000)

    table = drift(reference, tonight, riskier).set_index("variavel")

    assert table.loc[SCORE, "alerta"] and table.loc["plano", "alerta"]
    assert set(CATEGORICAL) <= set(table.index)


def test_more_missing_values_count_as_drift(reference):
    tonight = _population(5_000, seed=8)
    tonight.loc[tonight.index[:2_000], "dias_desde_ultima_visita"] = np.nan  # 40 % never came

    table = drift(reference, tonight, None).set_index("variavel")

    assert SCORE not in table.index  # no scores tonight, no score PSI
    assert table.loc["dias_desde_ultima_visita", "alerta"]


def test_psi_is_zero_for_the_same_shares_and_finite_for_an_empty_bin():
    assert psi(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == pytest.approx(0.0)
    assert 0 < psi(np.array([0.5, 0.5, 0.0]), np.array([0.4, 0.4, 0.2])) < np.inf


def test_a_gap_over_two_points_is_flagged_either_way():
    outcomes = pd.DataFrame(
        {
            "mes": ["2026-01-01"] * 3,
            "faixa_risco": ["alto", "medio", "baixo"],
            "datas_pontuacao": [4, 4, 4],
            "pontuacoes": [100, 200, 700],
            "prevista": [0.30, 0.10, 0.02],
            "realizada": [0.25, 0.115, 0.045],
        }
    )

    gaps = calibration_gaps(outcomes).set_index("faixa_risco")

    assert gaps["diferenca_pp"].to_dict() == pytest.approx(
        {"alto": -5.0, "medio": 1.5, "baixo": 2.5}
    )
    assert gaps["alerta"].to_dict() == {"alto": True, "medio": False, "baixo": True}
