"""The pairing's numbers are written once, in serving/sql/pairing.sql: the API's Python values
(serving.visits), the SQL it renders and the SQL dbt compiles from the same macros agree, and no
other SQL of the API or the warehouse writes them as literals."""

import os
import re
import subprocess
import sys
from pathlib import Path

from serving.visits import DOUBLE_TAP_WINDOW, EDGE, PAIRING_REACH, SQL_DIR, pair_visits_sql
from serving.warehouse import DBT_PROJECT_DIR
from serving.warehouse import dbt_env as profile_env

INTERVALS = (
    "select {{ pairing_reach() }} as reach, {{ double_tap_window() }} as tap,"
    " {{ pairing_lookback() }} as lookback"
)


def dbt_compile_inline(sql: str, env: dict[str, str]) -> str:
    project = str(DBT_PROJECT_DIR)
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "dbt.cli.main", "--quiet", "compile"),
            *("--project-dir", project, "--profiles-dir", project, "--inline", sql),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout.strip()


def test_python_and_dbt_read_the_same_pairing_numbers(db, settings, tmp_path):
    env = {
        **os.environ,
        **profile_env(settings.database_url),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
    }
    compiled = dbt_compile_inline(INTERVALS, env)
    assert "{{" not in compiled and "interval" in compiled, compiled
    reach, tap, lookback = db.execute(compiled).fetchone()
    assert (reach, tap, lookback) == (PAIRING_REACH, DOUBLE_TAP_WINDOW, EDGE)
    assert EDGE == PAIRING_REACH + DOUBLE_TAP_WINDOW


def test_the_api_sql_uses_the_same_numbers():
    sql = pair_visits_sql("eventos")
    assert "{{" not in sql
    hours = PAIRING_REACH.total_seconds() / 3600
    minutes = DOUBLE_TAP_WINDOW.total_seconds() / 60
    assert sql.count(f"<= interval '{hours:g} hours'") == 2
    assert sql.count(f"> interval '{minutes:g} minutes'") == 1


def test_no_other_sql_writes_the_numbers():
    hours = f"{PAIRING_REACH.total_seconds() / 3600:g}"
    minutes = f"{DOUBLE_TAP_WINDOW.total_seconds() / 60:g}"
    literal = re.compile(rf"interval\s+'\s*({hours}\s+hours?|{minutes}\s+minutes?)\b")
    files = [
        *DBT_PROJECT_DIR.glob("models/**/*.sql"),
        *DBT_PROJECT_DIR.glob("models/**/*.yml"),
        *DBT_PROJECT_DIR.glob("macros/*.sql"),
        *DBT_PROJECT_DIR.glob("data-tests/*.sql"),
        *(p for p in SQL_DIR.glob("*.sql") if p.name != "pairing.sql"),
    ]
    assert files
    found = [
        f"{Path(p).relative_to(DBT_PROJECT_DIR.parent)}: {m.group(0)}"
        for p in files
        for m in literal.finditer(p.read_text())
    ]
    assert not found, "write the pairing's numbers as pairing.sql's macros:\n" + "\n".join(found)
