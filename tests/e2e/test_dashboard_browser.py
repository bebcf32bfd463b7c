"""An analyst's path through the dashboard in a real browser: log in, read the overview, filter
the risk list to the high tier, open the riskiest member, and the screenshots the README shows.

`st.dataframe` draws on a canvas (its cells are not in the DOM): rows are asserted in the
AppTest tests (tests/dashboard); here, what the page prints around the table."""

import os
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Stack, wait_for_app_run
from tests.support import PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
# The README's screenshots are refreshed on request (GYMPULSE_UPDATE_SCREENSHOTS=1), so a test
# run leaves the working tree as it found it; otherwise they go to var/ (git-ignored).
SCREENSHOTS = (
    REPO / "docs" / "screenshots"
    if os.environ.get("GYMPULSE_UPDATE_SCREENSHOTS") == "1"
    else REPO / "var" / "screenshots"
)
# Saved only when they show something.
OPTIONAL_PAGES = {"Frequência": "frequencia", "Coortes": "coortes", "Modelo": "modelo"}
CONTENT = ("stDataFrame", "stVegaLiteChart", "stMetric", "stPlotlyChart")
# The header row and the first data row of glide-data-grid (st.dataframe's default heights),
# and the selection column left of the first data column.
GRID_HEADER_PX, GRID_ROW_PX, GRID_CHECKBOX_X = 35, 35, 15


def _screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def _log_in(page: Page, url: str, username: str) -> None:
    page.goto(url)
    wait_for_app_run(page)
    inputs = page.get_by_test_id("stTextInput").locator("input")
    inputs.nth(0).fill(username)
    inputs.nth(1).fill(PASSWORD)
    page.get_by_test_id("stBaseButton-primaryFormSubmit").click()
    wait_for_app_run(page)


def _open(page: Page, title: str) -> None:
    page.get_by_test_id("stSidebarNavLink").filter(has_text=title).click()
    wait_for_app_run(page)
    expect(page.get_by_test_id("stHeading").first).to_contain_text(title)


def _no_exception(page: Page) -> None:
    expect(page.get_by_test_id("stException")).to_have_count(0)


def _riskiest_high(stack: Stack) -> tuple[int, str]:
    """The first row of the list filtered to "alto", from the database the list is read from."""
    row = stack.gym.conn.execute(
        "select aluno_id, nome from alunos_em_risco(%s) "
        "where not sintetico and faixa_risco = 'alto' "
        "order by probabilidade desc, aluno_id limit 1",
        (stack.gym.settings.gym_timezone,),
    ).fetchone()
    assert row is not None, "the simulated gym has no member in the high tier"
    return row[0], row[1]


def test_an_analyst_filters_the_risk_list_and_opens_the_riskiest_member(
    stack: Stack, page: Page, browser, record_property
) -> None:
    record_property("browser_version", browser.version)
    print(f"chromium {browser.version}")
    _log_in(page, stack.dashboard_url, "analista.painel")
    expect(page.get_by_test_id("stHeading").first).to_contain_text("Visão geral")
    expect(page.get_by_test_id("stMetric").filter(has_text="Alunos ativos")).to_be_visible()
    _no_exception(page)
    _screenshot(page, "visao_geral")

    _open(page, "Risco de churn")
    _no_exception(page)
    expect(page.get_by_test_id("stDataFrame")).to_be_visible()
    # The filters sit in a popover: drawn only once it is opened.
    expect(page.get_by_test_id("stMultiSelect")).to_have_count(0)
    page.get_by_test_id("stPopoverButton").filter(has_text="Filtros").click()
    tier_filter = page.get_by_test_id("stMultiSelect").first
    tier_filter.click()
    page.get_by_role("option", name="alto", exact=True).click()
    page.keyboard.press("Escape")  # the options
    wait_for_app_run(page)
    expect(tier_filter).to_contain_text("alto")
    page.keyboard.press("Escape")  # the popover
    wait_for_app_run(page)
    expect(page.get_by_test_id("stMultiSelect")).to_have_count(0)
    # Closed, the filter still holds, in the URL too, and the caption says it is set.
    assert parse_qs(urlparse(page.url).query).get("faixa") == ["alto"], page.url
    expect(page.get_by_test_id("stCaptionContainer").last).to_contain_text("(faixa: alto)")
    _screenshot(page, "risco")

    aluno_id, nome = _riskiest_high(stack)
    grid = page.get_by_test_id("stDataFrame")
    grid.click(position={"x": GRID_CHECKBOX_X, "y": GRID_HEADER_PX + GRID_ROW_PX // 2})
    wait_for_app_run(page)
    expect(page.get_by_test_id("stHeading").first).to_contain_text("Aluno")
    assert parse_qs(urlparse(page.url).query).get("aluno") == [str(aluno_id)], page.url
    expect(page.get_by_test_id("stHeading").filter(has_text=nome)).to_be_visible()
    _no_exception(page)
    _screenshot(page, "aluno")

    for title, name in OPTIONAL_PAGES.items():
        _open(page, title)
        rendered = any(page.get_by_test_id(kind).count() for kind in CONTENT)
        if rendered and not page.get_by_test_id("stException").count():
            _screenshot(page, name)
