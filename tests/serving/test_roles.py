"""Who may call what: one entry per route of the app, checked for every kind of caller.

A route added to the app without an entry here fails `test_every_route_states_its_roles`
and every parametrized case of that route.
"""

import json
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from serving.api.main import create_app
from serving.config import DEV_JWT_SECRET
from serving.security import JWT_AUDIENCE, JWT_ISSUER, create_access_token, sha256_hex
from tests.support import PASSWORD, refused

PUBLIC = frozenset({"admin", "analista", "recepcao", "kiosk", "none"})
ADMIN = frozenset({"admin"})
READERS = frozenset({"admin", "analista"})
STAFF = frozenset({"admin", "analista", "recepcao"})
FRONT_DESK = frozenset({"admin", "recepcao"})
CHECKIN_WRITERS = frozenset({"admin", "recepcao", "kiosk"})
CALLERS = ("admin", "analista", "recepcao", "kiosk", "none")
# Credentials that must open nothing (issue 10): each is refused with 401 on every route that
# needs a caller. A demoted user is not here: it acts with its new role (below).
REFUSED_CALLERS = (
    "expired",
    "tampered",
    "alg-none",
    "refresh-as-access",
    "default-secret",
    "ten-year",
    "ghost-user",
    "disabled-user",
    "revoked-key",
)

# From DESIGN.md: admin everything; analista reads everything; recepcao members, manual
# check-ins, plan reads and member reads; kiosks only post check-ins.
ALLOWED: dict[tuple[str, str], frozenset[str]] = {
    ("POST", "/auth/token"): PUBLIC,
    ("POST", "/auth/refresh"): PUBLIC,
    ("GET", "/auth/usuarios"): ADMIN,
    ("POST", "/auth/usuarios"): ADMIN,
    ("PATCH", "/auth/usuarios/{usuario_id}"): ADMIN,
    ("POST", "/aluno/registro"): FRONT_DESK,
    ("GET", "/alunos"): STAFF,
    ("GET", "/aluno/{aluno_id}"): STAFF,
    ("PUT", "/aluno/{aluno_id}"): FRONT_DESK,
    ("PATCH", "/aluno/{aluno_id}/ativar"): FRONT_DESK,
    ("PATCH", "/aluno/{aluno_id}/desativar"): FRONT_DESK,
    ("GET", "/aluno/{aluno_id}/frequencia"): STAFF,
    ("POST", "/aluno/checkin"): CHECKIN_WRITERS,
    ("POST", "/aluno/checkin/lote"): CHECKIN_WRITERS,
    ("GET", "/aluno/{aluno_id}/risco-churn"): STAFF,
    ("GET", "/aluno/{aluno_id}/risco-churn/historico"): STAFF,
    ("POST", "/aluno/sintetico"): ADMIN,
    ("GET", "/alunos/risco"): READERS,
    ("GET", "/planos"): STAFF,
    ("GET", "/planos/{plano_id}"): STAFF,
    ("POST", "/planos"): ADMIN,
    ("PUT", "/planos/{plano_id}"): ADMIN,
    # Kiosks and their keys are administration, like users.
    ("GET", "/admin/dispositivos"): ADMIN,
    ("POST", "/admin/dispositivos"): ADMIN,
    ("DELETE", "/admin/dispositivos/{dispositivo_id}"): ADMIN,
    ("POST", "/admin/atualizar-modelo"): ADMIN,
    ("POST", "/admin/calcular-churn"): ADMIN,
    ("GET", "/admin/jobs"): READERS,
    ("GET", "/admin/jobs/{job_id}"): READERS,
    # Who changed what: administration, like users and kiosks.
    ("GET", "/admin/auditoria"): ADMIN,
    # Analysts read everything and may request reports.
    ("POST", "/relatorios/diario"): READERS,
    ("GET", "/relatorios"): READERS,
    ("GET", "/relatorios/{data}"): READERS,
    ("GET", "/relatorios/{data}/csv"): READERS,
    ("GET", "/relatorios/{data}/html"): READERS,
    ("GET", "/health"): PUBLIC,
    # Swagger UI, served from the installed package (serving/api/docs.py)
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/status"): READERS,
    ("GET", "/status/cache"): READERS,
}


def _app_routes() -> list[tuple[str, str]]:
    """(method, path) of every APIRoute of the app, included routers flattened."""
    routes = []
    for context in iter_route_contexts(create_app().routes):
        if isinstance(context.original_route, APIRoute):
            routes += [(method, context.path) for method in sorted(context.methods)]
    return routes


ROUTES = _app_routes()


