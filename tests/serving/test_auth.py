import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from pydantic import ValidationError

from serving.config import DEV_JWT_SECRET, REPO_ROOT, Settings
from serving.security import JWT_AUDIENCE, JWT_ISSUER
from tests.support import PASSWORD, refused

CLI = [sys.executable, "-m", "flows.cli"]


def _login(client, username: str, password: str = PASSWORD):
    return client.post("/auth/token", data={"username": username, "password": password})


def _tokens(client, username: str) -> dict:
    response = _login(client, username)
    assert response.status_code == 200, response.text
    return response.json()


def _refresh(client, refresh_token: str):
    return client.post("/auth/refresh", json={"refresh_token": refresh_token})


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- POST /auth/token -----------------------------------------------------------------------


def test_login_returns_access_and_refresh_tokens_with_the_role(client, users, settings):
    response = _login(client, "analista.teste")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["role"] == "analista"
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.access_token_minutes * 60
    assert body["refresh_token"] and body["refresh_token"] != body["access_token"]
    claims = jwt.decode(
        body["access_token"],
        settings.jwt_secret.get_secret_value(),
        algorithms=["HS256"],
        audience=JWT_AUDIENCE,
    )
    assert claims["sub"] == "analista.teste" and claims["uid"] == users["analista"]


def test_the_access_token_from_login_opens_the_api(client, users):
    access = _tokens(client, "admin.teste")["access_token"]

    response = client.get("/auth/usuarios", headers=_bearer(access))

    assert response.status_code == 200
    assert {u["username"] for u in response.json()} >= {"admin.teste", "recepcao.teste"}


def test_wrong_password_is_401(client, users):
    response = _login(client, "admin.teste", "not-the-password")
    body = refused(response, 401, "credenciais_invalidas")
    assert body["detail"] == "Usuário ou senha incorretos."


def test_unknown_user_is_401_with_the_same_answer(client, users):
    response = _login(client, "ninguem.aqui")
    body = refused(response, 401, "credenciais_invalidas")
    assert body["detail"] == "Usuário ou senha incorretos."


def test_username_with_a_nul_byte_is_401_not_500(client, users):
    response = _login(client, "admin.teste\x00")
    assert response.status_code == 401


def test_disabled_user_cannot_log_in(client, users, db):
    db.execute("update usuarios set ativo = false where id = %s", (users["recepcao"],))
    response = _login(client, "recepcao.teste")
    assert response.status_code == 401


# --- POST /auth/refresh ---------------------------------------------------------------------


def test_refresh_returns_a_new_pair_that_works(client, users):
    first = _tokens(client, "recepcao.teste")

    response = _refresh(client, first["refresh_token"])

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["role"] == "recepcao"
    assert body["refresh_token"] != first["refresh_token"]
    assert client.get("/planos", headers=_bearer(body["access_token"])).status_code == 200
    assert _refresh(client, body["refresh_token"]).status_code == 200


def _past_the_grace(db, settings) -> None:
    """As if every rotation happened longer ago than the reuse grace."""
    db.execute(
        "update refresh_tokens set usado_em = usado_em - make_interval(secs => %s)",
        (settings.refresh_reuse_grace_seconds + 1,),
    )


def test_a_rotated_refresh_token_is_refused(client, users, db, settings):
    first = _tokens(client, "recepcao.teste")
    assert _refresh(client, first["refresh_token"]).status_code == 200
    _past_the_grace(db, settings)

    again = _refresh(client, first["refresh_token"])

    refused(again, 401, "refresh_token_invalido")


def test_reusing_a_used_refresh_token_revokes_the_whole_family(client, users, db, settings):
    first = _tokens(client, "recepcao.teste")
    newest = _refresh(client, first["refresh_token"]).json()["refresh_token"]
    _past_the_grace(db, settings)
    assert _refresh(client, first["refresh_token"]).status_code == 401  # replay: theft

    response = _refresh(client, newest)

    assert response.status_code == 401


