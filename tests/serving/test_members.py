import psycopg
import pytest

from tests.support import refused

NEW_MEMBER = {
    "nome": "Maria Oliveira",
    "email": "maria.oliveira@example.com",
    "telefone": "+55 11 91234-5678",
    "data_nascimento": "1994-03-17",
}


def _new(plan_id: int, **change) -> dict:
    return {**NEW_MEMBER, "plano_id": plan_id, **change}


def _inactive_plan(db) -> int:
    return db.execute(
        "insert into planos (nome, valor_mensal, duracao_meses, ativo) "
        "values ('Antigo', 79.9, 1, false) returning id"
    ).fetchone()[0]


# --- POST /aluno/registro -------------------------------------------------------------------


def test_register_returns_the_member_with_its_plan_and_first_history_entry(
    client, headers, plan_id
):
    response = client.post("/aluno/registro", json=_new(plan_id), headers=headers["recepcao"])

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id"] > 0
    assert body["nome"] == "Maria Oliveira"
    assert body["email"] == "maria.oliveira@example.com"
    assert body["data_nascimento"] == "1994-03-17"
    assert body["ativo"] is True
    assert body["plano"]["id"] == plan_id and body["plano"]["nome"] == "Mensal"
    assert len(body["historico_status"]) == 1
    first = body["historico_status"][0]
    assert first["ativo"] is True
    assert first["registrado_por"] == "recepcao.teste"
    assert first["ocorrido_em"] == body["data_matricula"]


def test_registered_member_is_stored(client, headers, plan_id, db):
    response = client.post("/aluno/registro", json=_new(plan_id), headers=headers["admin"])

    row = db.execute(
        "select nome, plano_id, ativo from alunos where id = %s", (response.json()["id"],)
    ).fetchone()
    assert row == ("Maria Oliveira", plan_id, True)


def test_register_duplicate_email_is_409_whatever_the_case(client, headers, plan_id, make_member):
    make_member(email="maria.oliveira@example.com")

    response = client.post(
        "/aluno/registro",
        json=_new(plan_id, email="Maria.Oliveira@EXAMPLE.com"),
        headers=headers["recepcao"],
    )

    refused(response, 409, "email_ja_cadastrado")


def test_register_duplicate_aluno_ref_is_409(client, headers, plan_id):
    client.post("/aluno/registro", json=_new(plan_id, aluno_ref="A-1"), headers=headers["admin"])

    response = client.post(
        "/aluno/registro",
        json=_new(plan_id, aluno_ref="A-1", email="outra@example.com"),
        headers=headers["admin"],
    )

    assert response.status_code == 409


def test_register_on_an_inactive_plan_is_422(client, headers, db):
    response = client.post(
        "/aluno/registro", json=_new(_inactive_plan(db)), headers=headers["recepcao"]
    )
    assert "não é um plano ativo" in refused(response, 422, "plano_inativo")["detail"]


def test_register_on_an_unknown_plan_is_422(client, headers, plan_id):
    response = client.post("/aluno/registro", json=_new(999_999), headers=headers["recepcao"])
    assert refused(response, 422, "plano_inativo")["detail"] == (
        "plano_id 999999 não é um plano ativo."
    )


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"email": "maria-at-example.com"}, id="bad-email"),
        pytest.param({"ativo": False}, id="extra-field"),
        pytest.param({"nome": "   "}, id="blank-name"),
        pytest.param({"plano_id": 0}, id="zero-plan"),
        pytest.param({"data_nascimento": "1850-01-01"}, id="too-old"),
        pytest.param({"data_nascimento": "17/03/1994"}, id="bad-date"),
    ],
)
def test_register_bad_input_is_422(client, headers, plan_id, change):
    response = client.post(
        "/aluno/registro", json=_new(plan_id, **change), headers=headers["admin"]
    )

    assert refused(response, 422, "dados_invalidos")["erros"]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"nome": "Maria\x00"}, id="nul-in-name"),
        pytest.param({"telefone": "11\x009"}, id="nul-in-phone"),
        pytest.param({"aluno_ref": "A\x00"}, id="nul-in-ref"),
        pytest.param({"plano_id": 2**40}, id="plan-id-beyond-int4"),
    ],
)
def test_register_input_the_database_cannot_hold_is_422_not_500(client, headers, plan_id, change):
    response = client.post(
        "/aluno/registro", json=_new(plan_id, **change), headers=headers["admin"]
    )
    assert response.status_code == 422


def test_analista_cannot_register_members(client, headers, plan_id):
    response = client.post("/aluno/registro", json=_new(plan_id), headers=headers["analista"])
    assert response.status_code == 403


# --- GET /aluno/{id} ------------------------------------------------------------------------


def test_get_member_returns_details_and_history(client, headers, make_member):
    inactive = make_member(ativo=False, nome="Joana Lima")

    response = client.get(f"/aluno/{inactive}", headers=headers["analista"])

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == inactive and body["nome"] == "Joana Lima" and body["ativo"] is False
    assert [h["ativo"] for h in body["historico_status"]] == [True, False]