def test_every_route_states_its_roles():
    assert sorted(ROUTES) == sorted(ALLOWED)


@pytest.fixture
def ids(users, member, plan_id, db) -> dict:
    refresh = "refresh-" + uuid.uuid4().hex
    db.execute(
        "insert into refresh_tokens (usuario_id, token_hash, familia, expira_em) "
        "values (%s, %s, %s, %s)",
        (users["analista"], sha256_hex(refresh), uuid.uuid4(), datetime.now(UTC) + timedelta(1)),
    )
    device = db.execute(
        "insert into dispositivos (nome, chave_prefixo, chave_hash) "
        "values ('catraca-velha', 'gpk_old', %s) returning id",
        (sha256_hex(uuid.uuid4().hex),),
    ).fetchone()[0]
    return {
        "usuario": users["recepcao"],
        "aluno": member,
        "plano": plan_id,
        "dispositivo": device,
        "job": uuid.uuid4(),
        "refresh": refresh,
    }


def _request(method: str, path: str, ids: dict) -> dict:
    """A valid-ish request for the route: real ids in the path and a body it accepts."""
    url = path.format(
        usuario_id=ids["usuario"],
        aluno_id=ids["aluno"],
        plano_id=ids["plano"],
        dispositivo_id=ids["dispositivo"],
        job_id=ids["job"],
        data="2026-11-27",
    )
    member = {"nome": "Nova Pessoa", "email": f"{uuid.uuid4().hex}@example.com"}
    plan = {"nome": f"Plano {uuid.uuid4().hex[:6]}", "valor_mensal": "99.90", "duracao_meses": 12}
    bodies = {
        ("POST", "/auth/token"): {"data": {"username": "recepcao.teste", "password": PASSWORD}},
        ("POST", "/auth/refresh"): {"json": {"refresh_token": ids["refresh"]}},
        ("POST", "/auth/usuarios"): {
            "json": {"username": "novo.usuario", "password": "x" * 12, "role": "recepcao"}
        },
        ("PATCH", "/auth/usuarios/{usuario_id}"): {"json": {"nome": "Recepção"}},
        ("POST", "/aluno/registro"): {"json": {**member, "plano_id": ids["plano"]}},
        ("PUT", "/aluno/{aluno_id}"): {"json": {**member, "plano_id": ids["plano"]}},
        ("PATCH", "/aluno/{aluno_id}/desativar"): {"json": {"motivo": "teste"}},
        ("POST", "/aluno/checkin"): {"json": {"aluno_id": ids["aluno"]}},
        ("POST", "/aluno/checkin/lote"): {"json": {"checkins": [{"aluno_id": ids["aluno"]}]}},
        ("POST", "/aluno/sintetico"): {
            "json": {
                "plano": "Mensal",
                "visitas_semana": 2,
                "duracao": 50,
                "dias_desde_ultima": 12,
                "semanas": 16,
            }
        },
        ("POST", "/planos"): {"json": plan},
        ("PUT", "/planos/{plano_id}"): {"json": plan},
        ("POST", "/admin/dispositivos"): {"json": {"nome": f"catraca-{uuid.uuid4().hex[:6]}"}},
        ("POST", "/admin/atualizar-modelo"): {"json": {}},
        ("POST", "/admin/calcular-churn"): {"json": {}},
        ("POST", "/relatorios/diario"): {"json": {}},
    }
    return {"method": method, "url": url, **bodies.get((method, path), {})}


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("method, path", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_route_answers_each_caller_by_its_role(client, headers, ids, method, path, caller):
    assert (method, path) in ALLOWED, f"{method} {path} has no entry in ALLOWED"
    allowed = ALLOWED[(method, path)]

    response = client.request(**_request(method, path, ids), headers=headers[caller])

    if caller in allowed:
        assert response.status_code not in (401, 403), response.text
        assert response.status_code < 500, response.text
    elif caller == "none":
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "Bearer"
    else:
        body = refused(response, 403, "sem_permissao")
        assert body["detail"] == f"O perfil '{caller}' não pode fazer isto."


def test_kiosk_keys_from_the_route_and_the_cli_are_issued_alike(settings, client, headers, db):
    """One issuance (`rules.issue_kiosk_key`): same shape, same stored prefix and hash, and
    both keys post check-ins."""
    from serving import rules
    from serving.users import create_device_key

    created = client.post(
        "/admin/dispositivos", json={"nome": "catraca-rota"}, headers=headers["admin"]
    )
    assert created.status_code == 201, created.text
    keys = {"catraca-rota": created.json()["api_key"]}
    keys["catraca-cli"] = create_device_key(
        "catraca-cli", "Entrada", database_url=settings.database_url
    )

    member = db.execute(
        "insert into planos (nome, valor_mensal, duracao_meses) values ('Kiosk', 1, 1) returning id"
    ).fetchone()[0]
    aluno = db.execute(
        "insert into alunos (nome, plano_id) values ('Ana', %s) returning id", (member,)
    ).fetchone()[0]
    for name, key in keys.items():
        prefix, digest = db.execute(
            "select chave_prefixo, chave_hash from dispositivos where nome = %s", (name,)
        ).fetchone()
        assert key.startswith("gpk_") and len(key) == len(keys["catraca-rota"])
        assert prefix == key[: rules.KIOSK_KEY_PREFIX_LENGTH] and digest == sha256_hex(key)
        posted = client.post("/aluno/checkin", json={"aluno_id": aluno}, headers={"X-API-Key": key})
        assert posted.status_code < 300, posted.text


def _claims(uid: int, username: str, **overrides) -> dict:
    now = datetime.now(UTC)
    claims = {
        "sub": username,
        "uid": uid,
        "role": "admin",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "aud": JWT_AUDIENCE,
        "iss": JWT_ISSUER,
    }
    return {**claims, **overrides}


@pytest.fixture
def refused_headers(settings, users, ids, db) -> dict[str, dict[str, str]]:
    secret = settings.signing_secret
    admin = (users["admin"], "admin.teste")
    disabled = db.execute(
        "insert into usuarios (username, role, senha_hash, ativo) "
        "values ('admin.desligado', 'admin', 'x', false) returning id"
    ).fetchone()[0]
    analyst_token = create_access_token(
        settings, user_id=users["analista"], username="analista.teste", role="analista"
    )
    head, _, signature = analyst_token.split(".")
    says_admin = {
        name: int(value.timestamp()) if isinstance(value, datetime) else value
        for name, value in _claims(users["analista"], "analista.teste").items()
    }
    forged_body = jwt.utils.base64url_encode(json.dumps(says_admin).encode()).decode()
    revoked_key = "gpk_" + uuid.uuid4().hex
    db.execute(
        "insert into dispositivos (nome, chave_prefixo, chave_hash, revogado_em) "
        "values ('catraca-revogada', 'gpk_rev', %s, now())",
        (sha256_hex(revoked_key),),
    )
    past = datetime.now(UTC) - timedelta(hours=1)
    tokens = {
        "expired": jwt.encode(
            _claims(*admin, iat=past, exp=past + timedelta(minutes=5)), secret, "HS256"
        ),
        # The analyst's signature over a body that says admin.
        "tampered": f"{head}.{forged_body}.{signature}",
        "alg-none": jwt.encode(_claims(*admin), None, algorithm="none"),
        "refresh-as-access": ids["refresh"],
        "default-secret": jwt.encode(_claims(*admin), DEV_JWT_SECRET, "HS256"),
        "ten-year": jwt.encode(
            _claims(*admin, exp=datetime.now(UTC) + timedelta(days=3650)), secret, "HS256"
        ),
        "ghost-user": create_access_token(
            settings, user_id=999_999, username="ninguem", role="admin"
        ),
        "disabled-user": create_access_token(
            settings, user_id=disabled, username="admin.desligado", role="admin"
        ),
    }
    headers = {name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()}
    headers["revoked-key"] = {"X-API-Key": revoked_key}
    return headers


@pytest.mark.parametrize("caller", REFUSED_CALLERS)
@pytest.mark.parametrize(
    "method, path",
    [route for route in ROUTES if ALLOWED.get(route) != PUBLIC],
    ids=[f"{m} {p}" for m, p in ROUTES if ALLOWED.get((m, p)) != PUBLIC],
)
def test_forged_expired_and_revoked_credentials_open_nothing(
    client, refused_headers, ids, method, path, caller
):
    response = client.request(**_request(method, path, ids), headers=refused_headers[caller])

    assert response.status_code == 401, response.text


def test_a_demoted_admin_token_acts_with_the_stored_role(client, settings, db, ids):
    """The token says admin; the user is an analyst now: reads work, administration does not."""
    demoted = db.execute(
        "insert into usuarios (username, role, senha_hash) values ('ex.admin', 'analista', 'x') "
        "returning id"
    ).fetchone()[0]
    token = create_access_token(settings, user_id=demoted, username="ex.admin", role="admin")
    bearer = {"Authorization": f"Bearer {token}"}

    assert client.get("/relatorios", headers=bearer).status_code == 200
    assert client.get("/auth/usuarios", headers=bearer).status_code == 403