def test_reuse_does_not_revoke_other_sessions_of_the_same_user(client, users, db, settings):
    stolen = _tokens(client, "recepcao.teste")
    other_device = _tokens(client, "recepcao.teste")
    _refresh(client, stolen["refresh_token"])
    _past_the_grace(db, settings)
    _refresh(client, stolen["refresh_token"])

    response = _refresh(client, other_device["refresh_token"])

    assert response.status_code == 200


def test_two_refreshes_with_one_token_at_once_both_get_a_working_pair(client, users):
    """Two tabs (or a retry after a lost answer) refresh with the same token at once: the
    user stays logged in on both, instead of the second looking like a stolen token."""
    first = _tokens(client, "recepcao.teste")

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda _: _refresh(client, first["refresh_token"]), range(2)))

    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    pairs = [a.json() for a in answers]
    assert pairs[0]["refresh_token"] != pairs[1]["refresh_token"]
    for pair in pairs:
        assert client.get("/planos", headers=_bearer(pair["access_token"])).status_code == 200
        assert _refresh(client, pair["refresh_token"]).status_code == 200


def test_a_token_reused_within_the_grace_keeps_the_family_alive(client, users):
    first = _tokens(client, "recepcao.teste")
    newest = _refresh(client, first["refresh_token"]).json()["refresh_token"]

    again = _refresh(client, first["refresh_token"])

    assert again.status_code == 200
    assert _refresh(client, newest).status_code == 200


def test_the_grace_does_not_stretch_with_each_reuse(client, users, db, settings):
    """The grace runs from the token's first rotation: reusing it within the grace does not
    buy a new one."""
    first = _tokens(client, "recepcao.teste")
    assert _refresh(client, first["refresh_token"]).status_code == 200
    assert _refresh(client, first["refresh_token"]).status_code == 200  # within the grace
    _past_the_grace(db, settings)

    assert _refresh(client, first["refresh_token"]).status_code == 401


def test_expired_refresh_token_is_401(client, users, db):
    tokens = _tokens(client, "recepcao.teste")
    db.execute("update refresh_tokens set expira_em = now() - interval '1 minute'")

    response = _refresh(client, tokens["refresh_token"])

    assert response.status_code == 401


def test_garbage_refresh_token_is_401(client, users):
    response = _refresh(client, "this-is-not-a-refresh-token-at-all")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


# --- access-token validation ------------------------------------------------------------------


def _claims(**overrides) -> dict:
    now = datetime.now(UTC)
    claims = {
        "sub": "admin.teste",
        "uid": 1,
        "role": "admin",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "aud": JWT_AUDIENCE,
        "iss": JWT_ISSUER,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _signed(settings, claims: dict) -> str:
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256")


def test_a_hand_built_token_like_ours_is_accepted(client, settings, users):
    """Control for the forged tokens below: the same builder with nothing wrong works."""
    token = _signed(settings, _claims(uid=users["admin"]))
    response = client.get("/auth/usuarios", headers=_bearer(token))
    assert response.status_code == 200


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(
            lambda s: _signed(
                s,
                _claims(
                    iat=datetime.now(UTC) - timedelta(hours=2),
                    exp=datetime.now(UTC) - timedelta(hours=1),
                ),
            ),
            id="expired",
        ),
        pytest.param(
            lambda s: jwt.encode(_claims(), "another-secret-" + "y" * 40, algorithm="HS256"),
            id="other-secret",
        ),
        pytest.param(lambda s: jwt.encode(_claims(), None, algorithm="none"), id="alg-none"),
        pytest.param(lambda s: _signed(s, _claims(exp=None)), id="no-exp"),
        pytest.param(lambda s: _signed(s, _claims(aud="another-api")), id="wrong-audience"),
        pytest.param(lambda s: _signed(s, _claims(iss="someone-else")), id="wrong-issuer"),
        pytest.param(lambda s: "not.a.jwt", id="garbage"),
    ],
)
def test_bad_access_tokens_are_401(client, settings, users, forge):
    response = client.get("/auth/usuarios", headers=_bearer(forge(settings)))

    refused(response, 401, "token_invalido")
    assert response.headers["www-authenticate"] == "Bearer"


# --- GET/POST /auth/usuarios ----------------------------------------------------------------