def test_get_unknown_member_is_404(client, headers):
    response = client.get("/aluno/424242", headers=headers["recepcao"])
    assert refused(response, 404, "aluno_nao_encontrado")["detail"] == (
        "Aluno 424242 não encontrado."
    )


@pytest.mark.parametrize("bad_id", ["abc", "0", "-3", str(2**70)])
def test_get_member_with_a_bad_id_is_422(client, headers, bad_id):
    response = client.get(f"/aluno/{bad_id}", headers=headers["recepcao"])
    assert response.status_code == 422


# --- PUT /aluno/{id} ------------------------------------------------------------------------


def test_update_member_replaces_its_details(client, headers, member, plan_id):
    change = _new(plan_id, nome="Maria O. Santos", email="maria.santos@example.com")

    response = client.put(f"/aluno/{member}", json=change, headers=headers["recepcao"])

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["nome"] == "Maria O. Santos"
    assert body["email"] == "maria.santos@example.com"
    assert body["telefone"] == "+55 11 91234-5678"
    assert client.get(f"/aluno/{member}", headers=headers["admin"]).json()["nome"] == (
        "Maria O. Santos"
    )


def test_update_member_may_keep_its_own_email(client, headers, make_member, plan_id):
    aluno = make_member(email="maria.oliveira@example.com")
    response = client.put(
        f"/aluno/{aluno}", json=_new(plan_id, nome="Maria"), headers=headers["recepcao"]
    )
    assert response.status_code == 200


def test_update_unknown_member_is_404(client, headers, plan_id):
    response = client.put("/aluno/424242", json=_new(plan_id), headers=headers["recepcao"])
    assert response.status_code == 404


def test_update_to_another_members_email_is_409(client, headers, make_member, plan_id):
    make_member(email="maria.oliveira@example.com")
    other = make_member()

    response = client.put(
        f"/aluno/{other}",
        json=_new(plan_id, email="MARIA.oliveira@example.com"),
        headers=headers["recepcao"],
    )

    refused(response, 409, "email_ja_cadastrado")


def test_update_to_an_inactive_plan_is_422(client, headers, member, db):
    response = client.put(
        f"/aluno/{member}", json=_new(_inactive_plan(db)), headers=headers["recepcao"]
    )
    assert response.status_code == 422


def test_update_cannot_change_the_status(client, headers, member, plan_id):
    response = client.put(
        f"/aluno/{member}", json=_new(plan_id, ativo=False), headers=headers["recepcao"]
    )
    assert response.status_code == 422


# --- PATCH /aluno/{id}/ativar and /desativar ------------------------------------------------


def test_deactivate_appends_to_the_history(client, headers, member):
    response = client.patch(
        f"/aluno/{member}/desativar",
        json={"motivo": "mudou de cidade"},
        headers=headers["recepcao"],
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ativo"] is False
    assert [h["ativo"] for h in body["historico_status"]] == [True, False]
    assert body["historico_status"][-1]["motivo"] == "mudou de cidade"
    assert body["historico_status"][-1]["registrado_por"] == "recepcao.teste"


def test_reactivate_appends_again_without_a_body(client, headers, make_member):
    inactive = make_member(ativo=False)

    response = client.patch(f"/aluno/{inactive}/ativar", headers=headers["admin"])

    assert response.status_code == 200
    assert response.json()["ativo"] is True
    assert [h["ativo"] for h in response.json()["historico_status"]] == [True, False, True]


def test_deactivating_an_inactive_member_is_409(client, headers, make_member):
    inactive = make_member(ativo=False)
    response = client.patch(f"/aluno/{inactive}/desativar", headers=headers["recepcao"])
    assert refused(response, 409, "aluno_ja_inativo")["detail"] == "O aluno já está inativo."


def test_activating_an_active_member_is_409_and_history_unchanged(client, headers, member, db):
    response = client.patch(f"/aluno/{member}/ativar", headers=headers["recepcao"])

    refused(response, 409, "aluno_ja_ativo")
    history = db.execute(
        "select count(*) from alunos_status_historico where aluno_id = %s", (member,)
    ).fetchone()[0]
    assert history == 1


def test_nul_in_the_reason_is_422(client, headers, member):
    response = client.patch(
        f"/aluno/{member}/desativar", json={"motivo": "x\x00"}, headers=headers["recepcao"]
    )
    assert response.status_code == 422


def test_status_change_of_unknown_member_is_404(client, headers):
    response = client.patch("/aluno/424242/desativar", headers=headers["recepcao"])
    assert response.status_code == 404


def test_analista_cannot_deactivate(client, headers, member):
    response = client.patch(f"/aluno/{member}/desativar", headers=headers["analista"])
    assert response.status_code == 403


@pytest.mark.parametrize(
    "statement",
    [
        "update alunos_status_historico set ativo = false",
        "delete from alunos_status_historico",
    ],
)
def test_status_history_is_append_only(db, member, statement):
    with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
        db.execute(statement)


# --- GET /alunos ----------------------------------------------------------------------------


def _names(response) -> list[str]:
    return [m["nome"] for m in response.json()["data"]]


def test_search_by_name_substring_ignores_case(client, headers, make_member):
    make_member(nome="Carla Mendes")
    make_member(nome="Marcos Carvalho")
    make_member(nome="Bruno Souza")

    response = client.get("/alunos", params={"q": "CAR"}, headers=headers["recepcao"])

    assert response.status_code == 200
    assert _names(response) == ["Carla Mendes", "Marcos Carvalho"]
    assert response.json()["count"] == 2


def test_search_by_email_substring(client, headers, make_member):
    make_member(nome="Ana", email="ana@academia.com.br")
    make_member(nome="Beto", email="beto@example.com")

    response = client.get("/alunos", params={"q": "academia.com"}, headers=headers["analista"])

    assert _names(response) == ["Ana"]


def test_filter_by_active_state(client, headers, make_member):
    make_member(nome="Ativa")
    make_member(nome="Inativa", ativo=False)

    response = client.get("/alunos", params={"ativo": "false"}, headers=headers["recepcao"])

    assert _names(response) == ["Inativa"]
    assert response.json()["count"] == 1


def test_pagination_counts_everything_and_pages_in_name_order(client, headers, make_member):
    for name in ("Eva", "Ana", "Duda", "Bia", "Caio"):
        make_member(nome=name)

    response = client.get("/alunos", params={"page": 2, "page_size": 2}, headers=headers["admin"])

    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["page"], body["page_size"]) == (5, 2, 2)
    assert _names(response) == ["Caio", "Duda"]


