"""The churn commands as an operator types them: `gympulse scores export` and
`gympulse pipeline run --as-of D`, each in a process of its own; and what any user types first,
`gympulse --version`."""

import csv
import io
import re
from importlib import metadata

import pytest

from models.scoring import ScoredMember
from serving.scores import store_scores
from tests.churn_support import AS_OF, run_cli

EXPORT_MODEL = "export-test"
HEADER = (
    "aluno_id,aluno_ref,nome,plano,data_referencia,probabilidade,faixa_risco,modelo_versao,"
    "motivo_1,motivo_2,motivo_3"
)
REASONS = [
    {"fator": "inatividade", "descricao": "sem visitas há 23 dias", "valor": 23.0},
    {"fator": "tendencia", "descricao": "-60% de visitas nas últimas 4 semanas", "valor": -0.6},
]


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
                ScoredMember(m, 0.123456, "medio", [])
                if version == "5"
                else ScoredMember(m, 0.43215, "alto", REASONS)
                for m in members
            ],
            as_of=AS_OF,
            model_name=EXPORT_MODEL,
            model_version=version,
        )
    synthetic = active[-1]
    (ref,) = conn.execute("select aluno_ref from alunos where id = %s", (synthetic,)).fetchone()
    out, everyone = tmp_path / "scores.csv", tmp_path / "everyone.csv"
    try:
        conn.execute("update alunos set aluno_ref = 'SINT-export' where id = %s", (synthetic,))
        proc = run_cli("scores", "export", "--out", str(out))
        with_synthetic = run_cli("scores", "export", "--out", str(everyone), "--incluir-sinteticos")
        expected = latest_scores_of_active_members(conn)
        members = {
            aluno_id: (nome, plano)
            for aluno_id, nome, plano in conn.execute(
                "select a.id, a.nome, p.nome from alunos a join planos p on p.id = a.plano_id"
            ).fetchall()
        }
    finally:
        conn.execute("delete from previsoes_churn where modelo_nome = %s", (EXPORT_MODEL,))
        conn.execute("update alunos set aluno_ref = %s where id = %s", (ref, synthetic))

    assert proc.returncode == 0, proc.stderr
    text = out.read_text(encoding="utf-8")
    assert text.splitlines()[0] == HEADER
    rows = list(csv.DictReader(io.StringIO(text)))
    del expected[synthetic]
    assert len(rows) == len(expected) == len(active) - 1
    assert f"{len(rows):,} members written to {out}" in proc.stdout
    by_member = {int(r["aluno_id"]): r for r in rows}
    assert gone not in by_member and synthetic not in by_member
    assert with_synthetic.returncode == 0, with_synthetic.stderr
    assert synthetic in {int(r["aluno_id"]) for r in csv.DictReader(everyone.open())}
    for aluno_id, row in by_member.items():
        assert (row["nome"], row["plano"]) == members[aluno_id]
    # the reasons' texts, one column each; a text a spreadsheet would run as a formula is quoted
    assert [by_member[active[0]][f"motivo_{i}"] for i in (1, 2, 3)] == [
        "sem visitas há 23 dias",
        "'-60% de visitas nas últimas 4 semanas",
        "",
    ]
    assert [by_member[active[1]][f"motivo_{i}"] for i in (1, 2, 3)] == ["", "", ""]
    assert [by_member[m]["modelo_versao"] for m in active[:-1]] == [
        "6" if i % 2 == 0 else "5" for i in range(len(active) - 1)
    ]
    assert by_member[active[0]]["probabilidade"] == "0.4322"
    assert by_member[active[1]]["probabilidade"] == "0.1235"
    for aluno_id, (_, member_ref, day, probability, tier, version, _, _) in expected.items():
        row = by_member[aluno_id]
        assert row["aluno_ref"] == member_ref and member_ref.startswith("SIM")
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


def test_version_prints_the_installed_version_and_exits_0():
    proc = run_cli("--version")

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"gympulse {metadata.version('gympulse')}"


def test_a_bad_date_names_the_expected_form_without_a_traceback(flow_settings, tmp_path):
    out = tmp_path / "scores.csv"

    proc = run_cli("scores", "export", "--out", str(out), "--as-of", "2026-13-45")

    assert proc.returncode == 2
    assert "data inválida '2026-13-45': use AAAA-MM-DD" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not out.exists()


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
