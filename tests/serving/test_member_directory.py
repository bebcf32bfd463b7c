"""Check-ins validate members from an in-process directory; a status change made in one API
process must reach the others at once (Redis channel) or within the refresh interval."""

import uuid

from fastapi.testclient import TestClient

from serving.api.main import create_app
from serving.members import REFRESH_SECONDS
from tests.support import wait_until


def _checkin(client, headers, member):
    return client.post(
        "/aluno/checkin",
        json={"aluno_id": member, "checkin_id": str(uuid.uuid4())},
        headers=headers["kiosk"],
    )


def test_deactivation_in_one_process_is_refused_by_another_at_once(
    client, headers, member, settings
):
    with TestClient(create_app(settings)) as other_process:
        assert _checkin(other_process, headers, member).status_code == 202  # now cached there
        assert (
            client.patch(f"/aluno/{member}/desativar", headers=headers["recepcao"]).status_code
            == 200
        )

        assert wait_until(
            lambda: _checkin(other_process, headers, member).status_code == 409, timeout=2
        )
        client.patch(f"/aluno/{member}/ativar", headers=headers["admin"])
        assert wait_until(
            lambda: _checkin(other_process, headers, member).status_code == 202, timeout=2
        )


def test_a_change_made_outside_the_api_is_seen_within_the_refresh_interval(
    client, headers, member, db
):
    assert _checkin(client, headers, member).status_code == 202
    db.execute("update alunos set ativo = false, atualizado_em = now() where id = %s", (member,))

    assert wait_until(
        lambda: _checkin(client, headers, member).status_code == 409,
        timeout=REFRESH_SECONDS * 2 + 1,
        interval=0.5,
    )


def test_a_member_registered_a_moment_ago_can_check_in(client, headers, plan_id):
    created = client.post(
        "/aluno/registro",
        json={"nome": "Nova Aluna", "email": "nova@example.com", "plano_id": plan_id},
        headers=headers["recepcao"],
    )
    assert _checkin(client, headers, created.json()["id"]).status_code == 202
