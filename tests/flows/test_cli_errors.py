"""Operator-facing failures (issue 10, item 12): a service down or a wrong URL is one line that
says what is wrong and what to do, with the documented exit code, never a traceback."""

import pytest

from serving.config import Settings
from tests.churn_support import run_cli
from tests.support import TEST_DATABASE

CLOSED_PORT = 9  # discard: nothing listens there on this machine


def _one_clear_line(proc) -> str:
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_db_current_with_postgresql_down_is_one_line_and_exit_3(settings):
    url = f"postgresql+psycopg://postgres@127.0.0.1:{CLOSED_PORT}/{TEST_DATABASE}"

    proc = run_cli("db", "current", env={"DATABASE_URL": url}, timeout=60)

    line = _one_clear_line(proc)
    assert proc.returncode == 3
    assert line.startswith("error: PostgreSQL:") and "Connection refused" in line
    assert "make services" in line and "DATABASE_URL" in line


def test_a_database_that_does_not_exist_points_to_db_upgrade(settings):
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/gympulse_never_created"

    proc = run_cli("db", "current", env={"DATABASE_URL": url}, timeout=60)

    line = _one_clear_line(proc)
    assert proc.returncode == 3
    assert "does not exist" in line and "gympulse db upgrade" in line


def test_a_postgres_url_in_libpq_spelling_just_works(settings):
    url = f"postgres://postgres@127.0.0.1:5432/{TEST_DATABASE}"

    proc = run_cli("db", "current", env={"DATABASE_URL": url}, timeout=60)

    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_a_url_for_another_database_names_the_setting_and_exits_2():
    proc = run_cli("db", "current", env={"DATABASE_URL": "mysql://root@127.0.0.1/gym"})

    line = _one_clear_line(proc)
    assert proc.returncode == 2
    assert line.startswith("configuration error in DATABASE_URL:")
    assert "postgresql+psycopg://" in line and "'mysql'" in line


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgres://u@h:5432/d", "postgresql+psycopg://u@h:5432/d"),
        ("postgresql://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
    ],
)
def test_settings_read_every_postgres_spelling_with_the_psycopg_driver(given, used):
    settings = Settings(database_url=given, dashboard_database_url=given)

    assert settings.database_url == used
    assert settings.dashboard_database_url == used
