"""Security headers on every answer (issue 10, item 9): no sniffing, no framing, no referrer,
nothing stored by a cache, a Content-Security-Policy per page that still lets Swagger UI and the
daily report work in a real browser; and CORS closed unless origins are configured."""

import base64
import hashlib
import re
import uuid
from collections.abc import Iterator
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, ConsoleMessage, sync_playwright
from sqlalchemy import create_engine

from serving.api.headers import API_POLICY, REPORT_POLICY
from serving.api.main import create_app
from serving.config import Settings
from serving.reports import generate_daily_report
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.serving.api_process import ApiProcess, api_fixture  # noqa: F401 (the fixture `api`)
from tests.support import PASSWORD

EVERY_ANSWER = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
TZ = ZoneInfo("America/Sao_Paulo")
DIA = date(2026, 1, 15)
LISTED = "https://painel.academia.example"
UNLISTED = "https://evil.example"


def assert_hardened(response, policy: str = API_POLICY) -> None:
    for name, value in EVERY_ANSWER.items():
        assert response.headers.get(name) == value, (name, response.request.url)
    assert response.headers["content-security-policy"] == policy
    assert response.headers["cache-control"] == "no-store"


def test_every_kind_of_answer_carries_the_headers(client, headers, member):
    answers = [
        client.get("/health"),
        client.get("/alunos", headers=headers["analista"]),
        client.get("/alunos"),  # 401 from the route
        client.get("/nowhere"),  # 404
        client.post("/aluno/checkin", json={"aluno_id": "1"}, headers=headers["kiosk"]),  # 422
        client.post("/aluno/checkin", content=b" " * 70_000, headers=headers["kiosk"]),  # 413
        client.post("/aluno/checkin/lote", content=b" " * 70_000),  # 401 before reading
        client.get("/openapi.json"),
    ]

    assert [a.status_code for a in answers] == [200, 200, 401, 404, 422, 413, 401, 200]
    for answer in answers:
        assert_hardened(answer)


def test_an_unexpected_error_is_answered_with_the_headers_too(settings, db, rabbit, cache):
    app = create_app(settings)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("injected")

    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/boom")

    assert answer.status_code == 500
    assert_hardened(answer)


def test_token_answers_are_never_stored(client, users):
    login = client.post("/auth/token", data={"username": "admin.teste", "password": PASSWORD})
    refresh = client.post("/auth/refresh", json={"refresh_token": login.json()["refresh_token"]})

    assert login.status_code == 200 and refresh.status_code == 200
    assert_hardened(login)
    assert_hardened(refresh)


def test_the_packaged_swagger_assets_may_be_cached(client):
    asset = client.get("/static/swagger-ui/swagger-ui-bundle.js")

    assert asset.status_code == 200
    assert "cache-control" not in asset.headers
    assert asset.headers["x-content-type-options"] == "nosniff"


def _inline_script_hashes(html: str) -> set[str]:
    return {
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    }


@pytest.mark.parametrize("path", ["/docs", "/docs/oauth2-redirect"])
def test_the_swagger_pages_allow_only_their_own_scripts(client, path):
    page = client.get(path)

    policy = dict(
        directive.strip().split(" ", 1)
        for directive in page.headers["content-security-policy"].split(";")
    )
    scripts = policy["script-src"].split()
    hashes = _inline_script_hashes(page.text)
    assert hashes and set(scripts) == {"'self'", *hashes}
    assert "'unsafe-inline'" not in page.headers["content-security-policy"]
    assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert page.headers["x-frame-options"] == "DENY"


# --- CORS ------------------------------------------------------------------------------------


def _preflight(client: TestClient, origin: str):
    return client.options(
        "/aluno/checkin",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key, content-type",
        },
    )


def test_cors_is_closed_by_default(client):
    preflight = _preflight(client, LISTED)
    simple = client.get("/health", headers={"Origin": LISTED})

    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in simple.headers


@pytest.fixture
def cors_client(settings, db, rabbit, cache) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update={"cors_origins": [LISTED]}))) as client:
        yield client


