"""Members' personal data per role (docs/personal-data.md): the masking rules, then every route
that returns a member, asked by each caller, and the logs those routes write."""

import json
import logging
from datetime import date, datetime

import orjson
import pytest

from flows.cli.churn import EXPORT_HEADER
from serving import personal_data
from serving.api.main import create_app
from serving.db.engine import sync_engine
from serving.personal_data import age, disclose, mask_email, mask_phone
from serving.scores import read_at_risk

NAME = "Maria Oliveira"
EMAIL = "maria.oliveira@example.com"
PHONE = "+55 11 91234-5678"
BORN = date(1994, 3, 17)
EMAIL_MASKED = "m***@example.com"
PHONE_MASKED = "+55 11 *****-5678"


# --- the rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        (PHONE, PHONE_MASKED),
        ("(11) 91234-5678", "(11) *****-5678"),
        ("+55 (11) 3456-7890", "+55 (11) ****-7890"),
        ("11912345678", "*******5678"),
        ("+5511912345678", "+*********5678"),
        ("+55 11 9 1234 5678", "+55 11 * **** 5678"),
        ("ramal 12 3456-7890", "***** ** ****-7890"),  # letters go too
        ("12-34", "**-**"),  # too short to call: no digit shown
        ("--", "***"),  # still visibly masked
    ],
)
def test_a_masked_phone_keeps_the_codes_and_the_last_four_digits(phone, masked):
    assert mask_phone(phone) == masked


def test_a_masked_phone_never_shows_more_than_a_real_number_would():
    for phone in ("1234567", "123456789012345678901234", "+55 11 91234-5678 / 99876-5432"):
        masked = mask_phone(phone)
        shown = [c for c in masked if c.isdigit()]
        assert "*" in masked and len(shown) <= 3 + 3 + 4, masked


@pytest.mark.parametrize(
    ("email", "masked"),
    [(EMAIL, EMAIL_MASKED), ("a@b.co", "a***@b.co"), ("no-at-sign", "***")],
)
def test_a_masked_email_keeps_the_first_letter_and_the_domain(email, masked):
    assert mask_email(email) == masked


@pytest.mark.parametrize(
    ("today", "years"),
    [
        (date(2026, 3, 16), 31),
        (date(2026, 3, 17), 32),
        (date(2026, 12, 31), 32),
        (date(1994, 3, 17), 0),
        (date(1990, 1, 1), 0),  # a birth date after the day is never a negative age
    ],
)
def test_age_counts_whole_years(today, years):
    assert age(BORN, today) == years


def test_a_29_february_birthday_counts_from_1_march():
    born = date(2000, 2, 29)
    assert (age(born, date(2025, 2, 28)), age(born, date(2025, 3, 1))) == (24, 25)


@pytest.mark.parametrize("role", ["kiosk", "gerente", ""])
@pytest.mark.parametrize("view", personal_data.VIEWS)
def test_a_role_the_policy_does_not_name_sees_nothing(role, view):
    shown = disclose(
        role, view, email=EMAIL, telefone=PHONE, data_nascimento=BORN, today=date(2026, 1, 1)
    )
    assert shown == personal_data.Disclosed(None, None, None, None)


def test_the_openapi_descriptions_say_who_sees_what():
    schemas = create_app().openapi()["components"]["schemas"]
    member = schemas["AlunoPublic"]["properties"]
    risk_row = schemas["RiscoItem"]["properties"]

    assert "analista: masked in lists, full in a member's detail" in member["email"]["description"]
    assert "recepcao: masked in lists" in member["telefone"]["description"]
    assert "analista: only as `idade`" in member["data_nascimento"]["description"]
    assert "recepcao: null in lists" in member["data_nascimento"]["description"]
    assert "analista: full" in risk_row["telefone"]["description"]
    assert "kiosks never see it" in risk_row["email"]["description"]


# --- the routes, by caller -------------------------------------------------------------------


def _age_today(settings) -> int:
    today = datetime.now(settings.tz).date()
    return today.year - BORN.year - ((today.month, today.day) < (BORN.month, BORN.day))


def _full(settings) -> dict:
    return {"email": EMAIL, "telefone": PHONE, "data_nascimento": "1994-03-17",
            "idade": _age_today(settings)}  # fmt: skip


def _expected(settings) -> dict[tuple[str, str], dict]:
    """What each staff role reads of the member in a list and in the detail."""
    full, years = _full(settings), _age_today(settings)
    return {
        ("admin", "lista"): full,
        ("admin", "detalhe"): full,
        ("analista", "lista"): {"email": EMAIL_MASKED, "telefone": PHONE_MASKED,
                                "data_nascimento": None, "idade": years},
        ("analista", "detalhe"): {"email": EMAIL, "telefone": PHONE,
                                  "data_nascimento": None, "idade": years},
        ("recepcao", "lista"): {"email": EMAIL_MASKED, "telefone": PHONE_MASKED,
                                "data_nascimento": None, "idade": None},
        ("recepcao", "detalhe"): full,
    }  # fmt: skip


PERSONAL = ("email", "telefone", "data_nascimento", "idade")


def _personal(member: dict) -> dict:
    return {k: member[k] for k in PERSONAL}


@pytest.fixture
def maria(db, make_member) -> int:
    aluno_id = make_member(nome=NAME, email=EMAIL)
    db.execute(
        "update alunos set telefone = %s, data_nascimento = %s where id = %s",
        (PHONE, BORN, aluno_id),
    )
    return aluno_id


@pytest.fixture
def scored(db, maria) -> int:
    db.execute(
        "insert into previsoes_churn (aluno_id, data_referencia, probabilidade, faixa_risco, "
        "modelo_nome, modelo_versao, fatores, calculado_em) "
        "values (%s, current_date, 0.8, 'alto', 'churn-rf', '4', %s, now())",
        (maria, json.dumps([])),
    )
    return maria


