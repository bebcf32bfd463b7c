"""`gympulse demo` run again: twice the same day and once the next day, on one database. The
demo's clock is a parameter; its API and consumer are real processes on a database of its own
(the package's simulated gym lives in the test database and must not be emptied).

The churn half (pipeline, MLflow, UIs) is skipped: the re-run problem is in the ingestion.
"""

import socket
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta

import psycopg
import pytest

from flows.demo import run_demo
from serving.config import Settings
from serving.db.engine import libpq_url
from serving.db.migrate import drop_database
from tests.support import TEST_DATABASE

pytestmark = pytest.mark.slow

MEMBERS = 60
CHECKINS = 40
PORT = 18801


@pytest.fixture
def demo_settings(settings, rabbit, cache, monkeypatch, tmp_path) -> Iterator[Settings]:
    url = settings.database_url.rsplit("/", 1)[0] + f"/{TEST_DATABASE}_demo"
    drop_database(url)
    monkeypatch.setenv("DATABASE_URL", url)  # what the demo's API and consumer read
    yield settings.model_copy(update={"database_url": url})
    cache.flushdb()  # member ids of this database must not answer for the test database's
    drop_database(url)


def _demo(settings: Settings, now: datetime, log_dir, port: int = PORT) -> int:
    return run_demo(
        settings,
        members=MEMBERS,
        checkins=CHECKINS,
        port=port,
        serve=False,
        churn=False,
        now=now,
        log_dir=log_dir,
    )


def _checkins(settings: Settings) -> dict[str, tuple]:
    """Every stored check-in: id -> (member, type, gym-local day, time, source)."""
    with psycopg.connect(libpq_url(settings.database_url)) as conn:
        rows = conn.execute(
            "select checkin_id::text, aluno_id, tipo, ocorrido_em, "
            "case when dispositivo like 'demo-kiosk-%%' then 'kiosk' else 'simulated' end "
            "from checkins"
        ).fetchall()
    zone = settings.tz
    return {
        checkin_id: (aluno, tipo, when.astimezone(zone).date(), when, source)
        for checkin_id, aluno, tipo, when, source in rows
    }


def _members(settings: Settings) -> set[tuple[int, str | None, str]]:
    with psycopg.connect(libpq_url(settings.database_url)) as conn:
        return set(conn.execute("select id, aluno_ref, email from alunos").fetchall())


def _assert_one_history(checkins: dict[str, tuple]) -> None:
    """No event twice, no day of a member with visits from both the simulation and the kiosk,
    and at most one kiosk visit a member a day."""
    events = [(aluno, tipo, when) for aluno, tipo, _, when, _ in checkins.values()]
    assert len(events) == len(set(events)), "the same event stored twice"
    sources: dict[tuple[int, date], set[str]] = {}
    kiosk_entries: dict[tuple[int, date], int] = {}
    for aluno, tipo, day, _, source in checkins.values():
        sources.setdefault((aluno, day), set()).add(source)
        if source == "kiosk" and tipo == "entrada":
            kiosk_entries[(aluno, day)] = kiosk_entries.get((aluno, day), 0) + 1
    assert not [key for key, found in sources.items() if len(found) > 1], "overlapping histories"
    assert max(kiosk_entries.values()) == 1


def test_demo_run_again_the_same_day_and_the_next_adds_nothing_twice(
    demo_settings, tmp_path, capfd
):
    zone = demo_settings.tz
    day = datetime.now(zone).date() - timedelta(days=3)  # in the API's 30-day window
    first_run = datetime.combine(day, time(10, 0), zone)
    same_day = first_run + timedelta(minutes=73)
    next_day = datetime.combine(day + timedelta(days=1), time(9, 30), zone)

    assert _demo(demo_settings, first_run, tmp_path) == 0
    members = _members(demo_settings)
    first = _checkins(demo_settings)
    kiosk = [c for c in first.values() if c[4] == "kiosk"]
    assert 0 < len(kiosk) <= CHECKINS
    assert all(c[2] == day and c[3] <= first_run for c in kiosk)
    simulated = [c for c in first.values() if c[4] == "simulated"]
    assert max(c[3] for c in simulated) < datetime.combine(day, time(0), zone)
    _assert_one_history(first)

    assert _demo(demo_settings, same_day, tmp_path) == 0
    assert _members(demo_settings) == members
    assert _checkins(demo_settings) == first  # 0 new events: same ids, same content

    assert _demo(demo_settings, next_day, tmp_path) == 0
    assert _members(demo_settings) == members
    after = _checkins(demo_settings)
    assert {k: v for k, v in after.items() if k in first} == first
    new = [c for k, c in after.items() if k not in first]
    assert 0 < len(new) <= CHECKINS
    assert all(c[2] == day + timedelta(days=1) and c[3] <= next_day for c in new)
    assert {c[4] for c in new} == {"kiosk"}
    _assert_one_history(after)

    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    assert "posted by an earlier run" in out
    assert "✘" not in out + err


def test_a_failing_demo_says_so_in_one_line(demo_settings, tmp_path, capfd):
    """The API cannot start (its port is taken): one line naming the step and the way out,
    exit code 1, the details in the logs."""
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", PORT + 1))
        taken.listen()
        code = _demo(demo_settings, datetime.now(demo_settings.tz), tmp_path, port=PORT + 1)

    assert code == 1
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"✘ starting the API on port {PORT + 1}")
    assert "--port picks another" in lines[0]
    assert "Traceback" in (tmp_path / "demo.log").read_text()