def test_configured_origins_and_only_those_may_call_from_a_browser(cors_client, headers):
    allowed = _preflight(cors_client, LISTED)
    refused = _preflight(cors_client, UNLISTED)
    simple = cors_client.get("/alunos", headers={"Origin": LISTED, **headers["analista"]})
    other = cors_client.get("/alunos", headers={"Origin": UNLISTED, **headers["analista"]})

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == LISTED
    assert {"x-api-key", "content-type"} <= set(
        allowed.headers["access-control-allow-headers"].lower().replace(" ", "").split(",")
    )
    assert "access-control-allow-credentials" not in allowed.headers  # tokens, not cookies
    assert "access-control-allow-origin" not in refused.headers
    assert simple.headers["access-control-allow-origin"] == LISTED
    assert "access-control-allow-origin" not in other.headers
    assert_hardened(simple)


def test_cors_origins_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("CORS_ORIGINS", f'["{LISTED}"]')

    assert Settings().cors_origins == [LISTED]


# --- in a real browser -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def _open(browser: Browser, url: str, extra_headers: dict[str, str] | None = None):
    """The page at `url`, with what the browser said about it: console messages (a refused
    script, style or request is reported there) and every response it loaded."""
    context = browser.new_context(extra_http_headers=extra_headers or {})
    page = context.new_page()
    console: list[str] = []
    loaded: list[tuple[int, str]] = []

    def on_console(message: ConsoleMessage) -> None:
        console.append(f"{message.type}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    page.on("response", lambda response: loaded.append((response.status, response.url)))
    response = page.goto(url)
    return context, page, response, console, loaded


def _violations(console: list[str]) -> list[str]:
    return [line for line in console if "Content Security Policy" in line or "pageerror" in line]


@pytest.mark.slow
@pytest.mark.e2e
def test_swagger_ui_runs_under_its_policy_in_a_browser(api: ApiProcess, browser: Browser, db):
    context, page, response, console, loaded = _open(browser, f"{api.url}/docs")
    try:
        # Drawn by SwaggerUIBundle, which the page's inline script calls: both scripts ran.
        root = page.locator("#swagger-ui > .swagger-ui")
        root.wait_for(timeout=30_000)
        page.wait_for_load_state("networkidle")
        # The stylesheet applied: Swagger's font, not the browser's default serif.
        font = root.evaluate("element => getComputedStyle(element).fontFamily")
    finally:
        context.close()

    assert response is not None and response.status == 200
    assert "sans-serif" in font
    assert not _violations(console), console
    # Its assets and the spec (fetched by the script: connect-src), all from the API itself.
    assert {url.removeprefix(api.url) for _, url in loaded} >= {
        "/docs",
        "/openapi.json",
        "/static/swagger-ui/swagger-ui-bundle.js",
        "/static/swagger-ui/swagger-ui.css",
    }
    assert all(status == 200 and url.startswith(api.url) for status, url in loaded), loaded


@pytest.mark.slow
@pytest.mark.e2e
def test_swagger_ui_shows_the_operations(api: ApiProcess, browser: Browser, db):
    context, page, _, _, _ = _open(browser, f"{api.url}/docs")
    try:
        page.locator("#swagger-ui > .swagger-ui").wait_for(timeout=30_000)
        page.wait_for_load_state("networkidle")
        operations = page.locator(".opblock").count()
    finally:
        context.close()

    assert operations >= 30


@pytest.mark.slow
@pytest.mark.e2e
def test_the_daily_report_page_is_styled_under_its_policy_in_a_browser(
    api: ApiProcess, browser: Browser, settings, headers, make_member, db
):
    member = make_member(nome="Ana Lima")
    for tipo, hour in (("entrada", 7), ("saida", 8)):
        db.execute(
            "insert into checkins (checkin_id, aluno_id, tipo, ocorrido_em) values (%s, %s, %s, %s)",
            (uuid.uuid4(), member, tipo, datetime.combine(DIA, time(hour), TZ)),
        )
    engine = create_engine(settings.database_url)
    try:
        generate_daily_report(engine, DIA, tz=TZ, warehouse_schema="sem_warehouse")
    finally:
        engine.dispose()

    url = f"{api.url}/relatorios/{DIA.isoformat()}/html"
    context, page, response, console, _ = _open(browser, url, headers["admin"])
    try:
        page.locator(".barras .barra").first.wait_for(timeout=30_000)
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        bar_width = page.locator(".barras .barra").first.evaluate(
            "element => element.getBoundingClientRect().width"
        )
    finally:
        context.close()

    assert response is not None and response.status == 200
    assert response.headers["content-security-policy"] == REPORT_POLICY
    assert background == "rgb(245, 247, 250)"  # the page's <style>
    assert bar_width > 100  # a style attribute: the plan's bar, 100 % of its track
    assert not _violations(console), console
