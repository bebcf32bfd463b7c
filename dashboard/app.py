"""Entry point (`gympulse dashboard` → `streamlit run dashboard/app.py`): the login form, then
the pages the user's role may open (dashboard/access.py)."""

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from dashboard import auth
from dashboard.access import pages_for
from dashboard.data.api import ApiError, ApiUnavailable
from dashboard.data.sql import DataUnavailable

st.set_page_config(page_title="gympulse", page_icon=":material/fitness_center:", layout="wide")


def login_page() -> None:
    st.title("gympulse")
    st.caption("Frequência e risco de evasão da academia")
    if message := auth.flash():
        st.warning(message)
    with st.form("login"):
        username = st.text_input("Usuário", key="login_username")
        password = st.text_input("Senha", type="password", key="login_password")
        submitted = st.form_submit_button("Entrar", type="primary")
    if not submitted:
        return
    if not username or not password:
        st.error("Informe usuário e senha.")
        return
    try:
        auth.log_in(username, password)
    except ApiUnavailable:
        st.error("A API não respondeu: não é possível entrar agora. Tente de novo em instantes.")
        return
    except ApiError as exc:
        st.error(
            "Usuário ou senha incorretos."
            if exc.status == 401
            else f"Não foi possível entrar: {exc}"
        )
        return
    st.rerun()


def navigation(user: auth.User | None) -> StreamlitPage:
    if user is None:
        return st.navigation(
            [st.Page(login_page, title="Entrar", url_path="entrar")], position="hidden"
        )
    sections: dict[str, list[StreamlitPage]] = {}
    for i, spec in enumerate(pages_for(user.role)):
        sections.setdefault(spec.section, []).append(
            st.Page(
                spec.file, title=spec.title, icon=spec.icon, url_path=spec.url_path, default=i == 0
            )
        )
    return st.navigation(sections)


auth.keep_fresh()
user = auth.current()
selected = navigation(user)
if user is not None:
    st.sidebar.caption(f"{user.username} · {user.role}")
    # A callback, so the session is gone before any page of the next run reads it.
    st.sidebar.button(
        "Sair", key="sair", icon=":material/logout:", on_click=auth.log_out, args=("Você saiu.",)
    )
try:
    selected.run()
except auth.SessionExpired:
    auth.log_out(auth.EXPIRED_MESSAGE)
    st.rerun()
except DataUnavailable as exc:
    st.error(str(exc))
