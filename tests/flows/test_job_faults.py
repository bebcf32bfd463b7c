"""Faults inside the churn jobs, once a training gave the gym a champion and stored scores:

- the database disappears midway through a training job: the job ends failed with its error;
- the MLflow store is unreachable when scoring: a clear error, never scores from no model;
- the artifact store is full or read-only when the model is written: training fails and
  nothing is half-registered.

In each case the champion alias, the registered versions and the stored scores (PostgreSQL and
Redis) are what they were before. The faults are injected (a mock raising the error the real
fault raises, at the step where it happens); everything else is the real services."""

import errno
import os
import time
import uuid
from pathlib import Path

import orjson
import psycopg
import pytest
import redis
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository

from flows.cli.errors import SERVICE_UNREACHABLE, operator_message
from models import registry
from serving.vocabulary import MODEL_UPDATE, QUEUED
from tests.churn_support import AS_OF, build_warehouse, refresh_settings
from tests.services import free_port_pair

pytestmark = [pytest.mark.chaos, pytest.mark.slow]


@pytest.fixture(scope="module")
def own_model_store(gym, tmp_path_factory):
    """This module's MLflow store and model name: its champion must not become the package's
    (the nightly chain's first training is a first model, promoted as such)."""
    tmp = tmp_path_factory.mktemp("job-faults-mlflow")
    name = f"gympulse-churn-faults-{uuid.uuid4().hex[:6]}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp / 'mlflow.db'}")
        patch.setenv("MLFLOW_ARTIFACT_ROOT", str(tmp / "mlflow-artifacts"))
        patch.setenv("CHURN_MODEL_NAME", name)
        refresh_settings()
        try:
            yield name
        finally:
            patch.undo()
            refresh_settings()
            gym.conn.execute("delete from previsoes_churn where modelo_nome = %s", (name,))


@pytest.fixture(scope="module")
def small_training(gym, own_model_store):
    """A quick training on the gym's warehouse (a small forest, no grid)."""
    from models.features import load_labelled
    from models.training import train_models

    refresh_settings()
    build_warehouse(gym.settings, AS_OF)
    labelled = load_labelled(gym.engine, gym.schema, as_of=AS_OF)
    return train_models(labelled, forest_params={"n_estimators": 40, "class_weight": None})


@pytest.fixture(scope="module")
def baseline(gym, own_model_store, small_training, prefect_server) -> None:
    """A champion and its stored scores, as a night leaves them (cheaper than the nightly
    chain's grid search)."""
    from flows.churn import register_and_promote, score
    from flows.context import resources

    outcome = register_and_promote.fn(small_training, AS_OF, None)
    assert outcome["promovido"] or registry.champion(resources().settings.churn_model_name)
    score.fn(AS_OF, None)


def _state(gym) -> dict:
    """What a failed job must leave as it was: the champion, the versions, the scores."""
    from flows.context import resources

    settings = resources().use_mlflow()
    name = settings.churn_model_name
    champion = registry.champion(name)
    versions = sorted(v.version for v in MlflowClient().search_model_versions(f"name='{name}'"))
    scores = gym.conn.execute(
        "select count(*), max(id), max(calculado_em) from previsoes_churn"
    ).fetchone()
    cache = redis.Redis.from_url(settings.redis_url)
    cached = {key: cache.dump(key) for key in cache.scan_iter("*")}
    return {
        "champion": champion.version if champion else None,
        "versions": versions,
        "scores": scores,
        "cache": cached,
    }


def _failed_runs_since(started_ms: int) -> list[str]:
    runs = MlflowClient().search_runs(
        [registry.mlflow.get_experiment_by_name(_experiment()).experiment_id],
        filter_string=f"attributes.start_time >= {started_ms}",
    )
    return [run.info.status for run in runs]


def _experiment() -> str:
    from flows.context import resources

    return resources().settings.mlflow_experiment