NEW_USER = {
    "username": "Ana.Retencao",
    "password": "uma-senha-longa-e-unica",
    "role": "analista",
    "email": "ana@academia.com.br",
    "nome": "Ana Souza",
}


def test_admin_lists_users_without_password_hashes(client, headers, users):
    response = client.get("/auth/usuarios", headers=headers["admin"])

    assert response.status_code == 200
    body = response.json()
    assert [u["id"] for u in body] == sorted(users.values())
    assert {u["role"] for u in body} == {"admin", "analista", "recepcao"}
    assert all("senha_hash" not in u and "password" not in u for u in body)


def test_only_admin_lists_users(client, headers):
    response = client.get("/auth/usuarios", headers=headers["analista"])
    assert response.status_code == 403


def test_admin_creates_a_user_who_can_log_in(client, headers):
    response = client.post("/auth/usuarios", json=NEW_USER, headers=headers["admin"])

    assert response.status_code == 201, response.text
    body = response.json()
    assert {k: body[k] for k in ("username", "role", "email", "nome", "ativo")} == {
        "username": "Ana.Retencao",
        "role": "analista",
        "email": "ana@academia.com.br",
        "nome": "Ana Souza",
        "ativo": True,
    }
    assert "password" not in body and "senha_hash" not in body
    assert _login(client, "Ana.Retencao", NEW_USER["password"]).json()["role"] == "analista"


def test_recepcao_cannot_create_users(client, headers):
    response = client.post("/auth/usuarios", json=NEW_USER, headers=headers["recepcao"])
    assert response.status_code == 403


def test_duplicate_username_is_409_whatever_the_case(client, headers):
    response = client.post(
        "/auth/usuarios", json={**NEW_USER, "username": "ADMIN.Teste"}, headers=headers["admin"]
    )
    refused(response, 409, "usuario_ja_existe")


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"password": "curta"}, id="short-password"),
        pytest.param({"role": "dono"}, id="bad-role"),
        pytest.param({"role": "kiosk"}, id="kiosk-is-not-a-staff-role"),
        pytest.param({"ativo": False}, id="extra-field"),
        pytest.param({"username": "a b"}, id="bad-username"),
        pytest.param({"email": "not-an-email"}, id="bad-email"),
        pytest.param({"nome": "Ana\x00"}, id="nul-in-name"),
    ],
)
def test_bad_new_user_is_422(client, headers, change):
    response = client.post("/auth/usuarios", json={**NEW_USER, **change}, headers=headers["admin"])

    assert refused(response, 422, "dados_invalidos")["erros"]


# --- PATCH /auth/usuarios/{id} --------------------------------------------------------------


def test_admin_changes_a_role(client, headers, users):
    response = client.patch(
        f"/auth/usuarios/{users['recepcao']}", json={"role": "analista"}, headers=headers["admin"]
    )

    assert response.status_code == 200
    assert response.json()["role"] == "analista"
    assert _login(client, "recepcao.teste").json()["role"] == "analista"


def test_disabling_a_user_stops_its_refresh_tokens(client, headers, users):
    tokens = _tokens(client, "recepcao.teste")
    disabled = client.patch(
        f"/auth/usuarios/{users['recepcao']}", json={"ativo": False}, headers=headers["admin"]
    )
    assert disabled.status_code == 200 and disabled.json()["ativo"] is False

    response = _refresh(client, tokens["refresh_token"])

    assert response.status_code == 401


def test_re_enabled_user_still_cannot_use_tokens_from_before(client, headers, users):
    tokens = _tokens(client, "recepcao.teste")
    url = f"/auth/usuarios/{users['recepcao']}"
    client.patch(url, json={"ativo": False}, headers=headers["admin"])
    client.patch(url, json={"ativo": True}, headers=headers["admin"])

    response = _refresh(client, tokens["refresh_token"])

    assert response.status_code == 401


@pytest.mark.parametrize("change", [{"ativo": False}, {"role": "analista"}])
def test_admin_cannot_disable_or_demote_themself(client, headers, users, change):
    response = client.patch(
        f"/auth/usuarios/{users['admin']}", json=change, headers=headers["admin"]
    )

    refused(response, 409, "alteracao_de_si_mesmo")


