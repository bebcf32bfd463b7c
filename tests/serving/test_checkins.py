import uuid
from datetime import UTC, datetime, timedelta

from tests.support import count, refused, wait_until


def _checkin(member: int, **extra) -> dict:
    return {"checkin_id": str(uuid.uuid4()), "aluno_id": member, "tipo": "entrada", **extra}


def test_kiosk_checkin_is_accepted_and_lands_once(client, headers, member, worker, db):
    body = _checkin(member, ocorrido_em=datetime.now(UTC).isoformat())
    first = client.post("/aluno/checkin", json=body, headers=headers["kiosk"])
    retry = client.post("/aluno/checkin", json=body, headers=headers["kiosk"])

    assert first.status_code == 202, first.text
    assert retry.status_code == 202
    assert first.json()["checkin_id"] == body["checkin_id"]
    assert wait_until(lambda: count(db, "select count(*) from checkins") == 1)
    row = db.execute("select aluno_id, tipo, dispositivo, origem from checkins").fetchone()
    assert row[0] == member and row[1] == "entrada" and row[2].startswith("kiosk-")
    assert row[3] == "kiosk"


def test_front_desk_manual_checkin_gets_an_id_and_defaults_to_now(
    client, headers, member, worker, db
):
    response = client.post("/aluno/checkin", json={"aluno_id": member}, headers=headers["recepcao"])

    assert response.status_code == 202
    occurred = datetime.fromisoformat(response.json()["ocorrido_em"])
    assert abs((datetime.now(UTC) - occurred).total_seconds()) < 5
    assert wait_until(lambda: count(db, "select count(*) from checkins where origem='manual'") == 1)


def test_unknown_member_is_404(client, headers):
    response = client.post("/aluno/checkin", json=_checkin(999_999), headers=headers["kiosk"])
    body = refused(response, 404, "aluno_nao_encontrado")
    assert body["detail"] == "Aluno 999999 não encontrado."


def test_inactive_member_is_409(client, headers, make_member):
    inactive = make_member(ativo=False)
    response = client.post("/aluno/checkin", json=_checkin(inactive), headers=headers["kiosk"])
    refused(response, 409, "aluno_inativo")


def test_future_naive_and_malformed_timestamps_are_422(client, headers, member):
    future = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    for ocorrido_em in (future, "2026-11-28T10:00:00", "ontem", "2026-13-45T00:00:00Z"):
        response = client.post(
            "/aluno/checkin",
            json=_checkin(member, ocorrido_em=ocorrido_em),
            headers=headers["kiosk"],
        )
        assert response.status_code == 422, ocorrido_em


def test_bad_bodies_are_422_never_500(client, headers, member):
    bodies = [
        {},
        {"aluno_id": "abc"},
        {"aluno_id": member, "tipo": "pulo"},
        {"aluno_id": member, "checkin_id": "not-a-uuid"},
        {"aluno_id": member, "extra": 1},
        {"aluno_id": -1},
        {"aluno_id": 2**70},
    ]
    for body in bodies:
        response = client.post("/aluno/checkin", json=body, headers=headers["kiosk"])
        assert response.status_code == 422, body
    raw = client.post(
        "/aluno/checkin",
        content=b"{not json",
        headers={**headers["kiosk"], "content-type": "application/json"},
    )
    assert raw.status_code == 422


def test_revoked_kiosk_key_is_refused(client, headers, member, db):
    db.execute("update dispositivos set revogado_em = now()")
    client.app.state.kiosk_keys.clear()
    response = client.post("/aluno/checkin", json=_checkin(member), headers=headers["kiosk"])
    assert response.status_code == 401


def test_batch_lands_every_distinct_event(client, headers, make_member, worker, db):
    members = [make_member() for _ in range(5)]
    now = datetime.now(UTC)
    events = [
        _checkin(members[i % 5], ocorrido_em=(now - timedelta(minutes=i)).isoformat())
        for i in range(1200)
    ]
    events += events[:100]  # a kiosk resending part of its buffer

    response = client.post(
        "/aluno/checkin/lote", json={"checkins": events}, headers=headers["kiosk"]
    )

    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["aceitos"] == 1200 and answer["duplicados"] == 100
    assert answer["checkin_ids"] == [e["checkin_id"] for e in events[:1200]]
    assert answer["checkin_ids_duplicados"] == [e["checkin_id"] for e in events[:100]]
    assert wait_until(lambda: count(db, "select count(*) from checkins") == 1200)


def test_batch_is_all_or_nothing_and_names_each_refused_event(client, headers, make_member, rabbit):
    good, inactive = make_member(), make_member(ativo=False)
    events = [_checkin(good), _checkin(inactive), _checkin(good), _checkin(123_456)]

    unknown = client.post(
        "/aluno/checkin/lote", json={"checkins": events}, headers=headers["kiosk"]
    )
    erros = refused(unknown, 404, "lote_alunos_nao_encontrados")["erros"]
    assert [e["local"] for e in erros] == [["body", "checkins", 3]]

    conflict = client.post(
        "/aluno/checkin/lote", json={"checkins": events[:3]}, headers=headers["kiosk"]
    )
    assert refused(conflict, 409, "lote_alunos_inativos")["erros"] == [
        {
            "local": ["body", "checkins", 1],
            "codigo": "aluno_inativo",
            "aluno_id": inactive,
            "mensagem": f"Aluno {inactive} está inativo.",
        }
    ]

    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    invalid = client.post(
        "/aluno/checkin/lote",
        json={"checkins": [_checkin(good), _checkin(good, ocorrido_em=future)]},
        headers=headers["kiosk"],
    )
    erros = refused(invalid, 422, "lote_eventos_invalidos")["erros"]
    assert erros[0]["local"] == ["body", "checkins", 1]
    assert erros[0]["codigo"] == "checkin_no_futuro"
    assert rabbit.queue_declare("checkin_queue", passive=True).method.message_count == 0


def test_batch_over_10000_events_is_422(client, headers, member):
    events = [{"aluno_id": member} for _ in range(10_001)]
    response = client.post(
        "/aluno/checkin/lote", json={"checkins": events}, headers=headers["kiosk"]
    )
    assert response.status_code == 422
