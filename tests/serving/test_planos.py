from decimal import Decimal

import pytest

from tests.support import refused

ANUAL = {"nome": "Anual", "valor_mensal": "99.90", "duracao_meses": 12, "descricao": "12 meses"}


@pytest.fixture
def old_plan(db) -> int:
    return db.execute(
        "insert into planos (nome, valor_mensal, duracao_meses, ativo) "
        "values ('Antigo', 79.9, 1, false) returning id"
    ).fetchone()[0]


def _names(response) -> list[str]:
    return [p["nome"] for p in response.json()]


# --- reads ----------------------------------------------------------------------------------


def test_list_hides_inactive_plans(client, headers, plan_id, old_plan):
    response = client.get("/planos", headers=headers["recepcao"])

    assert response.status_code == 200
    assert _names(response) == ["Mensal"]
    assert Decimal(response.json()[0]["valor_mensal"]) == Decimal("129.90")


def test_list_shows_inactive_plans_when_asked(client, headers, plan_id, old_plan):
    response = client.get(
        "/planos", params={"incluir_inativos": "true"}, headers=headers["analista"]
    )

    assert response.status_code == 200
    assert [(p["nome"], p["ativo"]) for p in response.json()] == [
        ("Mensal", True),
        ("Antigo", False),
    ]


def test_get_plan(client, headers, plan_id):
    response = client.get(f"/planos/{plan_id}", headers=headers["recepcao"])

    assert response.status_code == 200
    assert response.json()["nome"] == "Mensal" and response.json()["duracao_meses"] == 1


def test_get_unknown_plan_is_404(client, headers):
    response = client.get("/planos/999999", headers=headers["recepcao"])
    refused(response, 404, "plano_nao_encontrado")


def test_kiosk_cannot_read_plans(client, headers):
    assert client.get("/planos", headers=headers["kiosk"]).status_code == 403


# --- POST /planos ---------------------------------------------------------------------------


def test_admin_creates_a_plan(client, headers):
    response = client.post("/planos", json=ANUAL, headers=headers["admin"])

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id"] > 0 and body["nome"] == "Anual" and body["ativo"] is True
    assert Decimal(body["valor_mensal"]) == Decimal("99.90")
    assert client.get(f"/planos/{body['id']}", headers=headers["admin"]).json() == body


def test_duplicate_plan_name_is_409_whatever_the_case(client, headers, plan_id):
    response = client.post("/planos", json={**ANUAL, "nome": "MENSAL"}, headers=headers["admin"])
    refused(response, 409, "plano_ja_existe")


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"valor_mensal": "-1.00"}, id="negative-price"),
        pytest.param({"valor_mensal": "10.999"}, id="three-decimals"),
        pytest.param({"duracao_meses": 0}, id="zero-months"),
        pytest.param({"duracao_meses": 61}, id="too-long"),
        pytest.param({"nome": ""}, id="empty-name"),
        pytest.param({"ativo": False}, id="extra-field"),
        pytest.param({"nome": "Anual\x00"}, id="nul-in-name"),
        pytest.param({"descricao": "\x00"}, id="nul-in-description"),
    ],
)
def test_bad_plan_is_422(client, headers, change):
    response = client.post("/planos", json={**ANUAL, **change}, headers=headers["admin"])
    assert response.status_code == 422


@pytest.mark.parametrize("role", ["recepcao", "analista", "kiosk"])
def test_only_admin_creates_plans(client, headers, role):
    response = client.post("/planos", json=ANUAL, headers=headers[role])
    assert response.status_code == 403


# --- PUT /planos/{id} -----------------------------------------------------------------------


def test_admin_updates_a_plan(client, headers, plan_id):
    change = {"nome": "Mensal Plus", "valor_mensal": "149.90", "duracao_meses": 1}

    response = client.put(f"/planos/{plan_id}", json=change, headers=headers["admin"])

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["nome"] == "Mensal Plus" and Decimal(body["valor_mensal"]) == Decimal("149.90")
    assert body["ativo"] is True


def test_retiring_a_plan_hides_it_from_the_list(client, headers, plan_id):
    change = {"nome": "Mensal", "valor_mensal": "129.90", "duracao_meses": 1, "ativo": False}
    assert (
        client.put(f"/planos/{plan_id}", json=change, headers=headers["admin"]).status_code == 200
    )

    response = client.get("/planos", headers=headers["recepcao"])

    assert response.json() == []


def test_update_unknown_plan_is_404(client, headers):
    response = client.put("/planos/999999", json=ANUAL, headers=headers["admin"])
    assert response.status_code == 404


def test_update_to_another_plans_name_is_409(client, headers, plan_id, old_plan):
    response = client.put(
        f"/planos/{old_plan}", json={**ANUAL, "nome": "mensal"}, headers=headers["admin"]
    )
    assert response.status_code == 409


def test_update_may_keep_its_own_name(client, headers, plan_id):
    response = client.put(
        f"/planos/{plan_id}", json={**ANUAL, "nome": "Mensal"}, headers=headers["admin"]
    )
    assert response.status_code == 200


def test_only_admin_updates_plans(client, headers, plan_id):
    response = client.put(f"/planos/{plan_id}", json=ANUAL, headers=headers["recepcao"])
    assert response.status_code == 403


def test_the_rules_fit_the_database_columns():
    """`serving.rules` may be narrower than the database, never wider."""
    from serving import rules
    from serving.db.tables import Aluno, Dispositivo, Plano, Usuario

    assert (
        10 ** (Plano.valor_mensal.type.precision - Plano.valor_mensal.type.scale)
        > rules.PLAN_PRICE_MAX
    )
    assert Plano.valor_mensal.type.scale == rules.PLAN_PRICE_PLACES
    assert Plano.nome.type.length == rules.PLAN_NAME_MAX
    assert (rules.PLAN_MONTHS_MIN, rules.PLAN_MONTHS_MAX) == (1, 60)  # ck_planos_duracao
    assert rules.NAME_MAX == Aluno.nome.type.length == Usuario.nome.type.length
    assert rules.EMAIL_MAX == Aluno.email.type.length == Usuario.email.type.length
    assert Aluno.telefone.type.length == rules.PHONE_MAX
    assert Aluno.aluno_ref.type.length == rules.MEMBER_REF_MAX
    assert Dispositivo.nome.type.length == rules.DEVICE_NAME_MAX
    assert Dispositivo.chave_prefixo.type.length >= rules.KIOSK_KEY_PREFIX_LENGTH


def test_a_plan_over_the_price_limit_is_422(client, headers):
    response = client.post(
        "/planos", json={**ANUAL, "valor_mensal": "100000.01"}, headers=headers["admin"]
    )
    assert response.status_code == 422
