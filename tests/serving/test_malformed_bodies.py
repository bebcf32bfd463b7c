"""Bodies that are JSON only by the standard library's leniency (NaN, Infinity, lone surrogates),
loosely typed values and secrets in bad input: a clear 422 (or 401), never a 500, never echoed
or logged."""

import json
import logging

import pytest

from tests.support import refused

JSON = {"Content-Type": "application/json"}


def _post(client, path: str, raw: str, caller: dict[str, str]):
    # Raw bytes: the client must not re-encode what a hostile kiosk would send.
    return client.post(path, content=raw.encode(), headers={**JSON, **caller})


MALFORMED = [
    pytest.param("/auth/refresh", '{"refresh_token": NaN}', "none", id="refresh-nan"),
    pytest.param(
        "/auth/refresh", '{"refresh_token": "\\udfff-longer-token"}', "none", id="refresh-low"
    ),
    pytest.param("/aluno/checkin", '{"aluno_id": NaN}', "kiosk", id="checkin-nan"),
    pytest.param("/aluno/checkin", '{"aluno_id": Infinity}', "kiosk", id="checkin-inf"),
    pytest.param(
        "/aluno/checkin", '{"aluno_id": 1015, "tipo": "\\ud800"}', "kiosk", id="checkin-surrogate"
    ),
    pytest.param(
        "/aluno/checkin/lote",
        '{"checkins": [{"aluno_id": -Infinity}]}',
        "kiosk",
        id="lote-minus-inf",
    ),
    pytest.param(
        "/aluno/registro",
        '{"nome": "a\\ud800b", "email": "a@example.com", "plano_id": 1}',
        "recepcao",
        id="registro-surrogate-inside",
    ),
    pytest.param(
        "/planos",
        '{"nome": "Anual", "valor_mensal": NaN, "duracao_meses": 12}',
        "admin",
        id="plano-nan",
    ),
    pytest.param(
        "/aluno/sintetico",
        '{"plano": "Mensal", "visitas_semana": Infinity, "duracao": 50,'
        ' "dias_desde_ultima": 1, "semanas": 4}',
        "admin",
        id="sintetico-inf",
    ),
    pytest.param("/aluno/checkin", '{"aluno_id": 1, "\\ud800": 1}', "none", id="key-surrogate"),
    pytest.param(
        "/auth/usuarios",
        '{"username": "ana.nova", "password": "senha-\\ud800-bem-longa", "role": "analista"}',
        "admin",
        id="password-surrogate",
    ),
]


@pytest.mark.parametrize(("path", "raw", "caller"), MALFORMED)
def test_non_json_numbers_and_lone_surrogates_are_a_clear_422(
    client, headers, plan_id, path, raw, caller
):
    response = _post(client, path, raw, headers[caller])

    erros = refused(response, 422, "json_invalido")["erros"]
    assert erros and all({"local", "mensagem", "codigo"} <= item.keys() for item in erros)


def test_a_valid_surrogate_pair_is_still_text(client, headers, plan_id):
    raw = json.dumps({"nome": "Ana \U0001f4aa", "email": "ana@example.com", "plano_id": plan_id})
    assert "\\ud83d\\udcaa" in raw  # json.dumps escapes it as a pair

    response = _post(client, "/aluno/registro", raw, headers["recepcao"])

    assert response.status_code == 201, response.text
    assert response.json()["nome"] == "Ana \U0001f4aa"


def test_nan_inside_a_string_is_just_text(client, headers, plan_id):
    raw = json.dumps({"nome": "NaN Infinity", "email": "nan@example.com", "plano_id": plan_id})

    response = _post(client, "/aluno/registro", raw, headers["recepcao"])

    assert response.status_code == 201, response.text
    assert response.json()["nome"] == "NaN Infinity"


@pytest.mark.parametrize(
    ("path", "body", "caller"),
    [
        ("/aluno/checkin", {"aluno_id": True}, "kiosk"),
        ("/aluno/checkin", {"aluno_id": "7"}, "kiosk"),
        ("/aluno/checkin/lote", {"checkins": [{"aluno_id": True}]}, "kiosk"),
        (
            "/aluno/registro",
            {"nome": "Ana", "email": "a@example.com", "plano_id": True},
            "recepcao",
        ),
    ],
)
def test_ids_are_not_coerced_from_booleans_or_strings(
    client, headers, make_member, plan_id, path, body, caller
):
    make_member()  # member 1 exists: `true` must not be read as it

    response = client.post(path, json=body, headers=headers[caller])

    assert response.status_code == 422, response.text


def test_an_unknown_short_refresh_token_is_401(client, users):
    response = client.post("/auth/refresh", json={"refresh_token": "nope"})

    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"


def test_an_oversized_refresh_token_is_still_422(client, users):
    response = client.post("/auth/refresh", json={"refresh_token": "x" * 201})

    assert response.status_code == 422


def test_validation_errors_never_echo_secrets_nor_long_input(client, headers, caplog):
    secret = "my-Secret-Passw0rd-that-is-way-too-long-" * 20
    long_name = "N" * 5000
    caplog.set_level(logging.DEBUG)

    bad_user = client.post(
        "/auth/usuarios",
        json={"username": "ana", "password": secret, "role": "chefe", "nome": long_name},
        headers=headers["admin"],
    )
    bad_refresh = client.post("/auth/refresh", json={"refresh_token": secret})
    bad_member = client.post(
        "/aluno/registro",
        json={"nome": long_name, "email": "a@example.com", "plano_id": 1},
        headers=headers["recepcao"],
    )

    for response in (bad_user, bad_refresh, bad_member):
        assert response.status_code == 422, response.text
        assert "Secret-Passw0rd" not in response.text
        assert len(response.text) < 2000
    erros = refused(bad_user, 422, "dados_invalidos")["erros"]
    assert {item["local"][-1] for item in erros} >= {"password", "role", "nome"}
    assert "Secret-Passw0rd" not in caplog.text
    assert "NNNNNNNNNN" not in caplog.text


def test_a_short_bad_value_is_still_echoed_to_help_the_client(client, headers):
    response = client.post("/aluno/checkin", json={"aluno_id": "sete"}, headers=headers["kiosk"])

    erro = refused(response, 422, "dados_invalidos")["erros"][0]
    assert erro["entrada"] == "sete"
    assert (erro["local"], erro["codigo"]) == (["body", "aluno_id"], "deve_ser_inteiro")
    assert erro["mensagem"] == "Deve ser um número inteiro."


def test_an_unexpected_error_answers_500_and_logs_no_request_data(
    client, headers, plan_id, caplog, monkeypatch
):
    from serving.api.routes import alunos

    email = "maria.secreta@example.com"

    def fail(*_args, **_kwargs):
        # The message of a real failure may quote the input (pydantic, psycopg do).
        raise RuntimeError(f"cannot build the answer for {email}")

    monkeypatch.setattr(alunos, "AlunoDetail", fail)
    caplog.set_level(logging.DEBUG)

    # The client re-raises what reaches the server, as uvicorn would log it: nothing must.
    response = client.post(
        "/aluno/registro",
        json={"nome": "Maria", "email": email, "plano_id": plan_id},
        headers=headers["recepcao"],
    )

    refused(response, 500, "erro_interno")
    assert "RuntimeError" in caplog.text
    assert "maria.secreta" not in caplog.text
