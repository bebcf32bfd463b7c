"""A reused `checkin_id`: the same event again is one check-in, another event under it is a
conflict that is never silent (409 inside a bulk, a dead letter with its reason otherwise), and
every parked message says why it was parked."""

import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pika

from serving.messaging.dead_letters import DETAIL_HEADER, REASON_HEADER
from serving.messaging.events import CheckinEvent, encode_checkins
from serving.messaging.topology import CHECKIN_QUEUE, EXCHANGE, dead_letter_queue
from tests.support import count, refused, wait_until

DLQ = dead_letter_queue(CHECKIN_QUEUE)
PERSISTENT = pika.BasicProperties(delivery_mode=2, content_type="application/json")


def _depth(channel, queue: str) -> int:
    return channel.queue_declare(queue, passive=True).method.message_count


def _dead_letters(channel) -> list[tuple[dict, bytes]]:
    """Take every dead letter: (headers, body)."""
    taken = []
    while True:
        method, properties, body = channel.basic_get(DLQ, auto_ack=True)
        if method is None:
            return taken
        taken.append((properties.headers or {}, body))


def _header(headers: dict, name: str) -> str:
    value = headers[name]
    return value.decode() if isinstance(value, bytes) else value


def _reason(headers: dict) -> str:
    return _header(headers, REASON_HEADER)


def _queue_status(client, headers) -> dict:
    status = client.get("/status", headers=headers["admin"]).json()
    return next(q for q in status["filas"] if q["fila"] == CHECKIN_QUEUE)


def _event(member: int, **fields) -> CheckinEvent:
    values = {"checkin_id": uuid.uuid4(), "tipo": "entrada", "ocorrido_em": datetime.now(UTC)}
    return CheckinEvent(aluno_id=member, **(values | fields))


def test_the_same_id_for_another_member_is_parked_as_a_conflict_and_counted(
    client, headers, make_member, worker, db, rabbit
):
    first, other = make_member(), make_member()
    reused = str(uuid.uuid4())  # as copied from an example
    when = (datetime.now(UTC) - timedelta(minutes=3)).isoformat()
    body = {"checkin_id": reused, "aluno_id": first, "ocorrido_em": when}

    assert client.post("/aluno/checkin", json=body, headers=headers["kiosk"]).status_code == 202
    assert wait_until(lambda: count(db, "select count(*) from checkins") == 1)
    retry = client.post("/aluno/checkin", json=body, headers=headers["kiosk"])
    stolen = client.post(
        "/aluno/checkin", json=body | {"aluno_id": other}, headers=headers["kiosk"]
    )
    later = client.post(
        "/aluno/checkin",
        json=body | {"ocorrido_em": datetime.now(UTC).isoformat()},
        headers=headers["kiosk"],
    )

    assert retry.status_code == stolen.status_code == later.status_code == 202
    assert wait_until(lambda: _depth(rabbit, DLQ) == 2)
    assert wait_until(lambda: _depth(rabbit, CHECKIN_QUEUE) == 0)
    stored = db.execute("select aluno_id from checkins where checkin_id = %s", (reused,))
    assert stored.fetchall() == [(first,)]
    assert wait_until(
        lambda: _queue_status(client, headers)["dead_letter_motivos"] == {"checkin_id_conflict": 2}
    )
    assert _queue_status(client, headers)["dead_letter"] == 2
    parked = _dead_letters(rabbit)
    assert {_reason(h) for h, _ in parked} == {"checkin_id_conflict"}
    details = sorted(_header(h, DETAIL_HEADER) for h, _ in parked)
    assert reused in details[0] and "aluno_id" in details[0] + details[1]
    assert any("ocorrido_em" in d and "aluno_id" not in d for d in details)
    members = sorted(orjson.loads(b)["eventos"][0]["aluno_id"] for _, b in parked)
    assert members == sorted([other, first])


def test_a_retry_without_a_time_is_the_same_checkin(client, headers, member, worker, db, rabbit):
    # The API stamps a time-less event with the moment it accepted it: a retry a moment later
    # carries another time and is still the same event.
    body = {"checkin_id": str(uuid.uuid4()), "aluno_id": member}
    for _ in range(3):
        assert client.post("/aluno/checkin", json=body, headers=headers["kiosk"]).status_code == 202
        assert wait_until(lambda: count(db, "select count(*) from checkins") == 1)

    assert wait_until(lambda: _depth(rabbit, CHECKIN_QUEUE) == 0)
    assert _depth(rabbit, DLQ) == 0


