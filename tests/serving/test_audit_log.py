"""The audit log of admin actions (issue 10, item 9): each change to users, kiosks, plans, jobs
and members leaves exactly one entry saying who, what and when, in the change's own
transaction; a refused change leaves none; no entry holds a personal value or a secret; admins
read it at `GET /admin/auditoria` (filters, pages), nobody else does; the table only grows."""

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy.engine import make_url

from serving import audit
from serving.db.engine import libpq_url, session_scope
from serving.db.migrate import downgrade, drop_database, upgrade
from serving.vocabulary import AUDIT_ACTIONS
from tests.support import PASSWORD, refused

SYNTHETIC = {
    "plano": "Mensal",
    "visitas_semana": 2,
    "duracao": 50,
    "dias_desde_ultima": 12,
    "semanas": 16,
}
COLUMNS = "usuario_id, ator, acao, alvo, detalhes, ocorrido_em"


def _last_id(db) -> int:
    return db.execute("select coalesce(max(id), 0) from auditoria").fetchone()[0]


def _entries_after(db, last_id: int) -> list[tuple]:
    return db.execute(
        f"select {COLUMNS} from auditoria where id > %s order by id", (last_id,)
    ).fetchall()


def _one_entry(db, last_id: int, response) -> tuple:
    """The one entry the request wrote: (usuario_id, ator, acao, alvo, detalhes)."""
    assert response.status_code < 300, response.text
    entries = _entries_after(db, last_id)
    assert len(entries) == 1, entries
    *entry, when = entries[0]
    assert abs(datetime.now(UTC) - when) < timedelta(minutes=1)
    return tuple(entry)


@pytest.fixture
def actions(client, headers, users, db):
    """Call a route and return the one entry it wrote."""

    def act(caller: str, method: str, url: str, **kwargs) -> tuple:
        before = _last_id(db)
        return _one_entry(
            db, before, client.request(method, url, headers=headers[caller], **kwargs)
        )

    return act


# --- each action, one entry -----------------------------------------------------------------


def test_user_changes_are_logged_with_who_what_and_when(actions, users):
    admin = users["admin"]
    body = {"username": "nova.analista", "password": "senha-longa-123", "role": "analista"}

    uid, who, acao, alvo, detalhes = actions("admin", "POST", "/auth/usuarios", json=body)
    new_id = int(alvo.removeprefix("usuario:"))
    assert (uid, who, acao) == (admin, "admin.teste", "usuario.criado")
    assert detalhes == {"username": "nova.analista", "role": "analista"}

    changed = actions(
        "admin", "PATCH", f"/auth/usuarios/{new_id}", json={"role": "recepcao", "ativo": False}
    )
    assert changed == (
        admin,
        "admin.teste",
        "usuario.alterado",
        f"usuario:{new_id}",
        {"role": "recepcao", "ativo": False},
    )


def test_kiosk_and_plan_changes_are_logged(actions, users):
    admin = users["admin"]

    *_, alvo, detalhes = actions(
        "admin", "POST", "/admin/dispositivos", json={"nome": "catraca-sul", "local": "Sul"}
    )
    assert detalhes == {"nome": "catraca-sul", "local": "Sul"}
    device = int(alvo.removeprefix("dispositivo:"))
    assert actions("admin", "DELETE", f"/admin/dispositivos/{device}") == (
        admin,
        "admin.teste",
        "dispositivo.revogado",
        f"dispositivo:{device}",
        {"nome": "catraca-sul"},
    )

    plan = {"nome": "Trimestral", "valor_mensal": "109.90", "duracao_meses": 3}
    *_, acao, alvo, detalhes = actions("admin", "POST", "/planos", json=plan)
    assert acao == "plano.criado" and detalhes == plan
    plan_id = int(alvo.removeprefix("plano:"))
    assert actions(
        "admin", "PUT", f"/planos/{plan_id}", json={**plan, "valor_mensal": "99.90"}
    ) == (admin, "admin.teste", "plano.alterado", f"plano:{plan_id}", {"valor_mensal": "99.90"})


