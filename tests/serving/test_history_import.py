"""`gympulse import`: history from another system's CSV files, against the real database."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from serving.history_import import (
    CHECKIN_NAMESPACE,
    HistoryImportError,
    checkin_uuid,
    import_history,
)
from tests.support import count

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


def reasons(report) -> list[tuple[str, int, str]]:
    """The rejects as the rejects file lists them: file, line, every problem with its values."""
    return [(r.file, r.line, r.reason) for r in report.rejects]


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

    assert reasons(report) == [
        ("planos.csv", 3, "negative valor_mensal: '-10'"),
        ("planos.csv", 4, "valor_mensal is not a number: 'abc'"),
        ("planos.csv", 5, "plan 'Trimestral' appears again with other values (first at line 2)"),
        ("planos.csv", 6, "duracao_meses must be between 1 and 60: '99'"),
        (
            "alunos.csv",
            3,
            "data_nascimento is not a date (use AAAA-MM-DD or DD/MM/AAAA): '1990-13-45'",
        ),
        ("alunos.csv", 4, "unknown plan 'Ouro'"),
        ("alunos.csv", 5, "aluno_ref 'B1' appears again with other values (first at line 2)"),
        ("alunos.csv", 6, "data_cancelamento before data_matricula"),
        ("alunos.csv", 7, "email already belongs to another member: 'TAKEN@example.com'"),
        ("alunos.csv", 8, "email is not a valid e-mail address: 'sem-arroba'"),
        ("alunos.csv", 9, "expected 8 columns, found 2"),
        ("alunos.csv", 10, "unknown plan 'Promo'"),
        ("checkins.csv", 3, "unknown aluno_ref 'ZZ'"),
        ("checkins.csv", 4, "saida before entrada"),
        (
            "checkins.csv",
            5,
            "entrada is not a date and time (use AAAA-MM-DD HH:MM[:SS] or DD/MM/AAAA HH:MM): "
            "'ontem'",
        ),
        (
            "checkins.csv",
            6,
            "saida is not a date and time (use AAAA-MM-DD HH:MM[:SS] or DD/MM/AAAA HH:MM): "
            "'depois'",
        ),
        ("checkins.csv", 7, "missing aluno_ref"),
        ("checkins.csv", 8, "unknown aluno_ref 'B2'"),  # B2 itself was rejected
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


ALUNOS_HEADER = (
    "aluno_ref,nome,email,telefone,data_nascimento,plano,data_matricula,data_cancelamento\n"
)


def _import(settings, planos=None, alunos=None, checkins=None):
    return import_history(
        planos,
        alunos,
        checkins,
        database_url=settings.database_url,
        gym_timezone=settings.gym_timezone,
        redis_url=settings.redis_url,
        progress=False,
    )


def test_a_rejected_row_lists_every_problem_and_the_console_text_holds_no_values(
    db, settings, tmp_path, files
):
    run(files, settings, planos=True)
    planos = write(tmp_path, "planos2.csv", "nome,valor_mensal,duracao_meses\nPromo,abc,0\n")
    alunos = write(
        tmp_path,
        "alunos2.csv",
        ALUNOS_HEADER + "B1,,bea@@example,9999999999999999999999999999999999999999999,"
        "31/02/1990,Ouro,2026-13-01,ontem\n",
    )
    checkins = write(tmp_path, "checkins2.csv", "aluno_ref,entrada,saida\n,hoje,depois\n")

    report = _import(settings, planos, alunos, checkins)

    date_hint = "is not a date (use AAAA-MM-DD or DD/MM/AAAA)"
    time_hint = "is not a date and time (use AAAA-MM-DD HH:MM[:SS] or DD/MM/AAAA HH:MM)"
    assert reasons(report) == [
        (
            "planos2.csv",
            2,
            "valor_mensal is not a number: 'abc'; duracao_meses must be between 1 and 60: '0'",
        ),
        (
            "alunos2.csv",
            2,
            "missing nome; email is not a valid e-mail address: 'bea@@example'; "
            "telefone longer than 40 characters; "
            f"data_nascimento {date_hint}: '31/02/1990'; data_matricula {date_hint}: "
            f"'2026-13-01'; data_cancelamento {date_hint}: 'ontem'; unknown plan 'Ouro'",
        ),
        ("checkins2.csv", 2, f"missing aluno_ref; entrada {time_hint}: 'hoje'; "
         f"saida {time_hint}: 'depois'"),
    ]  # fmt: skip
    # What the console shows: the columns and the problems, not the member's data.
    member = report.rejects[1].summary
    assert member.startswith("missing nome; email is not a valid e-mail address; telefone")
    assert "bea@@example" not in member and "31/02/1990" not in member
    assert [f.inserted for f in report.files] == [0, 0, 0]


def test_rows_repeated_in_the_file_are_duplicates_not_already_present(db, settings, tmp_path):
    twice = {
        "planos": write(tmp_path, "planos.csv", PLANOS + "Mensal,129.90,1\n"),
        "alunos": write(tmp_path, "alunos.csv", ALUNOS + ALUNOS.splitlines()[1] + "\n"),
        "checkins": write(tmp_path, "checkins.csv", CHECKINS + CHECKINS.split("\n", 1)[1]),
    }

    first = run(twice, settings)

    assert first.rejects == []
    counts = [(f.read, f.inserted, f.already_present, f.duplicates) for f in first.files]
    assert counts == [(3, 2, 0, 1), (4, 3, 0, 1), (8, 7, 0, 7)]
    assert count(db, "select count(*) from checkins") == 7

    again = run(twice, settings)

    counts = [(f.inserted, f.already_present, f.duplicates) for f in again.files]
    assert counts == [(0, 2, 1), (0, 3, 1), (0, 7, 7)]


def test_a_second_different_history_of_the_same_members_is_refused(db, settings, tmp_path, files):
    run(files, settings)
    before = snapshot(db)["checkins"]
    other_gym = write(
        tmp_path,
        "other_gym.csv",
        "aluno_ref,entrada,saida\n"
        "A1,2025-06-02 07:30:00,2025-06-02 08:45:00\n"  # as stored: already present
        "A1,2025-06-03 12:00:00,2025-06-03 13:00:00\n"  # new, inside A1's stored span
        "A1,2025-07-01 07:00:00,\n"  # new, after the span: not loaded either
        "A2,2025-06-02T10:00:00Z,2025-06-02T11:00:00Z\n"  # as stored
        "A2,2025-06-09T10:00:00Z,\n",  # after A2's span, nothing contradicts: loads
    )

    report = _import(settings, checkins=other_gym)

    contradiction = "contradicts the stored history of member A1 (none of its new rows loaded)"
    assert [(r.line, r.summary) for r in report.rejects] == [
        (3, contradiction),
        (4, contradiction),
    ]
    assert report.rejects[0].reason == (
        f"{contradiction}: this file has other check-ins than the ones imported before "
        "between 2025-06-02 and 2025-06-04"
    )
    rep = report.checkins
    assert (rep.read, rep.rejected, rep.inserted, rep.already_present) == (5, 2, 1, 4)
    after = snapshot(db)["checkins"]
    assert len(after) == len(before) + 1
    assert set(before) < set(after)


def test_a_later_export_extends_the_stored_history(db, settings, tmp_path, files):
    first = write(
        tmp_path,
        "first.csv",
        "aluno_ref,entrada,saida\nA1,2025-06-02 07:30:00,2025-06-02 08:45:00\n"
        "A1,2025-06-04 07:35:00,\n",  # still in the gym when the old system exported
    )
    run(files, settings, planos=True, alunos=True)
    _import(settings, checkins=first)
    later = write(
        tmp_path,
        "later.csv",
        "aluno_ref,entrada,saida\nA1,2025-05-20 07:00:00,2025-05-20 08:00:00\n"
        "A1,2025-06-02 07:30:00,2025-06-02 08:45:00\n"
        "A1,2025-06-04 07:35:00,2025-06-04 09:00:00\n"  # now with its exit
        "A1,2025-06-06 07:00:00,\n",
    )

    report = _import(settings, checkins=later)

    assert report.rejects == []
    assert (report.checkins.inserted, report.checkins.already_present) == (4, 3)
    assert count(db, "select count(*) from checkins") == 7


def test_a_member_row_that_contradicts_the_stored_member_is_rejected(db, settings, tmp_path, files):
    run(files, settings, planos=True, alunos=True)
    before = snapshot(db)
    other = write(
        tmp_path,
        "alunos2.csv",
        ALUNOS_HEADER + "A1,Ana Souza,ana@example.com,11 99999-0001,1990-04-01,Mensal,"
        "2025-03-01,\n"  # joined on another day
        "A2,Bruno Lima,bruno@example.com,,15/08/1985,Anual,2025-02-01 09:00:00,2025-10-15\n"
        "A3,Carla Dias,,11 3333-0000,,Anual,2025-03-05T18:30:00-03:00,\n",  # plan, phone
    )

    report = _import(settings, alunos=other)

    assert reasons(report) == [
        (
            "alunos2.csv",
            2,
            "data_matricula contradicts the stored member A1: file 2025-03-01, stored 2025-01-10",
        ),
        (
            "alunos2.csv",
            3,
            "data_cancelamento contradicts the stored member A2: "
            "file 2025-10-15, stored 2025-09-30",
        ),
    ]
    assert report.rejects[0].summary == "data_matricula contradicts the stored member A1"
    assert (report.alunos.inserted, report.alunos.already_present) == (0, 1)
    assert report.alunos.kept_as_stored == {"telefone": 1, "plano": 1}
    assert (report.status_inserted, report.members_updated) == (0, 0)
    assert snapshot(db) == before


def test_whole_file_problems_are_one_line_each(db, settings, tmp_path, monkeypatch):
    cases = {
        tmp_path: f"{tmp_path}: is a directory, expected a CSV file",
        write(tmp_path, "empty.csv", ""): "empty.csv: empty file, expected a header row: nome, "
        "valor_mensal, duracao_meses",
        write(tmp_path, "twice.csv", "nome,nome,valor_mensal,duracao_meses\n"): "twice.csv: "
        "column nome appears more than once in the header row; the file was not imported",
        write(tmp_path, "typo.csv", "nome,valor,duracao_meses,cor\nX,1,1,azul\n"): "typo.csv: "
        "missing column valor_mensal in the header row (unknown: valor, cor; expected: nome, "
        "valor_mensal, duracao_meses); the file was not imported",
    }
    for path, message in cases.items():
        with pytest.raises(HistoryImportError) as refused:
            _import(settings, planos=path)
        assert str(refused.value) == message

    locked = write(tmp_path, "locked.csv", PLANOS)
    real_open = Path.open

    def open_refused(self, *args, **kwargs):  # the tests run as root: chmod would not refuse
        if self == locked:
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_refused)
    with pytest.raises(HistoryImportError) as refused:
        _import(settings, planos=locked)
    assert (
        str(refused.value) == f"{locked}: cannot be read (Permission denied); check its permissions"
    )
    assert count(db, "select count(*) from planos") == 0


def test_unknown_columns_are_ignored_and_reported(db, settings, tmp_path):
    planos = write(tmp_path, "planos.csv", "nome,valor_mensal,duracao_meses,Cor\nX,1,1,azul\n")

    report = _import(settings, planos=planos)

    assert (report.planos.inserted, report.planos.ignored_columns) == (1, ("cor",))


# --- one rule for the API and the import (serving.rules) ------------------------------------


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
    refused_by_import = {line - 2: reason for _, line, reason in reasons(report)}
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
            assert refused_by_import[i] == f"email is not a valid e-mail address: '{email}'"
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
    assert reasons(report) == [("alunos.csv", 2, "data_nascimento before 1900-01-01: '1899-12-31'")]


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
        assert reasons(report) == [("alunos.csv", 2, reason)], field
