"""The job queue is bounded (issue 10, item 5): one pending job per kind and arguments, a stale
job never blocks, a full queue answers 429, and a job's day lies within the stored data."""

import json
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from sqlalchemy.engine import make_url

from serving.api.routes.jobs import ALREADY_PENDING_HEADER
from serving.db.engine import libpq_url
from serving.db.migrate import downgrade, drop_database, upgrade
from serving.messaging.topology import (
    CHURN_PROBABILITIES_QUEUE,
    DAILY_REPORT_QUEUE,
    MODEL_UPDATE_QUEUE,
)
from serving.vocabulary import UNFINISHED_JOB_STATES
from tests.support import refused

# (route, a body with a date, the date's field, the queue, the role that may ask)
ROUTES = {
    "atualizar-modelo": ("/admin/atualizar-modelo", "data_referencia", MODEL_UPDATE_QUEUE, "admin"),
    "calcular-churn": (
        "/admin/calcular-churn",
        "data_referencia",
        CHURN_PROBABILITIES_QUEUE,
        "admin",
    ),
    "relatorio-diario": ("/relatorios/diario", "data", DAILY_REPORT_QUEUE, "analista"),
}
FIRST_CHECKIN_DAYS_AGO = 100


def _today(settings) -> date:
    return datetime.now(settings.tz).date()


@pytest.fixture
def history(db, make_member, settings) -> date:
    """A member who joined 200 days ago with one check-in 100 days ago (noon, gym time):
    returns the first day with data, that check-in's day."""
    member = make_member()
    first_day = _today(settings) - timedelta(days=FIRST_CHECKIN_DAYS_AGO)
    noon = datetime(first_day.year, first_day.month, first_day.day, 12, tzinfo=settings.tz)
    db.execute(
        "insert into checkins (checkin_id, aluno_id, tipo, ocorrido_em, origem) "
        "values (%s, %s, 'entrada', %s, 'kiosk')",
        (uuid.uuid4(), member, noon),
    )
    return first_day


def _messages(rabbit, queue: str) -> list[dict]:
    found = []
    while (body := rabbit.basic_get(queue, auto_ack=True)[2]) is not None:
        found.append(json.loads(body))
    return found


def _jobs(db) -> list[tuple]:
    return db.execute(
        "select id, tipo, estado, parametros, erro from jobs order by criado_em"
    ).fetchall()


@pytest.mark.parametrize("kind", ROUTES)
def test_asking_again_while_pending_returns_the_same_job(
    client, headers, rabbit, db, history, kind
):
    path, field, queue, role = ROUTES[kind]
    body = {field: history.isoformat()}

    first = client.post(path, json=body, headers=headers[role])
    again = client.post(path, json=body, headers=headers[role])

    assert first.status_code == 202, first.text
    assert ALREADY_PENDING_HEADER not in first.headers
    assert again.status_code == 200, again.text
    assert again.headers[ALREADY_PENDING_HEADER] == "true"
    assert again.json() == first.json()  # the same job, as GET /admin/jobs/{id} shows it
    assert [row[0] for row in _jobs(db)] == [uuid.UUID(first.json()["id"])]
    assert [m["job_id"] for m in _messages(rabbit, queue)] == [first.json()["id"]]


def test_a_running_job_also_answers_a_repeated_request(client, headers, rabbit, db, settings):
    first = client.post("/relatorios/diario", headers=headers["analista"]).json()
    db.execute(
        "update jobs set estado = 'running', iniciado_em = now() where id = %s", (first["id"],)
    )

    # no date and today's date are one report, so one job
    again = client.post(
        "/relatorios/diario", json={"data": _today(settings).isoformat()}, headers=headers["admin"]
    )

    assert again.status_code == 200 and again.json()["id"] == first["id"]
    assert again.json()["estado"] == "running"


def test_no_date_and_an_explicit_date_are_different_jobs(
    client, headers, rabbit, settings, history
):
    """Deliberately: without a date dbt builds incrementally, with one it is a backtest."""
    default = client.post("/admin/calcular-churn", headers=headers["admin"])
    dated = client.post(
        "/admin/calcular-churn",
        json={"data_referencia": _today(settings).isoformat()},
        headers=headers["admin"],
    )

    assert (default.status_code, dated.status_code) == (202, 202)
    assert default.json()["id"] != dated.json()["id"]


