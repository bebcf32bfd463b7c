"""`gympulse import` as a user runs it (a subprocess): exit codes, the lines it prints, no
traceback. Exit codes (README "Commands"): 0 everything loaded, 1 rows rejected (the valid ones
still load), 2 a file that cannot be imported at all, 3 PostgreSQL unreachable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.serving.test_history_import import ALUNOS, CHECKINS, PLANOS, write
from tests.support import TEST_ENV, count


def gympulse_import(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "import", *args, "--no-progress"],
        env={**os.environ, **TEST_ENV, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return done


@pytest.fixture
def gym(tmp_path) -> list[str]:
    planos = write(tmp_path, "planos.csv", PLANOS)
    alunos = write(tmp_path, "alunos.csv", ALUNOS)
    return ["--planos", str(planos), "--alunos", str(alunos)]


def test_everything_loaded_exits_0(db, tmp_path, gym):
    checkins = write(tmp_path, "checkins.csv", CHECKINS + CHECKINS.split("\n", 1)[1])

    done = gympulse_import(*gym, "--checkins", str(checkins), cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert (
        "checkins.csv: 8 rows read, 0 rejected; 7 events inserted, 0 already present; "
        "7 duplicate events in the file (same member and time twice), skipped"
    ) in lines
    assert lines[-1].startswith("done in ") and "rejected" not in lines[-1]
    assert not (tmp_path / "var").exists()  # no rejects file


def test_rejected_rows_exit_1_list_every_problem_and_name_the_rejects_file(db, tmp_path, gym):
    checkins = write(
        tmp_path,
        "more.csv",
        CHECKINS + "NOPE,2025-06-05 07:00,\nA1,2025-13-01 07:00,ontem\n",
    )
    alunos = write(
        tmp_path,
        "alunos2.csv",
        ALUNOS.split("\n", 1)[0] + "\nA9,Zé,ze@@example,,1990-02-31,Mensal,2025-01-01,\n",
    )
    rejects = tmp_path / "out" / "rejects.csv"

    assert gympulse_import(*gym, cwd=tmp_path).returncode == 0

    done = gympulse_import(
        "--alunos", str(alunos), "--checkins", str(checkins), "--rejects", str(rejects),
        cwd=tmp_path,
    )  # fmt: skip

    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert "more.csv: 6 rows read, 2 rejected; 7 events inserted, 0 already present" in lines
    assert "3 rows rejected:" in lines
    assert (
        "  alunos2.csv line 2: email is not a valid e-mail address; data_nascimento is not a "
        "date (use AAAA-MM-DD or DD/MM/AAAA)"
    ) in lines
    assert "  more.csv line 6: unknown aluno_ref 'NOPE'" in lines
    assert (
        "  more.csv line 7: entrada is not a date and time (use AAAA-MM-DD HH:MM[:SS] or "
        "DD/MM/AAAA HH:MM); saida is not a date and time (use AAAA-MM-DD HH:MM[:SS] or "
        "DD/MM/AAAA HH:MM)"
    ) in lines
    assert lines[-1].endswith(f"; 3 rows rejected: see {rejects}")
    assert "ze@@example" not in done.stdout + done.stderr  # the member's data stays in files
    assert rejects.read_text().splitlines()[0:2] == [
        "file,line,reason",
        "alunos2.csv,2,email is not a valid e-mail address: 'ze@@example'; data_nascimento is "
        "not a date (use AAAA-MM-DD or DD/MM/AAAA): '1990-02-31'",
    ]


def test_every_row_rejected_exits_1_with_the_default_rejects_file(db, tmp_path, gym):
    gympulse_import(*gym, cwd=tmp_path)
    checkins = write(tmp_path, "bad.csv", "aluno_ref,entrada,saida\nNOPE,2025-06-05 07:00,\n")

    done = gympulse_import("--checkins", str(checkins), cwd=tmp_path)

    assert done.returncode == 1
    [written] = (tmp_path / "var").glob("import-rejects-*.csv")
    assert done.stdout.splitlines()[-1].endswith(
        f"; 1 row rejected: see {written.relative_to(tmp_path)}"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(None, "is a directory, expected a CSV file", id="directory"),
        pytest.param(b"", "empty file, expected a header row", id="empty"),
        pytest.param(
            b"nome,valor,duracao\nX,1,1\n",
            "missing columns valor_mensal, duracao_meses in the header row "
            "(unknown: valor, duracao; expected: nome, valor_mensal, duracao_meses)",
            id="wrong-header",
        ),
        pytest.param(
            (PLANOS + "Promoção,10,1\n").encode("latin-1"),
            "not UTF-8 (invalid byte at line 4); save it as UTF-8 and import again",
            id="latin-1",
        ),
    ],
)
def test_a_file_that_cannot_be_imported_is_one_line_and_exit_2(db, tmp_path, content, message):
    if content is None:
        path = tmp_path / "planos.csv"
        path.mkdir()
    else:
        path = tmp_path / "planos.csv"
        path.write_bytes(content)

    done = gympulse_import("--planos", str(path), cwd=tmp_path)

    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith("import refused: ") and message in line
    assert done.stdout == ""
    assert count(db, "select count(*) from planos") == 0


def test_an_unreachable_database_is_one_line_and_exit_3(tmp_path):
    planos = write(tmp_path, "planos.csv", PLANOS)

    done = gympulse_import(
        "--planos",
        str(planos),
        cwd=tmp_path,
        DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:18799/gympulse_test",
    )

    assert done.returncode == 3
    [line] = done.stderr.splitlines()
    assert line.startswith("error: PostgreSQL: ") and "is it running?" in line
