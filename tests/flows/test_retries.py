"""Retries where a second attempt can help: the scoring task retries a lost connection, but a
missing champion fails at once (an admin waiting on the job sees the reason, not a retry delay).
The failures are injected; everything else is the real task on the temporary Prefect server."""

from datetime import date

import pytest
import sqlalchemy.exc
from prefect import flow

from flows import churn
from flows.scoring import ScoringSummary
from models.scoring import NoChampionError
from tests.churn_support import AS_OF


@pytest.fixture
def score_once(prefect_server):
    fast = churn.score.with_options(retry_delay_seconds=0)

    @flow(name="score-once")
    def run() -> dict:
        return fast(AS_OF, None)

    return run


def scoring_that(failures: list[Exception], calls: list[int]):
    def score_members(*_args, as_of: date, **_kwargs) -> ScoringSummary:
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return ScoringSummary(as_of, "7", 3, {"alto": 1, "medio": 1, "baixo": 1}, True, None)

    return score_members


def test_a_lost_connection_is_retried(flow_settings, score_once, monkeypatch):
    calls: list[int] = []
    lost = sqlalchemy.exc.OperationalError("copy", {}, ConnectionResetError("server closed"))
    monkeypatch.setattr(churn, "score_and_store", scoring_that([lost], calls))

    assert score_once()["alunos_pontuados"] == 3
    assert len(calls) == 2


def test_a_missing_champion_is_not_retried(flow_settings, score_once, monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(churn, "score_and_store", scoring_that([NoChampionError("none")], calls))

    with pytest.raises(NoChampionError):
        score_once()
    assert len(calls) == 1