def test_concurrent_requests_queue_one_job(client, headers, rabbit, db, history):
    body = {"data": history.isoformat()}

    def ask(_):
        return client.post("/relatorios/diario", json=body, headers=headers["analista"])

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(ask, range(10)))

    assert sorted(a.status_code for a in answers) == [200] * 9 + [202], [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert len(_jobs(db)) == 1
    assert len(_messages(rabbit, DAILY_REPORT_QUEUE)) == 1


def test_the_database_refuses_a_second_pending_job_with_the_same_arguments(db):
    insert = "insert into jobs (id, tipo, estado, parametros) values (%s, 'calcular-churn', %s, %s)"
    db.execute(insert, (uuid.uuid4(), "queued", '{"data_referencia": "2026-11-28"}'))
    db.execute(insert, (uuid.uuid4(), "done", '{"data_referencia": "2026-11-28"}'))
    db.execute(insert, (uuid.uuid4(), "queued", "{}"))  # other arguments: another job

    with pytest.raises(psycopg.errors.UniqueViolation, match="uq_jobs_one_pending"):
        # jsonb compares values: spacing and key order do not make another job
        db.execute(insert, (uuid.uuid4(), "running", '{ "data_referencia":"2026-11-28" }'))


def test_a_request_that_loses_the_race_returns_the_winners_job(
    client, headers, rabbit, db, history, monkeypatch
):
    """Another writer inserts the same job between our look and our insert: the unique index
    refuses ours and the request answers theirs."""
    import serving.jobs

    theirs = uuid.uuid4()
    look = serving.jobs._pending_job

    async def look_then_lose(session, tipo, parametros):
        if not db.execute("select 1 from jobs where id = %s", (theirs,)).fetchone():
            db.execute(
                "insert into jobs (id, tipo, estado, parametros) values (%s, %s, 'queued', %s)",
                (theirs, tipo, json.dumps(parametros)),
            )
            return None  # as seen before their insert
        return await look(session, tipo, parametros)

    monkeypatch.setattr(serving.jobs, "_pending_job", look_then_lose)
    answer = client.post(
        "/relatorios/diario", json={"data": history.isoformat()}, headers=headers["analista"]
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == str(theirs)
    assert len(_jobs(db)) == 1
    assert _messages(rabbit, DAILY_REPORT_QUEUE) == []


@pytest.mark.parametrize("end", ["done", "failed"])
def test_an_ended_job_does_not_block_a_new_one(client, headers, rabbit, db, end):
    first = client.post("/admin/atualizar-modelo", headers=headers["admin"]).json()
    db.execute(
        "update jobs set estado = %s, terminado_em = now() where id = %s", (end, first["id"])
    )

    again = client.post("/admin/atualizar-modelo", headers=headers["admin"])

    assert again.status_code == 202, again.text
    assert again.json()["id"] != first["id"] and again.json()["estado"] == "queued"


@pytest.mark.parametrize("since", ["criado_em", "iniciado_em"])
def test_a_stale_pending_job_is_failed_by_the_next_request(
    client, headers, rabbit, db, settings, since
):
    """A job queued (message lost) or started (no worker came back) longer ago than
    stale_job_minutes no longer blocks: the next request fails it, with the reason, and queues
    a new one. A pending job of another kind that is stale is failed too."""
    long_ago = datetime.now(UTC) - timedelta(minutes=settings.stale_job_minutes + 1)
    stale, other = uuid.uuid4(), uuid.uuid4()
    estado = "queued" if since == "criado_em" else "running"
    for job_id, tipo in ((stale, "atualizar-modelo"), (other, "calcular-churn")):
        db.execute(
            f"insert into jobs (id, tipo, estado, parametros, {since}) "
            "values (%s, %s, %s, '{}', %s)",
            (job_id, tipo, estado, long_ago),
        )
    if since == "iniciado_em":  # queued long ago too, but started just now: not stale
        recent = uuid.uuid4()
        db.execute(
            "insert into jobs (id, tipo, estado, criado_em, iniciado_em) "
            "values (%s, 'relatorio-diario', 'running', %s, now())",
            (recent, long_ago),
        )

    answer = client.post("/admin/atualizar-modelo", headers=headers["admin"])

    assert answer.status_code == 202, answer.text
    assert answer.json()["id"] not in (str(stale), str(other))
    for job_id in (stale, other):
        estado_now, erro, ended = db.execute(
            "select estado, erro, terminado_em from jobs where id = %s", (job_id,)
        ).fetchone()
        assert estado_now == "failed" and ended is not None
        assert erro.startswith(f"stale: not ended {settings.stale_job_minutes} minutes after")
    if since == "iniciado_em":
        assert db.execute("select estado from jobs where id = %s", (recent,)).fetchone()[0] == (
            "running"
        )


def test_a_recent_pending_job_is_not_stale(client, headers, rabbit, db, settings):
    recent = datetime.now(UTC) - timedelta(minutes=settings.stale_job_minutes - 5)
    job_id = uuid.uuid4()
    db.execute(
        "insert into jobs (id, tipo, estado, parametros, criado_em) "
        "values (%s, 'atualizar-modelo', 'queued', '{}', %s)",
        (job_id, recent),
    )

    answer = client.post("/admin/atualizar-modelo", headers=headers["admin"])

    assert answer.status_code == 200 and answer.json()["id"] == str(job_id)


def test_a_full_queue_answers_429_with_retry_after(
    client, headers, rabbit, db, settings, history, monkeypatch
):
    monkeypatch.setattr(
        client.app.state, "settings", settings.model_copy(update={"max_pending_jobs": 2})
    )
    days = [history + timedelta(days=n) for n in range(3)]
    first, second = (
        client.post("/relatorios/diario", json={"data": d.isoformat()}, headers=headers["analista"])
        for d in days[:2]
    )

    full = client.post(
        "/relatorios/diario", json={"data": days[2].isoformat()}, headers=headers["analista"]
    )
    other_kind = client.post("/admin/calcular-churn", headers=headers["admin"])
    repeated = client.post(
        "/relatorios/diario", json={"data": days[0].isoformat()}, headers=headers["analista"]
    )

    assert (first.status_code, second.status_code) == (202, 202)
    assert full.status_code == 429 and other_kind.status_code == 429
    assert full.headers["content-type"] == "application/json"
    assert int(full.headers["retry-after"]) > 0
    assert full.json() == {
        "detail": "Já há 2 jobs na fila ou em execução, o máximo permitido (max_pending_jobs): "
        "tente de novo quando um terminar.",
        "codigo": "fila_de_jobs_cheia",
        "erros": None,
    }
    assert repeated.status_code == 200  # a pending job is still answered when the queue is full
    assert len(_jobs(db)) == 2
    assert len(_messages(rabbit, DAILY_REPORT_QUEUE)) == 2
    assert _messages(rabbit, CHURN_PROBABILITIES_QUEUE) == []

    db.execute("update jobs set estado = 'done' where id = %s", (first.json()["id"],))
    room = client.post(
        "/relatorios/diario", json={"data": days[2].isoformat()}, headers=headers["analista"]
    )
    assert room.status_code == 202, room.text


def test_concurrent_requests_never_pass_the_limit(
    client, headers, rabbit, db, settings, history, monkeypatch
):
    monkeypatch.setattr(
        client.app.state, "settings", settings.model_copy(update={"max_pending_jobs": 3})
    )

    def ask(days_after: int):
        day = history + timedelta(days=days_after)
        return client.post(
            "/relatorios/diario", json={"data": day.isoformat()}, headers=headers["analista"]
        )

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(ask, range(10)))

    assert sorted(a.status_code for a in answers) == [202] * 3 + [429] * 7
    assert len(_jobs(db)) == 3


@pytest.mark.parametrize("kind", ROUTES)
def test_a_day_outside_the_data_is_422_naming_the_range(
    client, headers, rabbit, db, settings, history, kind
):
    path, field, queue, role = ROUTES[kind]
    today = _today(settings)
    expected_range = (
        f"escolha um dia de {history.isoformat()} (o primeiro check-in, ou a primeira "
        f"matrícula) a {today.isoformat()} (hoje, {settings.gym_timezone})"
    )

    def ask(day: date):
        return client.post(path, json={field: day.isoformat()}, headers=headers[role])

    too_early, future = ask(history - timedelta(days=1)), ask(today + timedelta(days=1))
    far = ask(date(1900, 1, 1))

    for answer, why in (
        (too_early, "é anterior ao primeiro dia com dados"),
        (far, "é anterior"),
        (future, "está no futuro"),
    ):
        detail = refused(answer, 422, "dia_fora_dos_dados")["detail"]
        assert detail.startswith(f"{field} ") and why in detail
        assert expected_range in detail
    assert _jobs(db) == [] and _messages(rabbit, queue) == []
    assert ask(history).status_code == 202  # the bounds themselves are valid
    assert ask(today).status_code == 202


def test_without_any_data_only_today_is_a_valid_day(client, headers, rabbit, db, settings):
    today = _today(settings)
    yesterday = client.post(
        "/relatorios/diario",
        json={"data": (today - timedelta(days=1)).isoformat()},
        headers=headers["admin"],
    )

    assert yesterday.status_code == 422
    assert f"de {today.isoformat()} " in refused(yesterday, 422, "dia_fora_dos_dados")["detail"]


def test_the_first_member_joining_bounds_the_days_before_any_check_in(
    client, headers, rabbit, db, settings, make_member
):
    make_member()  # joined 200 days ago, never came
    joined = (datetime.now(UTC) - timedelta(days=200)).astimezone(settings.tz).date()

    before = client.post(
        "/admin/calcular-churn",
        json={"data_referencia": (joined - timedelta(days=1)).isoformat()},
        headers=headers["admin"],
    )
    on_it = client.post(
        "/admin/calcular-churn",
        json={"data_referencia": joined.isoformat()},
        headers=headers["admin"],
    )

    assert f"de {joined.isoformat()} " in refused(before, 422, "dia_fora_dos_dados")["detail"]
    assert on_it.status_code == 202, on_it.text


# --- the migration -----------------------------------------------------------------------------


@pytest.fixture
def scratch_database(settings):
    url = make_url(settings.database_url)
    scratch = url.set(database=f"{url.database}_migration").render_as_string(hide_password=False)
    drop_database(scratch)
    yield scratch
    drop_database(scratch)


def test_the_migration_keeps_one_of_each_pending_duplicate_and_goes_down(scratch_database):
    upgrade(scratch_database, "0006")
    rows = {
        # three pending reports of one day: the running one is kept, the queued ones failed
        "old_queued": ("relatorio-diario", "queued", '{"data": "2026-11-27"}', "1 hour"),
        "running": ("relatorio-diario", "running", '{"data": "2026-11-27"}', "30 minutes"),
        "new_queued": ("relatorio-diario", "queued", '{"data": "2026-11-27"}', "1 minute"),
        # two queued retrainings: the oldest is kept
        "first": ("atualizar-modelo", "queued", "{}", "2 hours"),
        "second": ("atualizar-modelo", "queued", "{}", "1 hour"),
        # not duplicates: other arguments, or ended
        "other_day": ("relatorio-diario", "queued", '{"data": "2026-11-26"}', "1 hour"),
        "done": ("atualizar-modelo", "done", "{}", "3 hours"),
    }
    ids = {name: uuid.uuid4() for name in rows}
    with psycopg.connect(libpq_url(scratch_database), autocommit=True) as conn:
        for name, (tipo, estado, parametros, age) in rows.items():
            conn.execute(
                "insert into jobs (id, tipo, estado, parametros, criado_em) "
                "values (%s, %s, %s, %s, now() - %s::interval)",
                (ids[name], tipo, estado, parametros, age),
            )

        upgrade(scratch_database, "0007")
        after = {
            row[0]: row[1:] for row in conn.execute("select id, estado, erro from jobs").fetchall()
        }
        indexdef = conn.execute(
            "select indexdef from pg_indexes where indexname = 'uq_jobs_one_pending'"
        ).fetchone()[0]

        downgrade(scratch_database, "0006")
        gone = conn.execute(
            "select count(*) from pg_indexes where indexname = 'uq_jobs_one_pending'"
        ).fetchone()[0]
        # down: a second pending job of the same arguments is accepted again
        conn.execute(
            "insert into jobs (id, tipo, estado) values (%s, 'atualizar-modelo', 'queued')",
            (uuid.uuid4(),),
        )

    kept = {"running", "first", "other_day"}
    assert {name for name in rows if after[ids[name]][0] in UNFINISHED_JOB_STATES} == kept
    assert after[ids["old_queued"]] == (
        "failed",
        f"duplicate of pending job {ids['running']} (same kind and arguments)",
    )
    assert (
        after[ids["second"]][1]
        == f"duplicate of pending job {ids['first']} (same kind and arguments)"
    )
    assert after[ids["done"]] == ("done", None)
    # the index's predicate spells the vocabulary's unfinished states
    assert "UNIQUE" in indexdef and "(tipo, parametros)" in indexdef
    assert sorted(re.findall(r"'(\w+)'::", indexdef)) == sorted(UNFINISHED_JOB_STATES), indexdef
    assert gone == 0