def test_a_bulk_collapses_repeats_and_refuses_an_id_reused_for_another_event(
    client, headers, make_member, worker, db, rabbit
):
    a, b = make_member(), make_member()
    when = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    same = {"checkin_id": str(uuid.uuid4()), "aluno_id": a, "ocorrido_em": when}
    other = {"checkin_id": str(uuid.uuid4()), "aluno_id": b, "tipo": "saida", "ocorrido_em": when}

    repeated = client.post(
        "/aluno/checkin/lote", json={"checkins": [same] * 5 + [other]}, headers=headers["kiosk"]
    )
    clashing = client.post(
        "/aluno/checkin/lote",
        json={"checkins": [same, other, same | {"aluno_id": b}, other | {"tipo": "entrada"}]},
        headers=headers["kiosk"],
    )

    assert repeated.status_code == 202, repeated.text
    answer = repeated.json()
    assert answer["aceitos"] == 2 and answer["duplicados"] == 4
    assert answer["checkin_ids"] == [same["checkin_id"], other["checkin_id"]]
    assert answer["checkin_ids_duplicados"] == [same["checkin_id"]]
    assert refused(clashing, 409, "lote_checkin_id_em_conflito")["erros"] == [
        {
            "local": ["body", "checkins", 2],
            "codigo": "checkin_id_em_conflito",
            "aluno_id": b,
            "checkin_id": same["checkin_id"],
            "mensagem": "O checkin_id repete o do evento 0 com outro(s) valor(es) em: aluno_id.",
        },
        {
            "local": ["body", "checkins", 3],
            "codigo": "checkin_id_em_conflito",
            "aluno_id": b,
            "checkin_id": other["checkin_id"],
            "mensagem": "O checkin_id repete o do evento 1 com outro(s) valor(es) em: tipo.",
        },
    ]
    assert wait_until(lambda: count(db, "select count(*) from checkins") == 2)
    assert wait_until(lambda: _depth(rabbit, CHECKIN_QUEUE) == 0)
    assert _depth(rabbit, DLQ) == 0


def test_a_message_with_one_conflict_stores_the_rest_and_parks_only_that_event(
    rabbit, db, make_member, worker
):
    a, b = make_member(), make_member()
    stored = _event(a)
    rabbit.basic_publish(EXCHANGE, CHECKIN_QUEUE, encode_checkins([stored]), PERSISTENT)
    assert wait_until(lambda: count(db, "select count(*) from checkins") == 1)
    fresh = [_event(b) for _ in range(3)]
    clash = stored.model_copy(update={"aluno_id": b})

    batch = [fresh[0], clash, stored, *fresh[1:]]  # a redelivered `stored` is no conflict
    rabbit.basic_publish(EXCHANGE, CHECKIN_QUEUE, encode_checkins(batch), PERSISTENT)

    assert wait_until(lambda: count(db, "select count(*) from checkins") == 4)
    assert wait_until(lambda: _depth(rabbit, DLQ) == 1)
    [(parked_headers, parked_body)] = _dead_letters(rabbit)
    assert _reason(parked_headers) == "checkin_id_conflict"
    assert [e["aluno_id"] for e in orjson.loads(parked_body)["eventos"]] == [b]
    assert count(db, "select count(*) from checkins where aluno_id = %s", b) == 3


def test_every_parked_message_carries_its_reason(rabbit, db, member, worker):
    good = _event(member)
    wrong_type = encode_checkins([_event(member)]).replace(b'"entrada"', b'"pulo"')
    bodies = {
        "undecodable": b"{not json",
        "invalid_fields": wrong_type,
        "unknown_member": encode_checkins([_event(9_999_999)]),
    }
    for body in [*bodies.values(), encode_checkins([good])]:
        rabbit.basic_publish(EXCHANGE, CHECKIN_QUEUE, body, PERSISTENT)

    assert wait_until(lambda: count(db, "select count(*) from checkins") == 1)
    assert wait_until(lambda: _depth(rabbit, DLQ) == 3)
    parked = {_reason(h): (h, body) for h, body in _dead_letters(rabbit)}
    assert set(parked) == set(bodies)
    # Each the message as it came, to read, fix and replay.
    assert {reason: body for reason, (_h, body) in parked.items()} == bodies
    assert "9999999" in _header(parked["unknown_member"][0], DETAIL_HEADER)
    invalid_detail = _header(parked["invalid_fields"][0], DETAIL_HEADER)
    assert "tipo" in invalid_detail and "pulo" not in invalid_detail  # no values from the body


def test_the_checkin_examples_carry_no_fixed_checkin_id(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    single = schemas["CheckinIn"]["examples"]
    batch = schemas["CheckinBatchIn"]["examples"][0]["checkins"]
    assert single and batch
    assert all("checkin_id" not in example for example in [*single, *batch])
    assert "retry" in schemas["CheckinIn"]["properties"]["checkin_id"]["description"]
