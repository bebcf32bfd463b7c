"""The nightly monitor: the drift table written for the champion by the nightly chain (and
logged to MLflow), and realised-vs-predicted churn only for scoring dates whose 30 days have
closed, agreeing with the warehouse's own labels."""

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
from mlflow import MlflowClient

from models.features import FEATURES
from models.monitoring import SCORE
from tests.churn_support import AS_OF
from tests.flows.conftest import MODEL

pytestmark = pytest.mark.slow

TIERS = ("alto", "medio", "baixo")
PROBABILITY = {"alto": 0.5, "medio": 0.2, "baixo": 0.05}


@dataclass(frozen=True)
class _Score:
    aluno_id: int
    probabilidade: float
    faixa_risco: str
    fatores: list[dict[str, Any]] = field(default_factory=list)


def _stored_drift(gym) -> pd.DataFrame:
    rows = gym.conn.execute(
        "select variavel, psi, alerta, modelo_versao from monitoramento_drift "
        "where data_referencia = %s and modelo_nome = %s",
        (AS_OF, MODEL),
    ).fetchall()
    return pd.DataFrame(rows, columns=["variavel", "psi", "alerta", "modelo_versao"])


def test_the_nightly_chain_writes_the_champions_drift_table(nightly, gym):
    monitored = nightly["monitoramento"]
    stored = _stored_drift(gym).set_index("variavel")

    assert sorted(stored.index) == sorted([*FEATURES, SCORE])
    assert set(stored["modelo_versao"]) == {nightly["treino"]["modelo_versao"]}
    assert (stored["psi"] >= 0).all()
    # Stored flags are the 0.2 line, and the flow's answer says the same.
    assert (stored["alerta"] == (stored["psi"] > 0.2)).all()
    assert sorted(monitored["alertas_psi"]) == sorted(stored.index[stored["alerta"]])
    client = MlflowClient()
    run = client.get_run(monitored["run_id"])
    assert run.data.tags["kind"] == "monitoring"
    champion = client.get_model_version_by_alias(MODEL, "champion")
    assert run.data.tags["model_run_id"] == champion.run_id
    assert run.data.metrics[f"psi.{SCORE}"] == pytest.approx(stored.loc[SCORE, "psi"])
    assert {f"psi.{f}" for f in FEATURES} <= set(run.data.metrics)


def test_features_are_measured_on_the_newest_whole_sunday_and_the_score_on_its_first_batch(
    nightly, gym
):
    """Like for like: the training weeks are whole Sundays, so the features are measured on the
    newest Sunday before the night (not on the night's own rows, whose day may be in progress);
    the registered refit's scores are compared with its own first batch, which on the night it
    was trained is the night itself: nothing has moved."""
    from models import drift_tracking
    from models.features import load_scoring
    from models.monitoring import drift

    rows = gym.conn.execute(
        "select variavel, psi, alerta, data_populacao, data_base from monitoramento_drift "
        "where data_referencia = %s and modelo_nome = %s",
        (AS_OF, MODEL),
    ).fetchall()
    stored = pd.DataFrame(
        rows, columns=["variavel", "psi", "alerta", "data_populacao", "data_base"]
    ).set_index("variavel")
    (sunday,) = gym.conn.execute(
        f'select max(data_referencia) from "{gym.schema}".churn_features '
        "where tipo_linha = 'treino' and data_referencia < %s",
        (AS_OF,),
    ).fetchone()
    assert sunday.isoweekday() == 7 and AS_OF - timedelta(days=7) <= sunday < AS_OF

    features = stored.drop(index=SCORE)
    assert set(features["data_populacao"]) == {sunday}
    assert features["data_base"].isna().all()
    champion = MlflowClient().get_model_version_by_alias(MODEL, "champion")
    reference = drift_tracking.load_reference(champion.run_id)
    expected = drift(reference, load_scoring(gym.engine, gym.schema, as_of=sunday), None)
    assert dict(zip(expected["variavel"], expected["psi"], strict=True)) == pytest.approx(
        features["psi"].to_dict()
    )

    score = stored.loc[SCORE]
    assert (score["data_populacao"], score["data_base"]) == (AS_OF, AS_OF)
    assert score["psi"] == pytest.approx(0.0, abs=1e-9) and not score["alerta"]
    assert (
        nightly["monitoramento"]["populacao_variaveis"],
        nightly["monitoramento"]["base_risco"],
    ) == (
        sunday.isoformat(),
        AS_OF.isoformat(),
    )


