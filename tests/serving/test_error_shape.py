"""One error shape and one language: every source of a refusal (a route, a dependency, a
middleware, request validation, a broker outage) answers an ErroOut (`detail`: one pt-BR
sentence, `codigo`: a stable machine code, `erros`: per field or per event) and nothing else."""

import re
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from serving.api.errors import CODES
from serving.api.main import create_app
from serving.config import REPO_ROOT
from serving.messaging.topology import CHECKIN_QUEUE, EXCHANGE
from tests.support import refused

# Words of the English messages the API used to answer; none may be left in a public error.
ENGLISH = re.compile(
    r"\b(the|not|found|invalid|expired|too|large|many|retry|must|member|request|body|"
    r"error|unavailable|busy|already|may|role|authenticated|is|are)\b",
    re.IGNORECASE,
)


def assert_pt_br(body: dict) -> None:
    texts = [body["detail"], *(entry["mensagem"] for entry in body["erros"] or [])]
    for text in texts:
        # Field names and codes are the API's own (Portuguese) vocabulary, quoted as such.
        prose = re.sub(r"`[^`]*`|\b\w+_\w+\b", "", text)
        assert not ENGLISH.search(prose), text


def test_every_code_has_a_pt_br_message_and_a_status():
    for codigo, code in CODES.items():
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", codigo), codigo
        assert 400 <= code.status < 600, codigo
        assert_pt_br({"detail": code.message, "erros": None})


def _checkin(aluno_id: int, **extra) -> dict:
    return {"aluno_id": aluno_id, "checkin_id": str(uuid.uuid4()), "tipo": "entrada", **extra}


def test_a_route_refusal_404_and_409(client, headers, make_member):
    unknown = client.post("/aluno/checkin", json=_checkin(999_999), headers=headers["kiosk"])
    inactive = make_member(ativo=False)
    conflict = client.post("/aluno/checkin", json=_checkin(inactive), headers=headers["kiosk"])

    body = refused(unknown, 404, "aluno_nao_encontrado")
    assert body == {
        "detail": "Aluno 999999 não encontrado.",
        "codigo": "aluno_nao_encontrado",
        "erros": None,
    }
    assert refused(conflict, 409, "aluno_inativo")["detail"] == f"Aluno {inactive} está inativo."
    assert_pt_br(body)


def test_the_body_limit_413_and_the_anonymous_large_body_401(client, headers):
    big = b"{" + b" " * (70 * 1024) + b"}"
    too_large = client.post(
        "/aluno/checkin",
        content=big,
        headers={**headers["kiosk"], "Content-Type": "application/json"},
    )
    anonymous = client.post(
        "/aluno/checkin", content=big, headers={"Content-Type": "application/json"}
    )

    body = refused(too_large, 413, "corpo_grande_demais")
    assert body["detail"] == (
        "Corpo da requisição grande demais: esta rota aceita no máximo 65.536 bytes."
    )
    assert_pt_br(body)
    assert_pt_br(refused(anonymous, 401, "corpo_sem_credenciais"))


def test_a_validation_422_names_each_field_in_pt_br(client, headers):
    response = client.post(
        "/aluno/registro",
        json={"nome": "", "email": "não-é-email", "plano_id": "um", "extra": 1, "x" * 300: 2},
        headers=headers["recepcao"],
    )

    body = refused(response, 422, "dados_invalidos")
    assert body["detail"] == "Dados inválidos: corrija o que está listado em erros."
    by_field = {tuple(entry["local"]): entry for entry in body["erros"]}
    assert by_field[("body", "nome")]["codigo"] == "texto_curto_demais"
    assert by_field[("body", "nome")]["mensagem"] == "Deve ter ao menos 1 caractere(s)."
    assert by_field[("body", "email")]["codigo"] == "email_invalido"
    assert by_field[("body", "plano_id")]["mensagem"] == "Deve ser um número inteiro."
    assert by_field[("body", "plano_id")]["entrada"] == "um"
    assert by_field[("body", "extra")]["codigo"] == "campo_nao_permitido"
    # The client's own long key is cut in `local`, never echoed whole.
    assert ("body", "x" * 64 + "…") in by_field
    assert_pt_br(body)
    missing = refused(
        client.post("/planos", json={}, headers=headers["admin"]), 422, "dados_invalidos"
    )
    assert {
        "local": ["body", "nome"],
        "mensagem": "Campo obrigatório.",
        "codigo": "campo_obrigatorio",
    } in missing["erros"]