def test_pages_of_equal_names_neither_repeat_nor_skip(client, headers, make_member):
    ids = [make_member(nome="Mesmo Nome") for _ in range(5)]

    seen = []
    for page in (1, 2, 3):
        response = client.get(
            "/alunos", params={"page": page, "page_size": 2}, headers=headers["admin"]
        )
        seen += [m["id"] for m in response.json()["data"]]

    assert seen == sorted(ids)


def test_page_after_the_last_is_empty_with_the_count(client, headers, member):
    response = client.get("/alunos", params={"page": 9}, headers=headers["admin"])
    assert response.json()["data"] == []
    assert response.json()["count"] == 1


@pytest.mark.parametrize("q, expected", [("%", ["100% Fit"]), ("o_s", ["Joao Silva"])])
def test_like_wildcards_in_the_query_match_literally(client, headers, make_member, q, expected):
    make_member(nome="100% Fit", email="fit@example.com")
    make_member(nome="Ana Paula", email="ana@example.com")
    make_member(nome="Joao Silva", email="joao_silva@example.com")
    make_member(nome="Joaosilva Pereira", email="joaosilva@example.com")

    response = client.get("/alunos", params={"q": q}, headers=headers["recepcao"])

    assert _names(response) == expected


def test_backslash_in_the_query_matches_literally(client, headers, make_member):
    make_member(nome="Barra \\ Invertida")
    make_member(nome="Sem Barra")

    response = client.get("/alunos", params={"q": "\\"}, headers=headers["recepcao"])

    assert _names(response) == ["Barra \\ Invertida"]


@pytest.mark.parametrize(
    "params",
    [{"page": 0}, {"page_size": 0}, {"page_size": 201}, {"q": "x" * 101}, {"q": "a\x00"}],
)
def test_bad_search_parameters_are_422(client, headers, params):
    response = client.get("/alunos", params=params, headers=headers["recepcao"])
    assert response.status_code == 422


def test_kiosk_cannot_search_members(client, headers):
    response = client.get("/alunos", headers=headers["kiosk"])
    assert response.status_code == 403


# --- GET /aluno/{id}/frequencia: the edges of the calendar ----------------------------------


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"fim": "0001-01-01"}, id="default-start-before-year-1"),
        pytest.param({"inicio": "0001-01-01", "fim": "0001-01-02"}, id="year-1"),
        pytest.param({"inicio": "9999-12-31", "fim": "9999-12-31"}, id="last-day"),
    ],
)
def test_frequency_at_the_edges_of_the_calendar_is_422_not_500(client, headers, member, params):
    response = client.get(f"/aluno/{member}/frequencia", params=params, headers=headers["admin"])
    assert response.status_code == 422


def test_frequency_far_in_the_past_still_answers(client, headers, member):
    params = {"inicio": "1900-01-01", "fim": "1900-03-01"}
    response = client.get(f"/aluno/{member}/frequencia", params=params, headers=headers["admin"])
    assert response.status_code == 200
    assert response.json()["total_visitas"] == 0
