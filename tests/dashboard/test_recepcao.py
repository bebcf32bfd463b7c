"""Recepção as the front desk uses it: find a member, register an entry through the API, see
today's check-ins."""

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.auth import SESSION_KEY, User
from dashboard.data.api import Tokens
from tests.dashboard.conftest import APP
from tests.support import Worker, wait_until

PAGE = "pages/recepcao.py"


def _member(gym, offset: int) -> tuple[int, str]:
    """An active, non-synthetic member without check-ins today (the simulated gym ended long
    ago), away from the ones other tests of the package use."""
    return gym.conn.execute(
        "select id, nome from alunos where ativo and coalesce(aluno_ref, '') not like 'SINT-%%' "
        "order by id offset %s limit 1",
        (offset,),
    ).fetchone()


def test_the_front_desk_finds_a_member_by_name_and_registers_an_entry(gym, open_app):
    aluno_id, nome = _member(gym, 20)
    at = open_app("recepcao", page=PAGE)
    at.text_input(key="recepcao_busca").set_value(nome.split()[0]).run()
    at.selectbox(key="recepcao_aluno").set_value(aluno_id).run()

    assert not at.exception
    assert at.header[0].value == f"{nome} · #{aluno_id}"
    assert "Nenhum check-in hoje." in [i.value for i in at.info]
    at.button(key="acao_entrada").click().run()

    assert not at.exception
    assert any(s.value.startswith("Entrada registrada") for s in at.success)
    worker = Worker().start()
    try:
        landed = wait_until(
            lambda: (
                gym.conn.execute(
                    "select count(*) from checkins where aluno_id = %s and ocorrido_em > now() - "
                    "interval '5 minutes' and origem = 'manual' and tipo = 'entrada'",
                    (aluno_id,),
                ).fetchone()[0]
                == 1
            ),
            timeout=60,
        )
    finally:
        worker.stop()
    assert landed, "the entry the API accepted is written to PostgreSQL"

    at.run()
    today = at.dataframe[0].value
    assert today[["tipo", "origem"]].values.tolist() == [["entrada", "manual"]]


def test_a_member_is_found_by_id(gym, open_app):
    aluno_id, nome = _member(gym, 21)
    at = open_app("recepcao", page=PAGE)
    at.text_input(key="recepcao_busca").set_value(str(aluno_id)).run()

    assert not at.exception
    assert at.header[0].value == f"{nome} · #{aluno_id}"
    assert not at.button(key="acao_entrada").disabled


def test_an_unknown_name_or_id_says_so(gym, open_app):
    at = open_app("recepcao", page=PAGE)
    at.text_input(key="recepcao_busca").set_value("Ninguém Com Este Nome Xyz").run()
    assert "Nenhum aluno com esse nome." in [i.value for i in at.info]

    at.text_input(key="recepcao_busca").set_value("999999999").run()
    assert not at.exception
    assert "Não há aluno com o ID 999999999." in [e.value for e in at.error]


def test_an_inactive_member_cannot_check_in_but_can_be_reactivated(gym, open_app):
    aluno_id = gym.conn.execute(
        "select id from alunos where not ativo order by id limit 1"
    ).fetchone()[0]
    at = open_app("recepcao", page=PAGE)
    at.text_input(key="recepcao_busca").set_value(str(aluno_id)).run()

    assert not at.exception
    assert at.button(key="acao_entrada").disabled
    assert at.button(key="acao_status").label == "Reativar aluno"


def test_deactivating_goes_through_the_api_and_the_page_shows_the_new_state(gym, open_app):
    aluno_id, _ = _member(gym, 30)
    at = open_app("recepcao", page=PAGE)
    at.text_input(key="recepcao_busca").set_value(str(aluno_id)).run()
    at.text_input(key="acao_motivo").set_value("mudou de cidade").run()
    try:
        at.button(key="acao_status").click().run()

        assert not at.exception
        assert [s.value for s in at.success] == ["Aluno desativado."]
        # drawn from the new state, not the one read before the click
        assert at.button(key="acao_status").label == "Reativar aluno"
        assert at.button(key="acao_entrada").disabled
        ativo, motivo, quem = gym.conn.execute(
            "select a.ativo, h.motivo, h.registrado_por from alunos a "
            "join alunos_status_historico h on h.aluno_id = a.id "
            "where a.id = %s order by h.ocorrido_em desc limit 1",
            (aluno_id,),
        ).fetchone()
        assert (ativo, motivo, quem) == (False, "mudou de cidade", "recepcao.painel")
    finally:
        at.button(key="acao_status").click().run()  # reactivated: other tests use the member
    assert gym.conn.execute("select ativo from alunos where id = %s", (aluno_id,)).fetchone() == (
        True,
    )


def test_the_analyst_is_refused(gym):
    at = AppTest.from_file(str(APP.parent / PAGE), default_timeout=60)
    at.session_state[SESSION_KEY] = User(
        "analista.painel", Tokens.from_answer(gym.token("analista"))
    )
    at.run()

    assert not at.exception
    assert [e.value for e in at.error] == ["O perfil 'analista' não tem acesso à página Recepção."]


@pytest.mark.parametrize("role", ["admin", "recepcao"])
def test_admin_and_front_desk_are_offered_the_page(gym, open_app, role):
    at = open_app(role, page=PAGE)
    assert not at.exception
    assert at.title[0].value == "Recepção"