def test_a_non_json_body_is_422_json_invalido(client, headers):
    nan = client.post(
        "/aluno/checkin",
        content=b'{"aluno_id": NaN}',
        headers={**headers["kiosk"], "Content-Type": "application/json"},
    )
    not_utf8 = client.post(
        "/planos",
        content=b"\xff\xfe{",
        headers={**headers["admin"], "Content-Type": "application/json"},
    )

    assert refused(nan, 422, "json_invalido")["erros"][0]["local"][0] == "body"
    assert_pt_br(refused(not_utf8, 422, "json_invalido"))


def test_a_bulk_422_names_each_refused_event(client, headers, member):
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    old = (datetime.now(UTC) - timedelta(days=40)).isoformat()
    events = [
        _checkin(member),
        _checkin(member, ocorrido_em=future),
        _checkin(member, ocorrido_em=old),
    ]

    response = client.post(
        "/aluno/checkin/lote", json={"checkins": events}, headers=headers["kiosk"]
    )

    body = refused(response, 422, "lote_eventos_invalidos")
    assert body["detail"] == "Nenhum evento aceito: 2 evento(s) inválido(s) (veja erros)."
    assert body["erros"] == [
        {
            "local": ["body", "checkins", 1],
            "codigo": "checkin_no_futuro",
            "mensagem": "ocorrido_em está no futuro (confira o relógio do quiosque).",
            "aluno_id": member,
        },
        {
            "local": ["body", "checkins", 2],
            "codigo": "checkin_antigo_demais",
            "mensagem": "ocorrido_em tem mais de 30 dias: use a importação de histórico.",
            "aluno_id": member,
        },
    ]
    assert_pt_br(body)


def test_no_token_401_and_a_role_403(client, headers):
    anonymous = client.get("/alunos")
    kiosk = client.get("/alunos", headers=headers["kiosk"])
    analyst = client.post("/planos", json={}, headers=headers["analista"])

    body = refused(anonymous, 401, "nao_autenticado")
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert_pt_br(body)
    assert refused(kiosk, 403, "sem_permissao")["detail"] == "O perfil 'kiosk' não pode fazer isto."
    assert_pt_br(refused(analyst, 403, "sem_permissao"))


def test_an_unknown_route_and_a_wrong_method(client, headers):
    assert_pt_br(refused(client.get("/nao-existe"), 404, "rota_nao_encontrada"))
    assert_pt_br(
        refused(client.delete("/planos", headers=headers["admin"]), 405, "metodo_nao_permitido")
    )


def test_a_login_flood_429(settings, users):
    with ExitStack() as stack:
        client = stack.enter_context(
            TestClient(create_app(settings.model_copy(update={"login_failures_per_user": 2})))
        )
        answers = [
            client.post("/auth/token", data={"username": "admin.teste", "password": "errada"})
            for _ in range(3)
        ]

    assert [a.status_code for a in answers] == [401, 401, 429]
    assert_pt_br(refused(answers[0], 401, "credenciais_invalidas"))
    body = refused(answers[2], 429, "muitas_tentativas")
    seconds = answers[2].headers["retry-after"]
    assert body["detail"] == f"Muitas tentativas com falha: tente de novo em {seconds} s."


def test_a_broker_that_cannot_route_the_event_503(client, headers, member, rabbit):
    # A real fault: the queue unbound, the broker returns the message, the API must not say 202.
    rabbit.queue_unbind(CHECKIN_QUEUE, EXCHANGE, routing_key=CHECKIN_QUEUE)
    try:
        response = client.post("/aluno/checkin", json=_checkin(member), headers=headers["kiosk"])
    finally:
        rabbit.queue_bind(CHECKIN_QUEUE, EXCHANGE, routing_key=CHECKIN_QUEUE)

    body = refused(response, 503, "servico_indisponivel")
    assert body["detail"] == (
        "Mensageria indisponível, o evento não foi aceito: reenvie com o mesmo checkin_id."
    )
    assert int(response.headers["retry-after"]) > 0
    assert_pt_br(body)


def test_the_documented_errors_are_all_erro_out(client):
    spec = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for methods in spec["paths"].values():
        for operation in methods.values():
            for status, answer in operation["responses"].items():
                if int(status) < 400:
                    continue
                schema = answer["content"]["application/json"]["schema"]
                refs = [schema.get("$ref")] + [s.get("$ref") for s in schema.get("anyOf", [])]
                assert "#/components/schemas/ErroOut" in refs, (operation["operationId"], status)
            if operation.get("security"):
                assert {"401", "403"} <= operation["responses"].keys(), operation["operationId"]


def test_the_readme_lists_every_code():
    readme = (REPO_ROOT / "README.md").read_text()
    assert [codigo for codigo in CODES if f"`{codigo}`" not in readme] == []