def test_member_changes_are_logged_as_the_desk_user(actions, users, plan_id):
    desk = users["recepcao"]
    member = {"nome": "Joana Prado", "email": "joana@example.com", "plano_id": plan_id}

    uid, who, acao, alvo, detalhes = actions("recepcao", "POST", "/aluno/registro", json=member)
    aluno = int(alvo.removeprefix("aluno:"))
    assert (uid, who, acao) == (desk, "recepcao.teste", "aluno.registrado")
    assert detalhes == {"nome": "informado", "email": "informado", "plano_id": plan_id}

    updated = {**member, "telefone": "+55 11 90000-1111"}
    assert actions("recepcao", "PUT", f"/aluno/{aluno}", json=updated)[2:] == (
        "aluno.alterado",
        f"aluno:{aluno}",
        {"telefone": "alterado"},
    )
    assert actions(
        "recepcao", "PATCH", f"/aluno/{aluno}/desativar", json={"motivo": "mudou de cidade"}
    )[2:] == ("aluno.desativado", f"aluno:{aluno}", {"motivo": "informado"})
    assert actions("admin", "PATCH", f"/aluno/{aluno}/ativar")[:4] == (
        users["admin"],
        "admin.teste",
        "aluno.ativado",
        f"aluno:{aluno}",
    )


def test_a_queued_job_is_logged_and_the_pending_answer_is_not(client, headers, users, db):
    before = _last_id(db)
    queued = client.post("/relatorios/diario", headers=headers["analista"])
    uid, who, acao, alvo, detalhes = _one_entry(db, before, queued)
    assert (uid, who, acao, alvo) == (
        users["analista"],
        "analista.teste",
        "job.solicitado",
        f"job:{queued.json()['id']}",
    )
    assert detalhes == {"tipo": "relatorio-diario", "parametros": queued.json()["parametros"]}

    again = client.post("/relatorios/diario", headers=headers["admin"])
    assert again.status_code == 200 and again.json()["id"] == queued.json()["id"]
    assert _entries_after(db, before)[1:] == []

    before = _last_id(db)
    rescore = client.post("/admin/calcular-churn", headers=headers["admin"])
    assert _one_entry(db, before, rescore)[2:4] == ("job.solicitado", f"job:{rescore.json()['id']}")


def test_the_synthetic_student_is_logged(actions, users, plan_id):
    uid, who, acao, alvo, detalhes = actions(
        "admin", "POST", "/aluno/sintetico", json={**SYNTHETIC, "email": "sint@example.com"}
    )
    assert (uid, who, acao) == (users["admin"], "admin.teste", "aluno_sintetico.criado")
    assert alvo.startswith("aluno:") and detalhes["aluno_ref"].startswith("SINT-")
    assert {k: v for k, v in detalhes.items() if k != "aluno_ref"} == {
        **SYNTHETIC,
        "email": "informado",
    }


def test_the_command_line_is_logged_as_cli(settings, db):
    from serving.users import create_device_key, upsert_admin

    before = _last_id(db)
    upsert_admin("dona.academia", PASSWORD, "dona@example.com", database_url=settings.database_url)
    upsert_admin("dona.academia", PASSWORD + "-nova", database_url=settings.database_url)
    create_device_key("catraca-cli", "Entrada", database_url=settings.database_url)

    user_id = db.execute("select id from usuarios where username = 'dona.academia'").fetchone()[0]
    device_id = db.execute("select id from dispositivos where nome = 'catraca-cli'").fetchone()[0]
    assert [entry[:5] for entry in _entries_after(db, before)] == [
        (
            None,
            "cli",
            "usuario.criado",
            f"usuario:{user_id}",
            {"username": "dona.academia", "role": "admin", "email": "informado"},
        ),
        (None, "cli", "usuario.alterado", f"usuario:{user_id}", {"senha": "alterado"}),
        (
            None,
            "cli",
            "dispositivo.criado",
            f"dispositivo:{device_id}",
            {"nome": "catraca-cli", "local": "Entrada"},
        ),
    ]


# --- refused changes, failed transactions ---------------------------------------------------


