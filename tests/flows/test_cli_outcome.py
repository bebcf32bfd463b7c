"""What `gympulse pipeline run` prints about the promotion gate, from the flow's outcome (no
services: the outcome is the nightly flow's return value)."""

from flows.cli.churn import outcome_lines

METRICS = {"roc_auc": 0.8, "pr_auc": 0.4, "brier": 0.06, "lift_top10": 3.1}


def outcome(promoted: bool, reason: str) -> dict:
    return {
        "data_referencia": "2026-11-30",
        "treino": {
            "modelo_versao": "4",
            "promovido": promoted,
            "motivo": reason,
            "parametros": {"min_samples_leaf": 40, "max_features": "sqrt", "class_weight": None},
            "candidatos": 8,
            "metricas": {"random_forest": METRICS, "hist_gradient_boosting": METRICS},
        },
        "pontuacao": {
            "alunos_pontuados": 1200,
            "modelo_versao": "3",
            "por_faixa": {"alto": 120, "medio": 240, "baixo": 840},
        },
        "relatorio": {"data": "2026-11-30"},
    }


def test_a_refused_candidate_is_said_plainly():
    reason = "does not beat hist_gradient_boosting beyond the noise (pr_auc difference ...)"

    lines = outcome_lines(outcome(False, reason))

    assert f"  model v4 not promoted: {reason}; the champion keeps scoring" in lines
    assert not any("@champion" in line and "v4" in line for line in lines)
    assert (
        "  forest chosen out of a grid of 8: min_samples_leaf=40, max_features=sqrt, "
        "class_weight=None" in lines
    )


def test_a_promoted_candidate_is_the_champion():
    lines = outcome_lines(outcome(True, "beats every rival on pr_auc (...)"))

    assert "  model v4 is @champion (beats every rival on pr_auc (...))" in lines
    assert not any("not promoted" in line for line in lines)
