"""A signed token is not enough (issue 10, items 1 and 6): the secret is never a published one,
the token's lifetime is what the API issues, and its user must exist, be active and act with its
current role, so removing a right takes effect within seconds."""

import os
import stat
import subprocess
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta

import jwt
import psycopg
import pytest

from serving.api import deps
from serving.config import DEV_JWT_SECRET, REPO_ROOT, Settings
from serving.security import JWT_AUDIENCE, JWT_ISSUER, create_access_token


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _token(secret: str, *, uid: int, sub: str, role: str = "admin", **times) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": sub,
        "uid": uid,
        "role": role,
        "iat": times.get("iat", now),
        "exp": times.get("exp", now + timedelta(minutes=5)),
        "aud": JWT_AUDIENCE,
        "iss": JWT_ISSUER,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def _quick_revocation(client, seconds: float = 0.3) -> float:
    client.app.state.staff_accounts.ttl = seconds
    return seconds + 0.1


# --- the secret ------------------------------------------------------------------------------


def test_an_unset_secret_is_generated_once_owner_only_and_reused(tmp_path):
    first = Settings(environment="development", jwt_secret=None, secrets_dir=tmp_path / "s")
    secret = first.signing_secret

    again = Settings(environment="development", jwt_secret=None, secrets_dir=tmp_path / "s")
    stored = tmp_path / "s" / "jwt_secret"
    assert len(secret) >= 32 and secret != DEV_JWT_SECRET
    assert again.signing_secret == secret
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600


def _secret_in_a_new_process(directory: str) -> str:
    return Settings(
        environment="development", jwt_secret=None, secrets_dir=directory
    ).signing_secret


def test_processes_starting_together_end_with_one_secret(tmp_path):
    with ProcessPoolExecutor(max_workers=4) as pool:
        secrets = set(pool.map(_secret_in_a_new_process, [str(tmp_path)] * 8))
    assert len(secrets) == 1


def test_a_token_signed_with_the_published_secret_is_refused(client, users):
    forged = _token(DEV_JWT_SECRET, uid=users["admin"], sub="admin.teste")

    response = client.get("/auth/usuarios", headers=_bearer(forged))

    assert response.status_code == 401


def test_the_api_refuses_to_start_in_development_with_the_published_secret():
    result = subprocess.run(
        [sys.executable, "-m", "flows.cli", "api", "--port", "18734"],
        env={**os.environ, "ENVIRONMENT": "development", "JWT_SECRET": DEV_JWT_SECRET},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )

    assert result.returncode == 2
    assert "JWT_SECRET" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


# --- the token's lifetime --------------------------------------------------------------------


def test_a_ten_year_token_with_the_right_secret_is_refused(client, settings, users):
    now = datetime.now(UTC)
    long_lived = _token(
        settings.signing_secret,
        uid=users["admin"],
        sub="admin.teste",
        iat=now,
        exp=now + timedelta(days=3650),
    )

    assert client.get("/auth/usuarios", headers=_bearer(long_lived)).status_code == 401


def test_a_token_issued_in_the_future_is_refused(client, settings, users):
    later = datetime.now(UTC) + timedelta(hours=1)
    token = _token(
        settings.signing_secret,
        uid=users["admin"],
        sub="admin.teste",
        iat=later,
        exp=later + timedelta(minutes=5),
    )

    assert client.get("/auth/usuarios", headers=_bearer(token)).status_code == 401


# --- the token's user ------------------------------------------------------------------------


def test_a_token_for_a_user_that_does_not_exist_opens_nothing(client, settings, users, member):
    ghost = create_access_token(settings, user_id=999_999, username="ghost", role="admin")

    listing = client.get("/auth/usuarios", headers=_bearer(ghost))
    checkin = client.post(
        "/aluno/checkin",
        json={"aluno_id": member, "checkin_id": str(uuid.uuid4())},
        headers=_bearer(ghost),
    )

    assert listing.status_code == 401
    assert checkin.status_code == 401


def test_a_token_whose_name_does_not_match_its_user_id_is_refused(client, settings, users):
    """An admin's id under another name: the token was not issued by this API."""
    token = create_access_token(
        settings, user_id=users["admin"], username="recepcao.teste", role="admin"
    )

    assert client.get("/auth/usuarios", headers=_bearer(token)).status_code == 401


def test_a_disabled_user_loses_access_within_the_revocation_period(client, headers, users):
    wait = _quick_revocation(client)
    analyst = headers["analista"]
    assert client.get("/relatorios", headers=analyst).status_code == 200

    disabled = client.patch(
        f"/auth/usuarios/{users['analista']}", json={"ativo": False}, headers=headers["admin"]
    )
    time.sleep(wait)

    assert disabled.status_code == 200
    assert client.get("/relatorios", headers=analyst).status_code == 401


def test_a_demoted_admin_acts_with_the_new_role(client, headers, users, db):
    wait = _quick_revocation(client)
    second_admin = db.execute(
        "insert into usuarios (username, role, senha_hash) values ('admin.dois', 'admin', 'x') "
        "returning id"
    ).fetchone()[0]
    token = _bearer(
        create_access_token(
            client.app.state.settings, user_id=second_admin, username="admin.dois", role="admin"
        )
    )
    assert client.get("/auth/usuarios", headers=token).status_code == 200

    demoted = client.patch(
        f"/auth/usuarios/{second_admin}", json={"role": "analista"}, headers=headers["admin"]
    )
    time.sleep(wait)

    assert demoted.status_code == 200
    assert client.get("/auth/usuarios", headers=token).status_code == 403
    assert client.get("/relatorios", headers=token).status_code == 200


def test_a_repeated_request_asks_the_database_once_per_period(client, headers, monkeypatch):
    lookups = []
    real_lookup = deps.lookup_staff

    async def counting_lookup(pool, user_id):
        lookups.append(user_id)
        return await real_lookup(pool, user_id)

    monkeypatch.setattr(deps, "lookup_staff", counting_lookup)

    for _ in range(20):
        assert client.get("/relatorios", headers=headers["analista"]).status_code == 200

    assert len(lookups) == 1


def test_with_postgresql_down_a_known_user_keeps_working_and_an_unknown_one_gets_503(
    client, headers, monkeypatch
):
    wait = _quick_revocation(client, 0.1)
    assert client.get("/auth/usuarios", headers=headers["admin"]).status_code == 200
    time.sleep(wait)

    async def database_down(pool, user_id):
        raise psycopg.OperationalError("connection refused")

    monkeypatch.setattr(deps, "lookup_staff", database_down)
    known = client.get("/auth/usuarios", headers=headers["admin"])
    unknown = client.get("/relatorios", headers=headers["analista"])

    assert known.status_code == 200
    assert unknown.status_code == 503
    assert unknown.headers["Retry-After"]


@pytest.mark.parametrize("role", ["admin", "analista", "recepcao"])
def test_login_tokens_still_open_what_the_role_may(client, users, role):
    from tests.support import PASSWORD

    login = client.post("/auth/token", data={"username": f"{role}.teste", "password": PASSWORD})
    token = _bearer(login.json()["access_token"])

    assert client.get("/alunos", headers=token).status_code == 200
    assert client.get("/auth/usuarios", headers=token).status_code == (
        200 if role == "admin" else 403
    )
