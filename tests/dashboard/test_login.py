"""Logging in, what each role is offered, and what happens when a token lapses."""

import time
from dataclasses import replace

import pytest

from dashboard.access import PAGES
from dashboard.auth import EXPIRED_MESSAGE, SESSION_KEY
from tests.dashboard.conftest import APP, ROLES, api_down
from tests.support import PASSWORD

ANALYSIS = ["Visão geral", "Risco de churn", "Aluno", "Frequência", "Coortes", "Modelo"]


def test_login_with_the_right_password_opens_the_first_page_of_the_role(gym, open_app):
    at = open_app()
    assert at.title[0].value == "gympulse"
    at.text_input(key="login_username").set_value("analista.painel")
    at.text_input(key="login_password").set_value(PASSWORD)
    at.button[0].click().run()

    assert not at.exception
    assert at.session_state[SESSION_KEY].role == "analista"
    assert at.title[0].value == "Visão geral"


def test_a_wrong_password_says_so_and_keeps_the_form(gym, open_app):
    at = open_app()
    at.text_input(key="login_username").set_value("analista.painel")
    at.text_input(key="login_password").set_value("not-the-password")
    at.button[0].click().run()

    assert not at.exception
    assert "Usuário ou senha incorretos." in [e.value for e in at.error]
    assert SESSION_KEY not in at.session_state


def test_with_the_api_down_the_login_form_says_why(gym, open_app, monkeypatch):
    api_down(monkeypatch)
    at = open_app()
    at.text_input(key="login_username").set_value("analista.painel")
    at.text_input(key="login_password").set_value(PASSWORD)
    at.button[0].click().run()

    assert not at.exception
    assert any("A API não respondeu" in e.value for e in at.error)


def _used_refresh_tokens(gym) -> int:
    return gym.conn.execute(
        "select count(*) from refresh_tokens where usado_em is not null"
    ).fetchone()[0]


def test_an_access_token_about_to_expire_is_refreshed_before_the_page_runs(gym, open_app):
    used = _used_refresh_tokens(gym)
    at = open_app("analista", tokens=lambda t: replace(t, expires_at=time.time() + 5))

    assert not at.exception
    fresh = at.session_state[SESSION_KEY]
    assert fresh.tokens.expires_at > time.time() + 600
    assert _used_refresh_tokens(gym) == used + 1  # the API rotated the refresh token
    assert at.title[0].value == "Visão geral"


def test_a_refused_refresh_returns_to_the_login_form_with_the_reason(gym, open_app):
    at = open_app(
        "analista",
        tokens=lambda t: replace(
            t, expires_at=time.time(), refresh_token="never-issued-" + "x" * 32
        ),
    )

    assert not at.exception
    assert SESSION_KEY not in at.session_state
    assert at.title[0].value == "gympulse"
    assert EXPIRED_MESSAGE in [w.value for w in at.warning]


def nav_titles(at) -> list[str]:
    """The pages `st.navigation` offers this session (AppTest keeps no public list of them)."""
    return [page["page_name"] for page in at._registered_pages.values()]


@pytest.mark.parametrize(
    ("role", "offered"),
    [
        ("admin", [*ANALYSIS, "Recepção", "Operações"]),
        ("analista", [*ANALYSIS]),
        ("recepcao", ["Aluno", "Recepção"]),
    ],
)
def test_the_navigation_offers_each_role_its_pages(gym, open_app, role, offered):
    at = open_app(role)

    assert not at.exception
    assert nav_titles(at) == offered


@pytest.mark.parametrize(
    ("role", "page"),
    [(role, page) for page in PAGES for role in ROLES if role not in page.roles],
    ids=lambda value: getattr(value, "url_path", value),
)
def test_a_page_refuses_a_role_the_navigation_does_not_offer_it(gym, open_app, role, page):
    """Not in the navigation (above), and the page itself refuses when reached anyway: AppTest
    cannot open a URL the navigation does not register, so the page script runs on its own."""
    at = open_app(role, app=APP.parent / page.file)

    assert not at.exception
    assert [e.value for e in at.error] == [
        f"O perfil '{role}' não tem acesso à página {page.title}."
    ]
    assert not at.button  # no action is even drawn
    assert not at.dataframe and not at.metric  # nor any data


def test_log_out_forgets_the_session_and_shows_the_login_form(gym, open_app):
    at = open_app("analista")
    at.sidebar.button(key="sair").click().run()

    assert not at.exception
    assert SESSION_KEY not in at.session_state
    assert "Você saiu." in [w.value for w in at.warning]
    assert not at.metric  # nothing of the page it was on