def _sundays(gym, *, labelled: bool) -> list:
    rows = gym.conn.execute(
        f'select distinct data_referencia from "{gym.schema}".churn_features '
        f"where tipo_linha = 'treino' and churn_30d is {'not' if labelled else ''} null "
        "order by data_referencia desc limit 2"
    ).fetchall()
    return [r[0] for r in rows]


def _snapshot(gym, day) -> pd.DataFrame:
    rows = gym.conn.execute(
        f'select aluno_id, churn_30d from "{gym.schema}".churn_features '
        "where tipo_linha = 'treino' and data_referencia = %s",
        (day,),
    ).fetchall()
    frame = pd.DataFrame(rows, columns=["aluno_id", "churn_30d"])
    return frame.assign(faixa_risco=[TIERS[i % 3] for i in frame["aluno_id"]], data=day)


def test_realised_vs_predicted_only_for_scoring_dates_whose_30_days_have_closed(nightly, gym):
    from flows.monitoring import monitor_champion
    from serving.scores import store_scores

    closed, still_open = _sundays(gym, labelled=True), _sundays(gym, labelled=False)
    assert all(d + timedelta(days=30) <= AS_OF for d in closed)
    assert all(d + timedelta(days=30) > AS_OF for d in still_open)
    assert {d.month for d in closed}.isdisjoint({d.month for d in still_open})
    snapshots = {day: _snapshot(gym, day) for day in closed + still_open}
    for day, members in snapshots.items():
        store_scores(
            gym.engine,
            [
                _Score(int(m), PROBABILITY[t], t)
                for m, t in zip(members["aluno_id"], members["faixa_risco"], strict=True)
            ],
            as_of=day,
            model_name=MODEL,
            model_version=nightly["treino"]["modelo_versao"],
        )
    try:
        summary = monitor_champion(gym.engine, schema=gym.schema, model_name=MODEL, as_of=AS_OF)
    finally:
        gym.conn.execute(
            "delete from previsoes_churn where modelo_nome = %s and data_referencia = any(%s)",
            (MODEL, list(snapshots)),
        )

    rows = gym.conn.execute(
        "select mes, faixa_risco, datas_pontuacao, pontuacoes, prevista, realizada, "
        "diferenca_pp, alerta from monitoramento_calibracao "
        "where data_referencia = %s and modelo_nome = %s",
        (AS_OF, MODEL),
    ).fetchall()
    stored = pd.DataFrame(
        rows,
        columns=[
            "mes",
            "faixa_risco",
            "datas_pontuacao",
            "pontuacoes",
            "prevista",
            "realizada",
            "diferenca_pp",
            "alerta",
        ],
    ).set_index("faixa_risco")
    # Only the closed dates' month; tonight's batch (AS_OF) and the open Sundays are not there.
    assert {m.replace(day=1) for m in stored["mes"]} == {closed[0].replace(day=1)}
    assert summary.calibration_rows == len(stored) == 4
    assert set(stored.index) == {*TIERS, "todas"}
    # The realised share is the warehouse's label of the same members on the same dates.
    scored = pd.concat(snapshots[d] for d in closed)
    assert stored.loc["todas", "pontuacoes"] == len(scored)
    assert stored.loc["todas", "datas_pontuacao"] == len(closed)
    assert stored.loc["todas", "realizada"] == pytest.approx(scored["churn_30d"].mean())
    for tier in TIERS:
        in_tier = scored[scored["faixa_risco"] == tier]
        assert stored.loc[tier, "prevista"] == pytest.approx(PROBABILITY[tier])
        assert stored.loc[tier, "realizada"] == pytest.approx(in_tier["churn_30d"].mean())
        gap = (in_tier["churn_30d"].mean() - PROBABILITY[tier]) * 100
        assert stored.loc[tier, "diferenca_pp"] == pytest.approx(gap)
        assert stored.loc[tier, "alerta"] == (abs(gap) > 2)
    assert len(summary.calibration_alerts) == int(stored["alerta"].sum())