def test_database_gone_midway_through_training_fails_the_job_and_keeps_the_champion(
    baseline, gym, api, staff_headers, monkeypatch
):
    import flows.churn
    from flows.worker import run_job
    from serving.messaging.topology import MODEL_UPDATE_QUEUE

    before = _state(gym)
    real_train = flows.churn.train_models

    def train_until_the_database_goes(labelled, *, progress, **kwargs):
        def report(fraction: float, message: str) -> None:
            progress(fraction, message)
            if fraction > 0:  # training is under way: the server goes away under the flow
                gym.conn.execute(
                    "select pg_terminate_backend(pid) from pg_stat_activity "
                    "where datname = current_database() and pid <> pg_backend_pid()"
                )
                raise psycopg.OperationalError(
                    "terminating connection due to administrator command"
                )

        return real_train(labelled, progress=report, **kwargs)

    monkeypatch.setattr(flows.churn, "train_models", train_until_the_database_goes)
    job_id = uuid.uuid4()
    parametros = {"data_referencia": AS_OF.isoformat()}
    gym.conn.execute(
        "insert into jobs (id, tipo, estado, parametros) values (%s, %s, %s, %s)",
        (job_id, MODEL_UPDATE, QUEUED, orjson.dumps(parametros).decode()),
    )
    run_job(MODEL_UPDATE_QUEUE, str(job_id), parametros)  # as the job worker runs it

    estado, erro, progresso = gym.conn.execute(
        "select estado, erro, progresso from jobs where id = %s", (job_id,)
    ).fetchone()
    assert estado == "failed", (estado, erro)
    assert erro.startswith("OperationalError: terminating connection"), erro
    assert progresso > 0.05  # it failed midway, after the build
    shown = api.get(f"/admin/jobs/{job_id}", headers=staff_headers["admin"])
    assert shown.status_code == 200, shown.text
    assert (shown.json()["estado"], shown.json()["erro"]) == ("failed", erro)
    assert _state(gym) == before
    print(
        f"training job, database gone at {progresso:.0%}: job failed with '{erro}'; "
        f"champion v{before['champion']}, {len(before['versions'])} versions and "
        f"{before['scores'][0]} stored scores unchanged"
    )


def test_mlflow_unreachable_when_scoring_fails_clearly_and_writes_no_scores(
    baseline, gym, monkeypatch
):
    from flows.context import resources
    from flows.scoring import score_and_store

    before = _state(gym)
    settings = resources().settings
    nobody = f"http://127.0.0.1:{free_port_pair(18440)}"
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # an operator waits longer
    registry.mlflow.set_tracking_uri(nobody)
    registry.mlflow.set_registry_uri(nobody)
    try:
        with pytest.raises(MlflowException) as raised:
            score_and_store(
                resources().engine,
                resources().redis,
                schema=settings.dbt_schema,
                model_name=settings.churn_model_name,
                as_of=AS_OF,
                cache_ttl=settings.churn_cache_seconds,
                time_zone=settings.gym_timezone,
            )
    finally:
        resources().use_mlflow()
    line, code = operator_message(raised.value) or ("", 0)
    assert code == SERVICE_UNREACHABLE, raised.value
    assert line.startswith(f"MLflow unreachable at {nobody}") and "\n" not in line, line
    assert "MLFLOW_TRACKING_URI" in line
    assert _state(gym) == before
    print(f"scoring, MLflow unreachable: '{line}' (exit {code}); no scores written")


@pytest.mark.parametrize(
    ("code", "failing_write"),
    [(errno.ENOSPC, 1), (errno.EROFS, 2)],
    ids=["disk-full-first-model", "read-only-second-model"],
)
def test_artifact_store_full_or_read_only_fails_training_with_nothing_half_registered(
    baseline, gym, small_training, monkeypatch, code, failing_write
):
    from flows.churn import register_and_promote

    before = _state(gym)
    real_write = LocalArtifactRepository.log_artifacts
    writes = {"models": 0}

    def write_until_the_disk_fails(self, local_dir, artifact_path=None):
        if (Path(local_dir) / "MLmodel").exists():  # a model's files, not a figure
            writes["models"] += 1
            if writes["models"] == failing_write:
                raise OSError(code, os.strerror(code), str(self.artifact_dir))
        return real_write(self, local_dir, artifact_path)

    monkeypatch.setattr(LocalArtifactRepository, "log_artifacts", write_until_the_disk_fails)
    started_ms = int(time.time() * 1000)
    with pytest.raises(OSError) as raised:
        register_and_promote.fn(small_training, AS_OF, None)
    assert raised.value.errno == code
    monkeypatch.undo()
    after = _state(gym)
    assert after == before, "a version was registered, or the champion moved"
    statuses = _failed_runs_since(started_ms)
    assert statuses and set(statuses) <= {"FAILED", "FINISHED"}, statuses
    assert "FAILED" in statuses and "RUNNING" not in statuses
    print(
        f"artifact write {failing_write} failed with {errno.errorcode[code]}: training raised "
        f"'{raised.value.strerror}'; versions {after['versions']} and champion "
        f"v{after['champion']} unchanged, runs {sorted(set(statuses))}"
    )


def test_no_champion_is_still_a_lookup_error_not_an_outage(gym, own_model_store):
    """The registry answering "no such alias" is no champion yet (train one first), as before."""
    from flows.context import resources

    resources().use_mlflow()
    assert registry.champion(f"never-trained-{uuid.uuid4().hex[:8]}") is None
