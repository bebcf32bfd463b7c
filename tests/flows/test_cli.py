"""The churn commands as an operator types them: `gympulse scores export` and
`gympulse pipeline run --as-of D`, each in a process of its own."""

import csv
import io
import re

import pytest

from models.scoring import ScoredMember
from serving.scores import store_scores
from tests.churn_support import AS_OF, run_cli

EXPORT_MODEL = "export-test"
HEADER = "aluno_id,aluno_ref,data_referencia,probabilidade,faixa_risco,modelo_versao"


def latest_scores_of_active_members(conn) -> dict[int, tuple]:
    rows = conn.execute(
        "select p.aluno_id, a.aluno_ref, p.data_referencia, p.probabilidade, p.faixa_risco, "
        "p.modelo_versao, p.calculado_em, p.id from previsoes_churn p "
        "join alunos a on a.id = p.aluno_id where a.ativo"
    ).fetchall()
    latest: dict[int, tuple] = {}
    for row in rows:
        if row[0] not in latest or row[6:] > latest[row[0]][6:]:
            latest[row[0]] = row
    return latest


def test_scores_export_writes_each_active_members_latest_score(gym, tmp_path):
    conn = gym.conn
    active = sorted(gym.active_members())
    gone = conn.execute("select min(id) from alunos where not ativo").fetchone()[0]
    # two batches, the second one for half of the members, and a score for a member who left
    for version, members in (("5", active), ("6", active[::2]), ("6", [gone])):
        store_scores(
            gym.engine,
            [
                ScoredMember(m, 0.123456 if version == "5" else 0.43215, "medio", [])
                for m in members
            ],
            as_of=AS_OF,
            model_name=EXPORT_MODEL,
            model_version=version,
        )
    out = tmp_path / "scores.csv"
    try:
        proc = run_cli("scores", "export", "--out", str(out))
        expected = latest_scores_of_active_members(conn)
    finally:
        conn.execute("delete from previsoes_churn where modelo_nome = %s", (EXPORT_MODEL,))

    assert proc.returncode == 0, proc.stderr
    text = out.read_text(encoding="utf-8")
    assert text.splitlines()[0] == HEADER
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(expected) == len(active)
    assert f"{len(rows):,} members written to {out}" in proc.stdout
    by_member = {int(r["aluno_id"]): r for r in rows}
    assert gone not in by_member
    assert [by_member[m]["modelo_versao"] for m in active] == [
        "6" if i % 2 == 0 else "5" for i in range(len(active))
    ]
    assert by_member[active[0]]["probabilidade"] == "0.4322"
    assert by_member[active[1]]["probabilidade"] == "0.1235"
    for aluno_id, (_, ref, day, probability, tier, version, _, _) in expected.items():
        row = by_member[aluno_id]
        assert row["aluno_ref"] == ref and ref.startswith("SIM")
        assert row["data_referencia"] == day.isoformat()
        assert abs(float(row["probabilidade"]) - probability) <= 5e-5 + 1e-9  # 4 decimals
        assert (row["faixa_risco"], row["modelo_versao"]) == (tier, version)


@pytest.mark.parametrize("where", ["missing-folder/scores.csv", "."], ids=["no-folder", "a-folder"])
def test_scores_export_to_an_unwritable_path_is_a_clear_error(flow_settings, tmp_path, where):
    out = tmp_path / where

    proc = run_cli("scores", "export", "--out", str(out))

    assert proc.returncode == 2
    assert f"cannot write {out}" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.slow
def test_pipeline_run_as_of_exits_0_and_prints_the_metrics(gym, prefect_server):
    proc = run_cli(
        "pipeline",
        "run",
        "--as-of",
        AS_OF.isoformat(),
        env={"PREFECT_API_URL": prefect_server, "CHURN_MODEL_NAME": "gympulse-churn-cli"},
        timeout=600,
    )

    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    out = proc.stdout
    assert f"as of {AS_OF.isoformat()}" in out
    for model in ("random_forest", "logistic_regression", "inactivity_rule"):
        assert re.search(
            rf"{model}\s+ROC-AUC 0\.\d{{3}}\s+PR-AUC 0\.\d{{3}}\s+Brier 0\.\d{{4}}\s+lift@10% \d",
            out,
        ), out
    lines = out.splitlines()
    # the decision and the scoring, in whatever words: v1 is the champion, every member scored
    assert any("v1" in line and "@champion" in line for line in lines), out
    members = f"{len(gym.active_members()):,}"
    assert any("scored" in line and members in line and "v1" in line for line in lines), out
    assert f"daily report for {AS_OF.isoformat()} stored" in out
