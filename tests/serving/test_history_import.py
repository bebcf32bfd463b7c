"""`gympulse import`: history from another system's CSV files, against the real database."""

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from serving.history_import import (
    CHECKIN_NAMESPACE,
    HistoryImportError,
    Reject,
    checkin_uuid,
    import_history,
)
from tests.support import TEST_ENV, count

PLANOS = """nome,valor_mensal,duracao_meses
Mensal,129.90,1
Anual,"1099,00",12
"""
ALUNOS = """aluno_ref,nome,email,telefone,data_nascimento,plano,data_matricula,data_cancelamento
A1,Ana Souza,ana@example.com,11 99999-0001,1990-04-01,Mensal,2025-01-10,
A2,Bruno Lima,bruno@example.com,,15/08/1985,Anual,2025-02-01 09:00:00,2025-09-30
A3,Carla Dias,,,,Mensal,2025-03-05T18:30:00-03:00,
"""
CHECKINS = """aluno_ref,entrada,saida
A1,2025-06-02 07:30:00,2025-06-02 08:45:00
A1,2025-06-04T07:35:00,
A2,2025-06-02T10:00:00Z,2025-06-02T11:00:00Z
A3,2025-06-03 19:00,2025-06-03 20:10
"""


def write(directory: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = directory / name
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    return {
        "planos": write(tmp_path, "planos.csv", PLANOS),
        "alunos": write(tmp_path, "alunos.csv", ALUNOS),
        "checkins": write(tmp_path, "checkins.csv", CHECKINS),
    }


def run(files: dict[str, Path], settings, **only: bool):
    chosen = {k: (v if only.get(k, not only) else None) for k, v in files.items()}
    return import_history(
        chosen["planos"],
        chosen["alunos"],
        chosen["checkins"],
        database_url=settings.database_url,
        gym_timezone=settings.gym_timezone,
        redis_url=settings.redis_url,
        progress=False,
    )


def snapshot(db) -> dict[str, list[tuple]]:
    queries = {
        "planos": "select nome, valor_mensal, duracao_meses from planos order by nome",
        "alunos": "select aluno_ref, nome, email, telefone, data_nascimento, plano_id, "
        "data_matricula, ativo, atualizado_em from alunos order by aluno_ref",
        "status": "select aluno_id, ativo, ocorrido_em, motivo from alunos_status_historico "
        "order by aluno_id, ocorrido_em, ativo",
        "checkins": "select checkin_id, aluno_id, tipo, ocorrido_em, origem from checkins "
        "order by checkin_id",
    }
    return {name: db.execute(sql).fetchall() for name, sql in queries.items()}


def test_happy_path_counts_and_data(db, settings, files):
    report = run(files, settings)

    assert report.rejects == []
    assert (report.planos.read, report.planos.inserted, report.planos.already_present) == (2, 2, 0)
    assert (report.alunos.read, report.alunos.inserted, report.alunos.already_present) == (3, 3, 0)
    assert (report.checkins.read, report.checkins.inserted, report.checkins.rejected) == (4, 7, 0)
    assert report.status_inserted == 4  # three activations, one cancellation
    assert report.members_updated == 3

    assert db.execute("select valor_mensal from planos where nome = 'Anual'").fetchone()[0] == (
        Decimal("1099.00")
    )
    members = {
        row[0]: row[1:]
        for row in db.execute(
            "select a.aluno_ref, a.ativo, a.email, p.nome, a.data_nascimento, a.data_matricula "
            "from alunos a join planos p on p.id = a.plano_id"
        )
    }
    assert members["A1"][:3] == (True, "ana@example.com", "Mensal")
    assert members["A2"][:3] == (False, "bruno@example.com", "Anual")
    assert members["A2"][3].isoformat() == "1985-08-15"
    assert members["A3"][:2] == (True, None)
    # A date alone is midnight in the gym's zone (America/Sao_Paulo, UTC-3).
    assert members["A1"][4] == datetime(2025, 1, 10, 3, 0, tzinfo=UTC)
    assert members["A3"][4] == datetime(2025, 3, 5, 21, 30, tzinfo=UTC)

    history = db.execute(
        "select a.aluno_ref, h.ativo, h.ocorrido_em, h.registrado_por from alunos_status_historico h "
        "join alunos a on a.id = h.aluno_id order by a.aluno_ref, h.ocorrido_em"
    ).fetchall()
    assert [(r[0], r[1], r[2].astimezone(UTC).isoformat()) for r in history] == [
        ("A1", True, "2025-01-10T03:00:00+00:00"),
        ("A2", True, "2025-02-01T12:00:00+00:00"),
        ("A2", False, "2025-09-30T03:00:00+00:00"),
        ("A3", True, "2025-03-05T21:30:00+00:00"),
    ]
    assert {r[3] for r in history} == {"import"}

    events = db.execute(
        "select a.aluno_ref, c.tipo, c.ocorrido_em, c.checkin_id, c.origem from checkins c "
        "join alunos a on a.id = c.aluno_id order by c.ocorrido_em, c.tipo"
    ).fetchall()
    assert [(r[0], r[1], r[2].astimezone(UTC).strftime("%m-%d %H:%M")) for r in events] == [
        ("A2", "entrada", "06-02 10:00"),
        ("A1", "entrada", "06-02 10:30"),
        ("A2", "saida", "06-02 11:00"),
        ("A1", "saida", "06-02 11:45"),
        ("A3", "entrada", "06-03 22:00"),
        ("A3", "saida", "06-03 23:10"),
        ("A1", "entrada", "06-04 10:35"),  # no saida: one event only
    ]
    assert {r[4] for r in events} == {"import"}
    for ref, tipo, instant, checkin_id, _origem in events:
        assert checkin_id == checkin_uuid(ref, tipo, instant, settings.tz)
    assert events[1][3] == uuid.uuid5(CHECKIN_NAMESPACE, "A1|entrada|2025-06-02T07:30:00-03:00")


def test_second_run_adds_nothing(db, settings, files):
    run(files, settings)
    before = snapshot(db)

    again = run(files, settings)

    assert again.rejects == []
    assert [(f.inserted, f.already_present) for f in again.files] == [(0, 2), (0, 3), (0, 7)]
    assert (again.status_inserted, again.members_updated) == (0, 0)
    assert snapshot(db) == before


def test_files_in_separate_runs_and_a_later_cancellation(db, settings, tmp_path, files):
    run(files, settings, planos=True)
    run(files, settings, alunos=True)
    first = run(files, settings, checkins=True)
    assert first.checkins.inserted == 7
    stamp = db.execute("select atualizado_em from alunos where aluno_ref = 'A1'").fetchone()[0]

    # The old system's next export: A1 has cancelled since.
    later = write(tmp_path, "alunos2.csv", ALUNOS.replace("2025-01-10,", "2025-01-10,2025-11-01"))
    report = import_history(
        None,
        later,
        None,
        database_url=settings.database_url,
        gym_timezone=settings.gym_timezone,
        redis_url=settings.redis_url,
        progress=False,
    )

    assert (report.alunos.inserted, report.alunos.already_present) == (0, 3)
    assert (report.status_inserted, report.members_updated) == (1, 1)
    ativo, updated = db.execute(
        "select ativo, atualizado_em from alunos where aluno_ref = 'A1'"
    ).fetchone()
    assert ativo is False and updated > stamp


def test_rejects_with_file_line_and_reason_while_good_rows_load(db, settings, tmp_path, plan_id):
    db.execute(
        "insert into alunos (nome, email, plano_id) values ('Já Cadastrado', 'taken@example.com', %s)",
        (plan_id,),
    )
    planos = write(
        tmp_path,
        "planos.csv",
        "nome,valor_mensal,duracao_meses\n"
        "Trimestral,300,3\n"
        "Promo,-10,1\n"
        "Ruim,abc,1\n"
        "Trimestral,310,3\n"
        "Longo,100,99\n",
    )
    alunos = write(
        tmp_path,
        "alunos.csv",
        "aluno_ref,nome,email,telefone,data_nascimento,plano,data_matricula,data_cancelamento\n"
        "B1,Bom,b1@example.com,,1990-01-01,Trimestral,2025-01-01,\n"
        "B2,Data Ruim,,,1990-13-45,Trimestral,2025-01-01,\n"
        "B3,Plano Inexistente,,,,Ouro,2025-01-01,\n"
        "B1,Repetido,,,,Trimestral,2025-01-01,\n"
        "B4,Cancelou Antes,,,,Trimestral,2025-05-01,2025-04-01\n"
        "B5,Email Tomado,TAKEN@example.com,,,Trimestral,2025-01-01,\n"
        "B6,Email Ruim,sem-arroba,,,Trimestral,2025-01-01,\n"
        "B7,Poucas Colunas\n"
        "B8,Plano Rejeitado,,,,Promo,2025-01-01,\n"
        "B9,Bom Também,,,,Mensal,2025-02-01,\n",
    )
    checkins = write(
        tmp_path,
        "checkins.csv",
        "aluno_ref,entrada,saida\n"
        "B1,2025-06-01 08:00,2025-06-01 09:00\n"
        "ZZ,2025-06-01 08:00,\n"
        "B1,2025-06-02 09:00,2025-06-02 08:00\n"
        "B1,ontem,\n"
        "B1,2025-06-03 08:00,depois\n"
        ",2025-06-03 08:00,\n"
        "B2,2025-06-03 08:00,\n"
        "B9,2025-06-04 08:00,\n",
    )

    report = import_history(
        planos,
        alunos,
        checkins,
        database_url=settings.database_url,
        gym_timezone=settings.gym_timezone,
        redis_url=settings.redis_url,
        progress=False,
    )

    assert report.rejects == [
        Reject("planos.csv", 3, "negative valor_mensal: '-10'"),
        Reject("planos.csv", 4, "bad valor_mensal: 'abc'"),
        Reject("planos.csv", 5, "duplicate plan 'Trimestral' (first at line 2)"),
        Reject("planos.csv", 6, "duracao_meses must be between 1 and 60: '99'"),
        Reject("alunos.csv", 3, "bad date in data_nascimento: '1990-13-45'"),
        Reject("alunos.csv", 4, "unknown plan 'Ouro'"),
        Reject("alunos.csv", 5, "duplicate aluno_ref 'B1' (first at line 2)"),
        Reject("alunos.csv", 6, "data_cancelamento before data_matricula"),
        Reject("alunos.csv", 7, "email 'TAKEN@example.com' already belongs to another member"),
        Reject("alunos.csv", 8, "bad email: 'sem-arroba'"),
        Reject("alunos.csv", 9, "expected 8 columns, found 2"),
        Reject("alunos.csv", 10, "unknown plan 'Promo'"),
        Reject("checkins.csv", 3, "unknown aluno_ref 'ZZ'"),
        Reject("checkins.csv", 4, "saida before entrada"),
        Reject("checkins.csv", 5, "bad timestamp in entrada: 'ontem'"),
        Reject("checkins.csv", 6, "bad timestamp in saida: 'depois'"),
        Reject("checkins.csv", 7, "missing aluno_ref"),
        Reject("checkins.csv", 8, "unknown aluno_ref 'B2'"),  # B2 itself was rejected
    ]
    assert [(f.read, f.rejected, f.inserted) for f in report.files] == [
        (5, 4, 1),
        (10, 8, 2),
        (8, 6, 3),
    ]
    assert db.execute("select nome from planos order by nome").fetchall() == [
        ("Mensal",),
        ("Trimestral",),
    ]
    refs = db.execute("select aluno_ref from alunos where aluno_ref is not null order by 1")
    assert refs.fetchall() == [("B1",), ("B9",)]
    assert count(db, "select count(*) from checkins") == 3


def test_naive_timestamps_are_in_the_gym_zone(db, settings, tmp_path, files):
    run(files, settings, planos=True, alunos=True)
    checkins = write(tmp_path, "tokyo.csv", "aluno_ref,entrada,saida\nA1,2025-06-02 07:30:00,\n")

    import_history(
        None,
        None,
        checkins,
        database_url=settings.database_url,
        gym_timezone="Asia/Tokyo",
        progress=False,
    )

    stored = db.execute("select ocorrido_em from checkins").fetchone()[0]
    assert stored == datetime(2025, 6, 1, 22, 30, tzinfo=UTC)


def test_missing_column_refuses_before_anything_loads(db, settings, tmp_path, files):
    alunos = write(tmp_path, "alunos.csv", "aluno_ref,nome,email\nA1,Ana,\n")
    with pytest.raises(HistoryImportError, match=r"alunos\.csv: missing columns telefone, "):
        import_history(
            files["planos"],
            alunos,
            None,
            database_url=settings.database_url,
            gym_timezone=settings.gym_timezone,
            redis_url=settings.redis_url,
            progress=False,
        )
    assert count(db, "select count(*) from planos") == 0

    with pytest.raises(HistoryImportError, match=r"nope\.csv: file not found"):
        import_history(
            None,
            tmp_path / "nope.csv",
            None,
            database_url=settings.database_url,
            gym_timezone=settings.gym_timezone,
            redis_url=settings.redis_url,
            progress=False,
        )

    nul = write(tmp_path, "nul.csv", PLANOS + "Zero\x00,1,1\n")
    with pytest.raises(HistoryImportError, match=r"nul\.csv: NUL byte at line 4"):
        import_history(
            nul,
            None,
            None,
            database_url=settings.database_url,
            gym_timezone=settings.gym_timezone,
            redis_url=settings.redis_url,
            progress=False,
        )

    checkins = write(tmp_path, "checkins.csv", "aluno_ref;entrada\nA1;2025-06-02 07:30\n")
    with pytest.raises(HistoryImportError, match=r"checkins\.csv: missing column saida "):
        import_history(
            None,
            None,
            checkins,
            database_url=settings.database_url,
            gym_timezone=settings.gym_timezone,
            redis_url=settings.redis_url,
            progress=False,
        )


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", "import", *args],
        env={**os.environ, **TEST_ENV},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_exit_codes_and_no_traceback(db, settings, tmp_path, files):
    bad_checkins = write(
        tmp_path, "more.csv", CHECKINS + "NOPE,2025-06-05 07:00,\nA1,2025-13-01 07:00,\n"
    )
    rejects = tmp_path / "out" / "rejects.csv"
    done = _cli(
        "--planos", str(files["planos"]), "--alunos", str(files["alunos"]),
        "--checkins", str(bad_checkins), "--rejects", str(rejects), "--no-progress",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "more.csv: 6 rows read, 2 rejected; 7 events inserted, 0 already present" in done.stdout
    assert rejects.read_text().splitlines() == [
        "file,line,reason",
        "more.csv,6,unknown aluno_ref 'NOPE'",
        "more.csv,7,bad timestamp in entrada: '2025-13-01 07:00'",
    ]

    # The default rejects file, under ./var.
    again = _cli("--checkins", str(bad_checkins), "--no-progress", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "0 events inserted, 7 already present" in again.stdout
    assert len(list((tmp_path / "var").glob("import-rejects-*.csv"))) == 1

    missing = write(tmp_path, "planos2.csv", "nome,valor\nX,1\n")
    refused = _cli("--planos", str(missing), "--no-progress", cwd=tmp_path)
    assert refused.returncode == 1
    assert "missing columns valor_mensal, duracao_meses" in refused.stderr
    assert "Traceback" not in refused.stderr + refused.stdout

    latin1 = write(tmp_path, "latin1.csv", PLANOS + "Promoção,10,1\n", encoding="latin-1")
    refused = _cli("--planos", str(latin1), "--no-progress", cwd=tmp_path)
    assert refused.returncode == 1
    assert "not UTF-8 (invalid byte at line 4)" in refused.stderr
    assert "Traceback" not in refused.stderr + refused.stdout


# --- one rule for the API and the import (serving.rules) ------------------------------------

ALUNOS_HEADER = (
    "aluno_ref,nome,email,telefone,data_nascimento,plano,data_matricula,data_cancelamento\n"
)


@pytest.mark.parametrize(
    ("valor", "accepted"),
    [
        pytest.param("100000.00", True, id="at-the-limit"),
        pytest.param("100000.01", False, id="over-the-limit"),
        pytest.param("99999999.99", False, id="fits-the-column-but-not-the-rule"),
        pytest.param("10.999", False, id="sub-cent"),
        pytest.param("-0.01", False, id="negative"),
    ],
)
def test_plan_price_rule_is_the_same_for_the_api_and_the_import(
    client, headers, settings, tmp_path, valor, accepted
):
    api = client.post(
        "/planos",
        json={"nome": "Pela API", "valor_mensal": valor, "duracao_meses": 1},
        headers=headers["admin"],
    )
    planos = write(
        tmp_path, "planos.csv", f"nome,valor_mensal,duracao_meses\nImportado,{valor},1\n"
    )
    report = import_history(
        planos,
        None,
        None,
        database_url=settings.database_url,
        gym_timezone=settings.gym_timezone,
        redis_url=settings.redis_url,
        progress=False,
    )

    assert (api.status_code == 201) is accepted, api.text
    assert (report.planos.inserted == 1) is accepted
    if not accepted:
        [reject] = report.rejects
        assert (reject.file, reject.line) == ("planos.csv", 2)
        assert reject.reason.endswith(f": '{valor}'") and "valor_mensal" in reject.reason
    if valor == "100000.01":
        assert reject.reason == "valor_mensal over the limit of 100,000.00: '100000.01'"


@pytest.mark.parametrize("meses", [0, 1, 60, 61])
def test_plan_duration_rule_is_the_same_for_the_api_and_the_import(
    client, headers, settings, tmp_path, meses
):
    api = client.post(
        "/planos",
        json={"nome": "Pela API", "valor_mensal": "10", "duracao_meses": meses},
        headers=headers["admin"],
    )
    planos = write(
        tmp_path, "planos.csv", f"nome,valor_mensal,duracao_meses\nImportado,10,{meses}\n"
    )
    report = import_history(
        planos,
        None,
        None,
        database_url=settings.database_url,
        gym_timezone=settings.gym_timezone,
        redis_url=settings.redis_url,
        progress=False,
    )

    assert (api.status_code == 201) is (1 <= meses <= 60)
    assert (report.planos.inserted == 1) is (1 <= meses <= 60)


EMAILS = [
    # (as written, as stored or None when refused)
    ("ana.souza@example.com", "ana.souza@example.com"),
    ("Ana.Souza+gym@EXAMPLE.com", "Ana.Souza+gym@example.com"),
    ("joão@exemplo.com.br", "joão@exemplo.com.br"),
    ("sem-arroba", None),
    ("a@b", None),
    ("a..b@example.com", None),
    ("ana@localhost", None),
    ("ana@example.test", None),
    ("Ana <ana@example.com>", None),
    ("ana@exa mple.com", None),
    (".ana@example.com", None),
    ("a@-example.com", None),
    ("a" * 64 + "@" + "b" * 250 + ".com", None),
]


def test_an_email_is_accepted_refused_and_stored_alike_by_the_api_and_the_import(
    client, headers, plan_id, db, settings, tmp_path
):
    rows = "".join(
        f'I{i},Importado {i},"{email}",,,Mensal,2025-01-01,\n'
        for i, (email, _) in enumerate(EMAILS)
    )
    alunos = write(tmp_path, "alunos.csv", ALUNOS_HEADER + rows)
    report = import_history(
        None,
        alunos,
        None,
        database_url=settings.database_url,
        gym_timezone=settings.gym_timezone,
        redis_url=settings.redis_url,
        progress=False,
    )
    refused_by_import = {r.line - 2: r.reason for r in report.rejects}
    imported = dict(db.execute("select aluno_ref, email from alunos where aluno_ref like 'I%'"))
    # The same strings through the API next: first free them (e-mails are unique).
    db.execute("truncate checkins, alunos_status_historico, alunos cascade")

    for i, (email, stored) in enumerate(EMAILS):
        api = client.post(
            "/aluno/registro",
            json={"nome": f"Pela API {i}", "email": email, "plano_id": plan_id},
            headers=headers["admin"],
        )
        if stored is None:
            assert api.status_code == 422, (email, api.text)
            assert refused_by_import[i] == f"bad email: '{email}'"
        else:
            assert api.status_code == 201, (email, api.text)
            assert api.json()["email"] == stored
            assert i not in refused_by_import and imported[f"I{i}"] == stored


def test_birth_date_before_1900_is_refused_by_the_api_and_the_import(
    client, headers, plan_id, settings, tmp_path
):
    api = client.post(
        "/aluno/registro",
        json={"nome": "Ana", "email": "ana@example.com", "plano_id": plan_id,
              "data_nascimento": "1899-12-31"},
        headers=headers["admin"],
    )  # fmt: skip
    alunos = write(
        tmp_path, "alunos.csv", ALUNOS_HEADER + "V1,Velha,,,1899-12-31,Mensal,2025-01-01,\n"
    )
    report = import_history(
        None,
        alunos,
        None,
        database_url=settings.database_url,
        gym_timezone=settings.gym_timezone,
        redis_url=settings.redis_url,
        progress=False,
    )

    assert api.status_code == 422
    assert report.rejects == [
        Reject("alunos.csv", 2, "data_nascimento before 1900-01-01: '1899-12-31'")
    ]


def test_member_text_limits_are_the_same_for_the_api_and_the_import(
    client, headers, plan_id, settings, tmp_path
):
    from serving import rules

    cases = {
        "nome": ("x" * (rules.NAME_MAX + 1), f"nome longer than {rules.NAME_MAX} characters"),
        "telefone": ("9" * (rules.PHONE_MAX + 1), f"telefone longer than {rules.PHONE_MAX} characters"),
        "aluno_ref": ("R" * (rules.MEMBER_REF_MAX + 1), f"aluno_ref longer than {rules.MEMBER_REF_MAX} characters"),
    }  # fmt: skip
    for field, (value, reason) in cases.items():
        member = {"aluno_ref": "L1", "nome": "Ana", "telefone": "", field: value}
        api = client.post(
            "/aluno/registro",
            json={**member, "email": "ana@example.com", "plano_id": plan_id},
            headers=headers["admin"],
        )
        row = f"{member['aluno_ref']},{member['nome']},,{member['telefone']},,Mensal,2025-01-01,\n"
        alunos = write(tmp_path, "alunos.csv", ALUNOS_HEADER + row)
        report = import_history(
            None,
            alunos,
            None,
            database_url=settings.database_url,
            gym_timezone=settings.gym_timezone,
            redis_url=settings.redis_url,
            progress=False,
        )
        assert api.status_code == 422, field
        assert report.rejects == [Reject("alunos.csv", 2, reason)], field