@pytest.mark.parametrize("role", ["admin", "analista", "recepcao"])
def test_a_list_of_members_shows_each_role_what_it_needs(client, headers, settings, maria, role):
    page = client.get("/alunos", params={"page_size": 200}, headers=headers[role])

    assert page.status_code == 200, page.text
    (member,) = page.json()["data"]
    assert member["nome"] == NAME
    assert _personal(member) == _expected(settings)[role, "lista"]


@pytest.mark.parametrize("role", ["admin", "analista", "recepcao"])
def test_a_members_detail_shows_each_role_what_it_needs(client, headers, settings, maria, role):
    detail = client.get(f"/aluno/{maria}", headers=headers[role])

    assert detail.status_code == 200, detail.text
    assert detail.json()["nome"] == NAME
    assert _personal(detail.json()) == _expected(settings)[role, "detalhe"]


@pytest.mark.parametrize("role", ["admin", "recepcao"])
def test_the_answers_of_the_changes_are_the_detail_of_the_role(
    client, headers, settings, plan_id, maria, role
):
    body = {"nome": NAME, "email": EMAIL, "plano_id": plan_id, "telefone": PHONE,
            "data_nascimento": "1994-03-17"}  # fmt: skip
    registered = client.post(
        "/aluno/registro", json=body | {"email": f"nova.{role}@example.com"}, headers=headers[role]
    )
    answers = [
        client.put(f"/aluno/{maria}", json=body, headers=headers[role]),
        client.patch(f"/aluno/{maria}/desativar", headers=headers[role]),
        client.patch(f"/aluno/{maria}/ativar", headers=headers[role]),
    ]

    assert registered.status_code == 201, registered.text
    assert _personal(registered.json()) == _expected(settings)[role, "detalhe"] | {
        "email": f"nova.{role}@example.com"
    }
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert _personal(answer.json()) == _expected(settings)[role, "detalhe"]


@pytest.mark.parametrize("role", ["admin", "analista"])
def test_the_at_risk_list_gives_the_retention_team_the_contact(client, headers, scored, role):
    listed = client.get("/alunos/risco", headers=headers[role])

    assert listed.status_code == 200, listed.text
    (row,) = listed.json()["data"]
    assert (row["aluno_id"], row["nome"]) == (scored, NAME)
    assert (row["telefone"], row["email"]) == (PHONE, EMAIL)
    assert "data_nascimento" not in row and "idade" not in row


def test_the_front_desk_and_kiosks_read_no_at_risk_list(client, headers, scored):
    assert client.get("/alunos/risco", headers=headers["recepcao"]).status_code == 403
    assert client.get("/alunos/risco", headers=headers["kiosk"]).status_code == 403


def test_kiosks_read_no_member(client, headers, plan_id, maria):
    kiosk = headers["kiosk"]
    body = {"nome": NAME, "email": "k@example.com", "plano_id": plan_id}
    answers = [
        client.get("/alunos", headers=kiosk),
        client.get(f"/aluno/{maria}", headers=kiosk),
        client.post("/aluno/registro", json=body, headers=kiosk),
        client.put(f"/aluno/{maria}", json=body, headers=kiosk),
        client.patch(f"/aluno/{maria}/desativar", headers=kiosk),
    ]
    for answer in answers:
        assert answer.status_code == 403
        assert EMAIL not in answer.text and PHONE not in answer.text and NAME not in answer.text


def test_the_lists_the_dashboard_and_the_cli_export_hold_no_contact(settings, scored):
    """The Redis list (the dashboard's Risco page and its CSV button read it) is
    `read_at_risk`'s rows, and `gympulse scores export` writes `alunos_em_risco`: the
    contact details the API adds for the retention team are in neither."""
    (row,) = read_at_risk(sync_engine(settings.database_url), settings.gym_timezone, 10)

    assert row["aluno_id"] == scored
    assert not {"email", "telefone", "data_nascimento"} & set(row)
    assert EMAIL not in orjson.dumps(row).decode() and PHONE not in orjson.dumps(row).decode()
    assert not {"email", "telefone", "data_nascimento"} & set(EXPORT_HEADER.strip().split(","))


# --- logs ------------------------------------------------------------------------------------


def test_the_api_logs_no_personal_data_of_the_members_it_serves(
    client, headers, plan_id, maria, scored, caplog
):
    body = {"nome": "Joana Prado", "email": "joana.prado@example.com", "plano_id": plan_id,
            "telefone": "+55 21 99876-5432", "data_nascimento": "1988-07-02"}  # fmt: skip
    caplog.set_level(logging.DEBUG)

    answers = [
        client.post("/aluno/registro", json=body, headers=headers["recepcao"]),
        client.post("/aluno/registro", json=body, headers=headers["recepcao"]),  # 409
        client.post(
            "/aluno/registro", json=body | {"email": "joana.prado-at-x"}, headers=headers["admin"]
        ),  # 422
        client.get("/alunos", headers=headers["analista"]),
        client.get(f"/aluno/{maria}", headers=headers["recepcao"]),
        client.get("/alunos/risco", headers=headers["analista"]),
    ]

    assert [a.status_code for a in answers] == [201, 409, 422, 200, 200, 200]
    # The test client logs the URLs it calls; the API's own loggers are what is checked.
    logged = "\n".join(
        record.getMessage() for record in caplog.records if not record.name.startswith("httpx")
    ).lower()
    for value in (NAME, EMAIL, PHONE, "1994-03-17", *body.values()):
        if isinstance(value, str):
            assert value.lower() not in logged, value
    assert "joana.prado" not in logged  # the refused e-mail too
    assert "91234" not in logged and "99876" not in logged
