"""Modelo: the champion shown is MLflow's `@champion`, with the metrics its run logged, the
figures it logged, and today's score distribution."""

import pytest
from mlflow import MlflowClient

from dashboard import format as fmt
from serving.config import get_settings
from tests.dashboard.chart_support import chart_data
from tests.dashboard.conftest import redis_down

PAGE = "pages/modelo.py"


def _champion(gym):
    client = MlflowClient(gym.settings.mlflow_tracking_uri)
    version = client.get_model_version_by_alias(gym.settings.churn_model_name, "champion")
    return version, client.get_run(version.run_id).data.metrics


@pytest.mark.parametrize("role", ["analista", "admin"])
def test_the_champion_is_the_registry_alias_with_its_logged_metrics(gym, open_app, role):
    at = open_app(role, PAGE)

    assert not at.exception
    assert at.title[0].value == "Modelo"
    version, metrics = _champion(gym)
    shown = {m.label: m.value for m in at.metric}
    assert shown["Versão campeã"] == f"v{version.version}"
    assert shown["ROC-AUC"] == fmt.decimal(metrics["roc_auc"], 3)
    assert shown["PR-AUC"] == fmt.decimal(metrics["pr_auc"], 3)

    table = at.dataframe[0].value.set_index("modelo")
    champion_row = table.loc[f"v{version.version} (campeão)"]
    # Shown in Brazilian format, three decimals.
    assert champion_row["ROC-AUC"] == fmt.decimal(metrics["roc_auc"], 3)
    assert champion_row["Brier"] == fmt.decimal(metrics["brier"], 3)
    baseline = table.loc[f"Regressão logística (base, v{version.version})"]
    assert baseline["ROC-AUC"] == fmt.decimal(metrics["logistic_regression_roc_auc"], 3)
    assert len(at.get("image")) == 4  # ROC, PR, calibration, importances, as the run logged them


def test_todays_scores_are_every_scored_active_member(gym, open_app):
    at = open_app("analista", PAGE)

    assert not at.exception
    scored = gym.conn.execute(
        "select count(*) from previsoes_churn_atuais p join alunos a on a.id = p.aluno_id "
        "where a.ativo and coalesce(a.aluno_ref, '') not like 'SINT-%%'"
    ).fetchone()[0]
    bins = chart_data(at, "parcela")
    today = bins[bins["lote"].str.startswith("hoje")]
    assert today["alunos"].sum() == scored
    assert today["parcela"].sum() == pytest.approx(1.0)
    assert bins["lote"].nunique() == 2  # the champion's first batch is the reference


def test_without_a_champion_the_page_says_so(gym, open_app, monkeypatch):
    monkeypatch.setenv("CHURN_MODEL_NAME", "modelo-nunca-treinado")
    get_settings.cache_clear()
    at = open_app("analista", PAGE)

    assert not at.exception
    assert any("Ainda não há modelo campeão" in i.value for i in at.info)


def test_with_redis_down_the_page_still_renders(gym, open_app, monkeypatch):
    redis_down(monkeypatch)
    at = open_app("analista", PAGE)

    assert not at.exception
    assert at.metric[0].value.startswith("v")