# case: (caller, method, url, body from the ids, expected status)
REFUSED = {
    "duplicate username": (
        "admin",
        "POST",
        "/auth/usuarios",
        lambda ids: {"username": "analista.teste", "password": "x" * 12, "role": "analista"},
        409,
    ),
    "admin demotes themself": (
        "admin",
        "PATCH",
        "/auth/usuarios/{admin}",
        lambda ids: {"role": "analista"},
        409,
    ),
    "password too short": (
        "admin",
        "POST",
        "/auth/usuarios",
        lambda ids: {"username": "curta", "password": "x", "role": "analista"},
        422,
    ),
    "duplicate plan": (
        "admin",
        "POST",
        "/planos",
        lambda ids: {"nome": "mensal", "valor_mensal": "1", "duracao_meses": 1},
        409,
    ),
    "plan by the desk": (
        "recepcao",
        "POST",
        "/planos",
        lambda ids: {"nome": "Novo", "valor_mensal": "1", "duracao_meses": 1},
        403,
    ),
    "member with an unknown plan": (
        "recepcao",
        "POST",
        "/aluno/registro",
        lambda ids: {"nome": "Rui", "email": "rui@example.com", "plano_id": 999_999},
        422,
    ),
    "member e-mail taken": (
        "recepcao",
        "PUT",
        "/aluno/{member}",
        lambda ids: {"nome": "Rui", "email": "taken@example.com", "plano_id": ids["plan"]},
        409,
    ),
    "member already active": ("recepcao", "PATCH", "/aluno/{member}/ativar", None, 409),
    "kiosk already revoked": ("admin", "DELETE", "/admin/dispositivos/{revoked}", None, 409),
    "kiosk by an analyst": (
        "analista",
        "POST",
        "/admin/dispositivos",
        lambda ids: {"nome": "catraca-x"},
        403,
    ),
    "report of a future day": (
        "analista",
        "POST",
        "/relatorios/diario",
        lambda ids: {"data": "2999-01-01"},
        422,
    ),
    "synthetic with an unknown plan": (
        "admin",
        "POST",
        "/aluno/sintetico",
        lambda ids: {**SYNTHETIC, "plano": "Nenhum"},
        422,
    ),
    "synthetic with a taken e-mail": (
        "admin",
        "POST",
        "/aluno/sintetico",
        lambda ids: {**SYNTHETIC, "email": "taken@example.com"},
        409,
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_refused_change_writes_no_entry(client, headers, users, db, make_member, plan_id, case):
    make_member(email="taken@example.com")
    revoked = db.execute(
        "insert into dispositivos (nome, chave_prefixo, chave_hash, revogado_em) "
        "values ('catraca-velha', 'gpk_old', 'x', now()) returning id"
    ).fetchone()[0]
    ids = {"admin": users["admin"], "member": make_member(), "plan": plan_id, "revoked": revoked}
    caller, method, url, body, expected = REFUSED[case]
    before = _last_id(db)

    response = client.request(
        method,
        url.format(**ids),
        headers=headers[caller],
        **({"json": body(ids)} if body else {}),
    )

    assert response.status_code == expected, response.text
    assert _entries_after(db, before) == []


def test_an_entry_is_written_only_by_the_commit_of_its_change(settings, db):
    class Refused(Exception):
        pass

    with pytest.raises(Refused), session_scope(settings.database_url) as session:
        audit.record(session, audit.CLI, "plano.criado", "plano:1", {"nome": "Rolled back"})
        raise Refused
    assert db.execute("select count(*) from auditoria").fetchone()[0] == 0

    with session_scope(settings.database_url) as session:
        audit.record(session, audit.CLI, "plano.criado", "plano:1", {"nome": "Committed"})
    assert db.execute("select ator, detalhes from auditoria").fetchall() == [
        ("cli", {"nome": "Committed"})
    ]


# --- personal data and secrets --------------------------------------------------------------


def test_no_entry_holds_a_personal_value_or_a_secret(client, headers, users, db, plan_id):
    personal = {
        "nome": "Beatriz Quintela",
        "email": "beatriz.quintela@example.com",
        "telefone": "+55 21 98888-7777",
        "data_nascimento": "1991-07-23",
    }
    registered = client.post(
        "/aluno/registro", json={**personal, "plano_id": plan_id}, headers=headers["recepcao"]
    )
    aluno = registered.json()["id"]
    corrected = {
        "nome": "Beatriz Quintela Souza",
        "email": "bia.souza@example.com",
        "telefone": "+55 21 97777-6666",
        "data_nascimento": "1991-07-24",
        "plano_id": plan_id,
    }
    client.put(f"/aluno/{aluno}", json=corrected, headers=headers["recepcao"])
    client.patch(
        f"/aluno/{aluno}/desativar",
        json={"motivo": "tratamento de saúde"},
        headers=headers["admin"],
    )
    staff = {
        "username": "carla.gerente",
        "password": "a-senha-secreta-da-carla",
        "role": "admin",
        "nome": "Carla Menezes",
        "email": "carla@academia.com.br",
    }
    user_id = client.post("/auth/usuarios", json=staff, headers=headers["admin"]).json()["id"]
    client.patch(
        f"/auth/usuarios/{user_id}",
        json={"nome": "Carla M. Lima", "email": "carla.lima@academia.com.br"},
        headers=headers["admin"],
    )
    kiosk = client.post(
        "/admin/dispositivos", json={"nome": "catraca-norte"}, headers=headers["admin"]
    )
    synthetic = client.post(
        "/aluno/sintetico",
        json={**SYNTHETIC, "nome": "Sintético Nominal", "email": "sint.nominal@example.com"},
        headers=headers["admin"],
    )
    assert all(r.status_code < 300 for r in (registered, kiosk, synthetic)), "every change was made"

    stored = db.execute("select acao, detalhes from auditoria").fetchall()
    assert {row[0] for row in stored} >= {
        "aluno.registrado",
        "aluno.alterado",
        "aluno.desativado",
        "usuario.criado",
        "usuario.alterado",
        "dispositivo.criado",
        "aluno_sintetico.criado",
    }
    written = json.dumps([row[1] for row in stored], ensure_ascii=False)
    secrets = [
        *personal.values(),
        *(corrected[k] for k in ("nome", "email", "telefone", "data_nascimento")),
        "tratamento de saúde",
        staff["password"],
        staff["nome"],
        staff["email"],
        "Carla M. Lima",
        "carla.lima@academia.com.br",
        kiosk.json()["api_key"],
        kiosk.json()["api_key"][8:],  # any long piece of the key
        "Sintético Nominal",
        "sint.nominal@example.com",
    ]
    assert [value for value in secrets if value in written] == []
    changed = db.execute("select detalhes from auditoria where acao = 'aluno.alterado'").fetchone()[
        0
    ]
    assert changed == {
        "nome": "alterado",
        "email": "alterado",
        "telefone": "alterado",
        "data_nascimento": "alterado",
    }


# --- GET /admin/auditoria -------------------------------------------------------------------


@pytest.fixture
def logged(db, users, settings) -> dict[str, int]:
    """Five entries at known gym-local times (inserted as the writer would)."""
    tz = settings.tz
    rows = {
        "old": ("usuario.criado", users["admin"], datetime(2026, 3, 1, 9, 0, tzinfo=tz)),
        "late_evening": ("plano.alterado", users["admin"], datetime(2026, 3, 2, 23, 30, tzinfo=tz)),
        "desk": ("aluno.registrado", users["recepcao"], datetime(2026, 3, 3, 0, 15, tzinfo=tz)),
        "desk_again": ("aluno.alterado", users["recepcao"], datetime(2026, 3, 3, 10, 0, tzinfo=tz)),
        "cli": ("dispositivo.criado", None, datetime(2026, 3, 4, 8, 0, tzinfo=tz)),
    }
    db.execute("truncate auditoria")  # the fixtures' kiosk was created through the CLI
    ids = {}
    for name, (acao, uid, when) in rows.items():
        ids[name] = db.execute(
            "insert into auditoria (ocorrido_em, usuario_id, ator, acao, alvo) "
            "values (%s, %s, %s, %s, %s) returning id",
            (when, uid, "cli" if uid is None else f"u{uid}", acao, f"x:{name}"),
        ).fetchone()[0]
    return ids


def _listed(client, headers, **params) -> list[str]:
    response = client.get("/admin/auditoria", params=params, headers=headers["admin"])
    assert response.status_code == 200, response.text
    return [entry["alvo"].removeprefix("x:") for entry in response.json()["data"]]


def test_the_log_lists_newest_first_in_pages(client, headers, logged):
    first = client.get("/admin/auditoria", params={"page_size": 2}, headers=headers["admin"]).json()
    second = _listed(client, headers, page_size=2, page=2)

    assert [e["alvo"] for e in first["data"]] == ["x:cli", "x:desk_again"]
    assert (first["count"], first["page"], first["page_size"]) == (5, 1, 2)
    assert second == ["desk", "late_evening"]
    assert _listed(client, headers, page_size=2, page=4) == []
    entry = first["data"][0]
    assert set(entry) == {"id", "ocorrido_em", "usuario_id", "ator", "acao", "alvo", "detalhes"}
    assert (entry["usuario_id"], entry["ator"], entry["acao"]) == (
        None,
        "cli",
        "dispositivo.criado",
    )


def test_the_log_filters_by_action_user_and_gym_days(client, headers, users, logged):
    assert _listed(client, headers, acao="plano.alterado") == ["late_evening"]
    assert _listed(client, headers, usuario_id=users["recepcao"]) == ["desk_again", "desk"]
    # Days are the gym's: 23:30 on 2 March is 2 March, 00:15 on 3 March is 3 March.
    assert _listed(client, headers, desde="2026-03-02", ate="2026-03-02") == ["late_evening"]
    assert _listed(client, headers, desde="2026-03-03") == ["cli", "desk_again", "desk"]
    assert _listed(client, headers, ate="2026-03-01") == ["old"]
    assert _listed(
        client, headers, acao="aluno.alterado", usuario_id=users["recepcao"], desde="2026-03-03"
    ) == ["desk_again"]


@pytest.mark.parametrize(
    "params",
    [
        {"acao": "usuario.apagado"},
        {"desde": "2026-03-04", "ate": "2026-03-03"},
        {"desde": "ontem"},
        {"ate": "9999-12-31"},
        {"usuario_id": 0},
        {"page_size": 201},
    ],
)
def test_bad_filters_are_a_clear_422(client, headers, params):
    response = client.get("/admin/auditoria", params=params, headers=headers["admin"])

    inverted = params.keys() == {"desde", "ate"}
    refused(response, 422, "periodo_invertido" if inverted else "dados_invalidos")


@pytest.mark.parametrize(
    "caller, expected", [("analista", 403), ("recepcao", 403), ("kiosk", 403), ("none", 401)]
)
def test_only_admins_read_the_log(client, headers, logged, caller, expected):
    response = client.get("/admin/auditoria", headers=headers[caller])

    assert response.status_code == expected
    assert "x:" not in response.text


# --- the table ------------------------------------------------------------------------------


def test_the_log_only_grows_and_outlives_its_users(db, logged, users):
    entry = logged["desk"]
    for statement in (
        "update auditoria set acao = 'aluno.alterado' where id = %s",
        "update auditoria set detalhes = '{}' where id = %s",
        "delete from auditoria where id = %s",
    ):
        with pytest.raises(psycopg.errors.RestrictViolation):
            db.execute(statement, (entry,))

    db.execute("delete from usuarios where id = %s", (users["recepcao"],))
    assert db.execute(
        "select usuario_id, ator from auditoria where id = %s", (entry,)
    ).fetchone() == (None, f"u{users['recepcao']}")


def test_the_dashboard_role_cannot_read_the_log(db):
    assert db.execute(
        "select has_table_privilege('gympulse_dashboard', 'auditoria', 'select')"
    ).fetchone() == (False,)


@pytest.fixture
def scratch_database(settings):
    url = make_url(settings.database_url)
    scratch = url.set(database=f"{url.database}_audit").render_as_string(hide_password=False)
    drop_database(scratch)
    yield scratch
    drop_database(scratch)


def test_the_migration_goes_up_and_down(scratch_database):
    upgrade(scratch_database, "0008")
    with psycopg.connect(libpq_url(scratch_database), autocommit=True) as conn:
        constraint = conn.execute(
            "select pg_get_constraintdef(oid) from pg_constraint where conname = 'ck_auditoria_acao'"
        ).fetchone()[0]
        index = conn.execute(
            "select indexdef from pg_indexes where indexname = 'ix_auditoria_ocorrido'"
        ).fetchone()[0]
        dashboard_reads = conn.execute(
            "select has_table_privilege('gympulse_dashboard', 'auditoria', 'select')"
        ).fetchone()[0]
        conn.execute(
            "insert into auditoria (ator, acao, alvo) values ('cli', 'plano.criado', 'p:1')"
        )

        downgrade(scratch_database, "0007")
        gone = conn.execute("select to_regclass('auditoria')").fetchone()[0]
        # the status history's append-only function (0001) stays
        refuse_change = conn.execute(
            "select count(*) from pg_proc where proname = 'gympulse_refuse_change'"
        ).fetchone()[0]

        upgrade(scratch_database, "0008")
        again = conn.execute("select count(*) from auditoria").fetchone()[0]

    assert sorted(part.split("'")[1] for part in constraint.split("'::")[:-1]) == sorted(
        AUDIT_ACTIONS
    )
    assert "ocorrido_em DESC" in index
    assert dashboard_reads is False
    assert gone is None and refuse_change == 1
    assert again == 0