def test_admin_can_rename_themself(client, headers, users):
    response = client.patch(
        f"/auth/usuarios/{users['admin']}",
        json={"nome": "Dona da Academia"},
        headers=headers["admin"],
    )
    assert response.status_code == 200
    assert response.json()["nome"] == "Dona da Academia"
    assert response.json()["role"] == "admin"


@pytest.mark.parametrize("change", [{"role": None}, {"ativo": None}])
def test_null_role_or_state_is_422_not_a_server_error(client, headers, users, change):
    response = client.patch(
        f"/auth/usuarios/{users['recepcao']}", json=change, headers=headers["admin"]
    )
    assert response.status_code == 422


def test_patch_unknown_user_is_404(client, headers):
    response = client.patch(
        "/auth/usuarios/999999", json={"ativo": False}, headers=headers["admin"]
    )
    refused(response, 404, "usuario_nao_encontrado")


def test_only_admin_patches_users(client, headers, users):
    response = client.patch(
        f"/auth/usuarios/{users['analista']}", json={"role": "admin"}, headers=headers["analista"]
    )
    assert response.status_code == 403


# --- command line and settings ----------------------------------------------------------------


def _cli(*args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args],
        env={**os.environ, **env},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_cli_create_admin_from_env_creates_an_admin_who_can_log_in(client):
    result = _cli(
        "users",
        "create-admin",
        GYMPULSE_ADMIN_USERNAME="dona.academia",
        GYMPULSE_ADMIN_PASSWORD="senha-da-dona-123",
    )

    assert result.returncode == 0, result.stderr
    assert "admin 'dona.academia' created" in result.stdout
    response = _login(client, "dona.academia", "senha-da-dona-123")
    assert response.status_code == 200
    assert response.json()["role"] == "admin"


def test_cli_create_admin_refuses_a_short_password_without_traceback(client):
    result = _cli(
        "users",
        "create-admin",
        GYMPULSE_ADMIN_USERNAME="dona.academia",
        GYMPULSE_ADMIN_PASSWORD="curta",
    )

    assert result.returncode == 2
    assert "at least 10 characters" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert _login(client, "dona.academia", "curta").status_code == 401


@pytest.mark.parametrize("environment", ["development", "production"])
@pytest.mark.parametrize("secret", [DEV_JWT_SECRET, "short-secret"])
def test_settings_outside_tests_refuse_a_published_or_short_jwt_secret(secret, environment):
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings(environment=environment, jwt_secret=secret)


def test_production_settings_load_with_a_strong_secret():
    settings = Settings(environment="production", jwt_secret="s" * 64)
    assert settings.environment == "production"
    assert settings.signing_secret == "s" * 64


def test_api_command_in_production_with_the_default_secret_exits_2_with_a_message():
    result = _cli(
        "api", "--port", "18733", timeout=30, ENVIRONMENT="production", JWT_SECRET=DEV_JWT_SECRET
    )

    assert result.returncode == 2
    assert "JWT_SECRET" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_login_ignores_username_case_like_uniqueness_does(client, users):
    response = _login(client, "Analista.TESTE")
    assert response.status_code == 200
    assert response.json()["role"] == "analista"


# --- one password rule for the API and the CLI (serving.rules) ------------------------------


@pytest.mark.parametrize("extra", [-1, 0])
def test_password_minimum_is_the_same_for_the_api_and_the_cli(settings, client, headers, extra):
    from serving import rules
    from serving.users import UserError, upsert_admin

    password = "p" * (rules.PASSWORD_MIN + extra)
    api = client.post(
        "/auth/usuarios",
        json={"username": "nova.pessoa", "password": password, "role": "analista"},
        headers=headers["admin"],
    )
    if extra < 0:
        assert api.status_code == 422
        with pytest.raises(UserError, match=f"at least {rules.PASSWORD_MIN} characters"):
            upsert_admin("dona.academia", password, database_url=settings.database_url)
    else:
        assert api.status_code == 201, api.text
        assert upsert_admin("dona.academia", password, database_url=settings.database_url) is True
