"""The gym simulator (CSV generation, import, replay) and the synthetic student."""

import csv
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from serving.simulator import (
    StudentProfile,
    generate,
    post_batches,
    replay_through_api,
    student_history,
)
from tests.support import count, refused

END = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)


def _read(folder: Path, name: str) -> list[dict]:
    with (folder / name).open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def gym(tmp_path_factory) -> Path:
    """300 members over 12 months, ending at a fixed instant."""
    folder = tmp_path_factory.mktemp("gym")
    generate(folder, members=300, months=12, seed=11, end=END, progress=False)
    return folder


def test_same_seed_same_files_other_seed_other_files(tmp_path, gym):
    generate(tmp_path / "a", members=300, months=12, seed=11, end=END, progress=False)
    generate(tmp_path / "b", members=300, months=12, seed=12, end=END, progress=False)
    for name in ("planos.csv", "alunos.csv", "checkins.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (gym / name).read_bytes(), name
    assert (tmp_path / "b" / "checkins.csv").read_bytes() != (gym / "checkins.csv").read_bytes()


# The bytes of the seed-11 gym. A refactoring must keep them; a deliberate change of the model
# or its parameters changes them (update the digests, and docs/simulator.md's numbers).
GOLDEN = {
    "planos.csv": "1a7a6b9e8d800b85eeab5785842a1622643fa4a8b6c5729f429c87e06a643893",
    "alunos.csv": "0e0214c1f57a3cabde5fe4af51fe555690923b640f9abc2c311029cac55e5cb2",
    "checkins.csv": "5048b297c3893dd72df4050801ae0ccc2d6ce2bb9f6e04112a59c8b652b63b36",
}


def test_a_seed_gives_the_same_bytes_as_before(gym):
    import hashlib

    assert {n: hashlib.sha256((gym / n).read_bytes()).hexdigest() for n in GOLDEN} == GOLDEN


def test_files_are_in_the_import_format(gym):
    assert _read(gym, "planos.csv")[0].keys() == {"nome", "valor_mensal", "duracao_meses"}
    plans = {p["nome"]: p for p in _read(gym, "planos.csv")}
    assert {"Mensal", "Trimestral", "Semestral", "Anual"} <= plans.keys()
    # Longer contracts are cheaper per month.
    prices = [float(plans[n]["valor_mensal"]) for n in ("Mensal", "Trimestral", "Anual")]
    assert prices == sorted(prices, reverse=True)
    alunos = _read(gym, "alunos.csv")
    assert list(alunos[0]) == [
        "aluno_ref",
        "nome",
        "email",
        "telefone",
        "data_nascimento",
        "plano",
        "data_matricula",
        "data_cancelamento",
    ]
    assert len(alunos) == 300 and len({a["email"] for a in alunos}) == 300
    checkins = _read(gym, "checkins.csv")
    assert list(checkins[0]) == ["aluno_ref", "entrada", "saida"]
    for row in checkins[:50]:
        assert datetime.fromisoformat(row["entrada"]).utcoffset() is not None
    # The history ends "now": the last days have check-ins.
    last = max(datetime.fromisoformat(c["entrada"]) for c in checkins)
    assert END - timedelta(days=2) < last <= END


def test_behaviour_a_user_would_notice(gym):
    alunos = {a["aluno_ref"]: a for a in _read(gym, "alunos.csv")}
    entries = defaultdict(list)
    missing_exits = 0
    rows = _read(gym, "checkins.csv")
    for row in rows:
        entries[row["aluno_ref"]].append(datetime.fromisoformat(row["entrada"]))
        missing_exits += not row["saida"]
        if row["saida"]:
            minutes = (
                datetime.fromisoformat(row["saida"]) - datetime.fromisoformat(row["entrada"])
            ).total_seconds() / 60
            assert 10 <= minutes <= 240
    joins = defaultdict(int)
    for a in alunos.values():
        joins[datetime.fromisoformat(a["data_matricula"]).month] += 1
    assert joins[1] > joins[12]

    cancelled = [a for a in alunos.values() if a["data_cancelamento"]]
    assert 0.1 * len(alunos) < len(cancelled) < 0.8 * len(alunos)
    declined = judged = 0
    for a in cancelled:
        joined = datetime.fromisoformat(a["data_matricula"])
        gone = datetime.fromisoformat(a["data_cancelamento"])
        visits = sorted(entries[a["aluno_ref"]])
        assert all(v < gone for v in visits), "check-in after cancellation"
        weeks = (gone - joined).days / 7
        if weeks < 10:
            continue
        window = gone - timedelta(weeks=4)
        recent = sum(v >= window for v in visits) / 4
        earlier = sum(v < window for v in visits) / (weeks - 4)
        judged += 1
        declined += recent < earlier
    assert judged >= 20
    assert declined / judged > 0.7, (declined, judged)

    # Kiosk noise: a few % of exits missed, some double taps (a second entry within 2 min).
    assert 0.01 < missing_exits / len(rows) < 0.1
    taps = sum(
        1
        for times in entries.values()
        for a, b in zip(sorted(times), sorted(times)[1:], strict=False)
        if b - a < timedelta(minutes=2)
    )
    assert taps > 0


def test_replay_days_hold_back_recent_checkins_of_active_members(tmp_path, gym):
    summary, replay = generate(
        tmp_path, members=300, months=12, seed=11, end=END, replay_days=7, progress=False
    )
    assert replay and summary.replay_events >= len(replay)
    assert all(END - timedelta(days=7) <= v.entrada < END for v in replay)
    active = {a["aluno_ref"] for a in _read(gym, "alunos.csv") if not a["data_cancelamento"]}
    assert {v.aluno_ref for v in replay} <= active
    # Nothing lost, nothing doubled: the held-back visits are the full file minus the imported.
    full = len(_read(gym, "checkins.csv"))
    assert summary.checkin_rows + len(replay) == full
    # Other than the held-back rows, the files are the same.
    assert (tmp_path / "alunos.csv").read_bytes() == (gym / "alunos.csv").read_bytes()


def test_post_batches_retries_503_with_the_same_ids():
    bodies = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        if len(bodies) == 1:
            return httpx.Response(503, json={"detail": "broker did not confirm"})
        return httpx.Response(202, json={"aceitos": 3, "checkin_ids": [], "status": "aceito"})

    events = [{"checkin_id": str(i), "aluno_id": 1, "tipo": "entrada"} for i in range(5)]
    client = httpx.Client(transport=httpx.MockTransport(handler), base_url="http://api")
    accepted = post_batches(client, events, api_key="k", chunk=3, sleep=lambda _: None)
    assert accepted == 6
    assert len(bodies) == 3 and bodies[0] == bodies[1] != bodies[2]


def test_post_batches_stops_on_a_refusal():
    client = httpx.Client(
        transport=httpx.MockTransport(lambda r: httpx.Response(422, json={"detail": "x"})),
        base_url="http://api",
    )
    with pytest.raises(RuntimeError, match="refused"):
        post_batches(client, [{"aluno_id": 1}], api_key="k", sleep=lambda _: None)


def test_simulated_gym_loads_through_the_history_import(settings, db, tmp_path):
    from serving.history_import import import_history

    generate(tmp_path, members=120, months=6, seed=3, end=datetime.now(UTC), progress=False)
    report = import_history(
        tmp_path / "planos.csv",
        tmp_path / "alunos.csv",
        tmp_path / "checkins.csv",
        database_url=settings.database_url,
        gym_timezone=settings.gym_timezone,
        redis_url=settings.redis_url,
        progress=False,
    )
    assert report.rejects == []
    alunos = _read(tmp_path, "alunos.csv")
    rows = _read(tmp_path, "checkins.csv")
    cancelled = sum(1 for a in alunos if a["data_cancelamento"])
    events = sum(1 + bool(r["saida"]) for r in rows)
    assert count(db, "select count(*) from planos") == 4
    assert count(db, "select count(*) from alunos") == len(alunos)
    assert count(db, "select count(*) from alunos where not ativo") == cancelled
    assert count(db, "select count(*) from checkins") == events
    assert count(db, "select count(*) from alunos_status_historico where not ativo") == cancelled
    # No member has a check-in after its cancellation.
    assert (
        count(
            db,
            "select count(*) from checkins c join alunos_status_historico s "
            "on s.aluno_id = c.aluno_id and not s.ativo where c.ocorrido_em > s.ocorrido_em",
        )
        == 0
    )


def test_replayed_days_go_through_the_api_and_queue(settings, client, worker, tmp_path):
    import psycopg

    from serving.db.engine import libpq_url
    from serving.history_import import import_history
    from serving.simulator import SimulationResult

    summary, replay = generate(
        tmp_path,
        members=40,
        months=2,
        seed=5,
        end=datetime.now(UTC),
        replay_days=5,
        progress=False,
    )
    import_history(
        tmp_path / "planos.csv",
        tmp_path / "alunos.csv",
        tmp_path / "checkins.csv",
        database_url=settings.database_url,
        gym_timezone=settings.gym_timezone,
        redis_url=settings.redis_url,
        progress=False,
    )
    result = SimulationResult(tmp_path, summary)
    replay_through_api(result, replay, settings.database_url, "", client=client, log=lambda _: None)
    assert result.replay_accepted == summary.replay_events
    assert result.replay_stored == summary.replay_events
    with psycopg.connect(libpq_url(settings.database_url)) as conn:
        kiosk = conn.execute(
            "select count(*) from checkins where origem = 'kiosk' and dispositivo like 'simulador-%'"
        ).fetchone()[0]
    assert kiosk == summary.replay_events


# --- the synthetic student ------------------------------------------------------------------

PROFILE = {
    "plano": "Mensal",
    "visitas_semana": 2,
    "duracao": 50,
    "dias_desde_ultima": 12,
    "semanas": 16,
}


def test_student_history_matches_the_profile():
    import random
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("America/Sao_Paulo")
    now = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
    joined, visits = student_history(
        StudentProfile(**PROFILE), now=now, tz=tz, rng=random.Random(1)
    )
    today = now.astimezone(tz).date()
    assert (today - visits[-1][0].astimezone(tz).date()).days == 12
    assert joined <= visits[0][0]
    rate = len(visits) / ((16 * 7 - 12) / 7)
    assert 1.8 <= rate <= 2.2
    # Today's visit is already over.
    _, same_day = student_history(
        StudentProfile(**{**PROFILE, "dias_desde_ultima": 0}), now=now, tz=tz, rng=random.Random(1)
    )
    assert same_day[-1][1] <= now


def test_synthetic_student_via_api_is_in_the_database_at_once(
    client, headers, plan_id, db, settings
):
    response = client.post("/aluno/sintetico", json=PROFILE, headers=headers["admin"])

    assert response.status_code == 201, response.text
    body = response.json()
    aluno_id = body["aluno_id"]
    assert body["checkins"] == 2 * body["visitas"]
    assert (
        count(db, "select count(*) from checkins where aluno_id = %s", aluno_id)
        == (body["checkins"])
    )
    assert count(db, "select count(*) from alunos_status_historico where aluno_id = %s", aluno_id)
    last = db.execute(
        "select max(ocorrido_em) from checkins where aluno_id = %s and tipo = 'entrada'",
        (aluno_id,),
    ).fetchone()[0]
    today = datetime.now(settings.tz).date()
    assert (today - last.astimezone(settings.tz).date()).days == 12
    assert 1.7 <= body["visitas"] / ((16 * 7 - 12) / 7) <= 2.3
    # The API's own frequency route sees the history right away.
    freq = client.get(f"/aluno/{aluno_id}/frequencia", headers=headers["admin"]).json()
    assert freq["total_visitas"] > 0
    assert 40 <= freq["duracao_media_minutos"] <= 60


@pytest.mark.parametrize(
    "change",
    [
        {"plano": "Inexistente"},
        {"visitas_semana": 0},
        {"visitas_semana": 30},
        {"duracao": 5},
        {"dias_desde_ultima": -1},
        {"dias_desde_ultima": 16 * 7},
        {"semanas": 0},
        {"semanas": "muitas"},
        {"extra": 1},
        {"plano": None},
    ],
)
def test_synthetic_student_bad_profile_is_422(client, headers, plan_id, db, change):
    response = client.post("/aluno/sintetico", json={**PROFILE, **change}, headers=headers["admin"])

    expected = (
        "plano_sintetico_inativo" if change == {"plano": "Inexistente"} else "dados_invalidos"
    )
    refused(response, 422, expected)
    assert count(db, "select count(*) from alunos") == 0


def test_synthetic_student_missing_field_is_422(client, headers, plan_id):
    body = {k: v for k, v in PROFILE.items() if k != "semanas"}
    response = client.post("/aluno/sintetico", json=body, headers=headers["admin"])
    assert response.status_code == 422
    assert "semanas" in response.text


@pytest.mark.parametrize(
    ("email", "stored"),
    [
        ("Ana.Souza@EXEMPLO.com.br", "Ana.Souza@exemplo.com.br"),
        ("sem-arroba", None),
        ("Ana <ana@exemplo.com.br>", None),
    ],
)
def test_synthetic_student_email_follows_the_member_rule(
    settings, client, headers, plan_id, db, email, stored
):
    """The API route and the CLI path (`create_synthetic_student`) refuse and store e-mails as
    member registration does (`serving.rules.normalize_email`)."""
    from serving.simulator import StudentError, create_synthetic_student

    api = client.post(
        "/aluno/sintetico", json={**PROFILE, "email": email}, headers=headers["admin"]
    )
    if stored is None:
        assert api.status_code == 422, api.text
        with pytest.raises(StudentError, match="email"):
            create_synthetic_student(
                StudentProfile(**{**PROFILE, "email": email}),
                database_url=settings.database_url,
                gym_timezone=settings.gym_timezone,
            )
        assert count(db, "select count(*) from alunos") == 0
    else:
        assert api.status_code == 201, api.text
        got = db.execute("select email from alunos where id = %s", (api.json()["aluno_id"],))
        assert got.fetchone()[0] == stored
