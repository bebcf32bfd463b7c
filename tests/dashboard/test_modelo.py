"""Modelo: the champion shown is MLflow's `@champion`, with the metrics its run logged, the
figures it logged, today's score distribution, and the drift and calibration monitor."""

from dataclasses import dataclass, field

import pandas as pd
import pytest
from mlflow import MlflowClient
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

from dashboard import format as fmt
from dashboard.data import model
from models.features import FEATURES
from serving.config import get_settings
from tests.churn_support import AS_OF
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


def test_the_latest_trainings_gate_decision_and_reason_are_shown(gym, open_app):
    at = open_app("analista", PAGE)

    assert not at.exception
    version, _metrics = _champion(gym)
    tags = MlflowClient(gym.settings.mlflow_tracking_uri).get_run(version.run_id).data.tags
    (shown,) = [s.value for s in at.success if s.value.startswith("Último treino")]
    assert shown.startswith(f"Último treino (v{version.version}, ")
    assert "promovida a campeã" in shown
    # In pt-BR, from the differences the gate logged (its own reason tag is English).
    run = MlflowClient(gym.settings.mlflow_tracking_uri).get_run(version.run_id).data
    assert tags["gate.first_model"] == "true"
    assert "Portão de promoção: primeiro modelo: vira campeão" in shown
    diff = run.metrics["gate_logistic_regression_diff"]
    assert f"Regressão logística {'+' if diff >= 0 else '−'}{fmt.decimal(abs(diff), 4)} [" in shown
    assert "intervalo de 95 % por bootstrap pareado por aluno, 1000 reamostragens" in shown
    assert tags["gate.reason"] not in shown


def test_the_gate_reason_names_in_pt_br_the_rival_a_candidate_did_not_beat():
    tags = {
        "gate.decision": "not promoted",
        "gate.reason": "does not beat logistic_regression beyond the noise (...)",
        "gate.rivals": "champion,logistic_regression",
        "gate.first_model": "false",
        "gate.champion_version": "3",
        "gate.confidence": "0.95",
        "gate.resamples": "1000",
    }
    metrics = {
        "gate_champion_diff": 0.0213,
        "gate_champion_low": 0.0041,
        "gate_champion_high": 0.0388,
        "gate_logistic_regression_diff": 0.0052,
        "gate_logistic_regression_low": -0.0107,
        "gate_logistic_regression_high": 0.0199,
    }

    reason = model.gate_reason(tags, metrics)

    assert reason == (
        "não supera Regressão logística além do ruído (diferença de PR-AUC campeã v3 +0,0213 "
        "[+0,0041, +0,0388]; Regressão logística +0,0052 [−0,0107, +0,0199]; intervalo de 95 % "
        "por bootstrap pareado por aluno, 1000 reamostragens)"
    )
    # A run logged before the gate named its rivals keeps its own words.
    assert model.gate_reason({"gate.reason": "old words"}, {}) == "old words"


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


@dataclass(frozen=True)
class _Score:
    aluno_id: int
    probabilidade: float
    faixa_risco: str
    fatores: list = field(default_factory=list)


@pytest.fixture(scope="module")
def monitored(gym):
    """The nightly monitor run for the champion, after a batch on the newest Sunday whose 30
    days have closed (scored 0.5 for everyone, far above what the gym's members cancel at), so
    there is a realised-vs-predicted month and its gap is flagged."""
    from flows.monitoring import monitor_champion
    from serving.db.engine import sync_engine
    from serving.scores import store_scores

    settings = gym.settings
    schema = settings.dbt_schema
    closed = gym.conn.execute(
        f'select max(data_referencia) from "{schema}".churn_features '
        "where tipo_linha = 'treino' and churn_30d is not null"
    ).fetchone()[0]
    members = [
        r[0]
        for r in gym.conn.execute(
            f'select aluno_id from "{schema}".churn_features '
            "where tipo_linha = 'treino' and data_referencia = %s",
            (closed,),
        )
    ]
    engine = sync_engine(settings.database_url)
    version, _ = _champion(gym)
    store_scores(
        engine,
        [_Score(m, 0.5, "alto") for m in members],
        as_of=closed,
        model_name=settings.churn_model_name,
        model_version=str(version.version),
    )
    try:
        yield (
            monitor_champion(
                engine, schema=schema, model_name=settings.churn_model_name, as_of=AS_OF
            ),
            closed,
        )
    finally:
        gym.conn.execute(
            "delete from previsoes_churn where modelo_nome = %s and data_referencia = %s",
            (settings.churn_model_name, closed),
        )


def _datasets(at) -> list[pd.DataFrame]:
    """Every dataset of every chart on the page (a layered chart carries one per layer)."""
    return [
        convert_arrow_bytes_to_pandas_df(named.data.data)
        for chart in at.get("vega_lite_chart")
        for named in chart.proto.datasets
    ]


def test_the_monitor_shows_psi_with_its_line_and_the_flagged_calibration_gap(
    gym, open_app, monitored
):
    summary, closed = monitored
    at = open_app("analista", PAGE)

    assert not at.exception
    assert "Monitoramento: deriva e calibração" in [s.value for s in at.subheader]
    datasets = _datasets(at)
    (psi,) = [d for d in datasets if "variavel" in d.columns]
    shown = dict(zip(psi["variavel"], psi["psi"], strict=True))
    assert shown == pytest.approx(summary.psi, abs=1e-4)
    assert shown.keys() == {*FEATURES, "score"}
    (line,) = [d for d in datasets if "limite" in d.columns]
    assert list(line["limite"]) == [0.2]
    # What was compared, in words: the whole Sunday's members and the version's first batch.
    compared = next(c.value for c in at.caption if "contra o primeiro lote" in c.value)
    assert f"os alunos do domingo {summary.features_on:%d/%m/%Y}" in compared
    assert f"o primeiro lote desta versão ({summary.score_baseline_on:%d/%m/%Y})" in compared

    realised = chart_data(at, "taxa")
    month = realised[realised["faixa_risco"] == "todas"]
    assert set(month["serie"]) == {"prevista", "realizada"}
    assert month.loc[month["serie"] == "prevista", "taxa"].iloc[0] == pytest.approx(0.5)
    # Everyone at 0.5 is far above what really happened: flagged, on the page and in the table.
    assert summary.calibration_alerts == [f"{closed:%Y-%m}/alto", f"{closed:%Y-%m}/todas"]
    assert any(f"{closed:%m/%Y} (alto)" in w.value for w in at.warning)
    (table,) = [d.value for d in at.dataframe if "alerta" in d.value.columns]
    assert list(table["faixa_risco"]) == ["alto", "todas"]
    assert set(table["alerta"]) == {"⚠ acima de 2 p.p."}
