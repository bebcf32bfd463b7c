"""The whole stack in a real browser: one simulated gym (warehouse, champion, every member
scored), the API and `gympulse dashboard` as subprocesses, and Debian's chromium driven by
Playwright. Nothing is downloaded: `make browser` installs the apt package.

Tests here must not request the `db` or `client` fixtures: they empty the app tables."""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.churn_support import (
    AS_OF,
    BASE_SCHEMA,
    build_warehouse,
    churn_environment,
    connect,
    drop_schema,
    free_port,
    simulate,
    wait_for,
)
from tests.dashboard.conftest import Gym, _champion_scores, _staff

SCHEMA = f"{BASE_SCHEMA}_e2e"
MODEL = "churn-e2e"
CHROMIUM = "/usr/bin/chromium"
# Debian's chromium offline: no component updates, sync, QUIC or first-run probes (each would
# try the network and stall or log refused connections).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1440, "height": 1000}


@dataclass
class Stack:
    gym: Gym
    dashboard_url: str


def _answers(url: str, expected: str | None = None) -> bool:
    try:
        answer = httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return False
    return answer.status_code == 200 and (expected is None or answer.text == expected)


class Server:
    """A CLI command in its own process, logging to a file (a pipe nobody reads would fill up)."""

    def __init__(self, args: list[str], log_path: Path, env: dict[str, str]) -> None:
        self.log_path = log_path
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flows.cli", *args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_until(self, url: str, expected: str | None, what: str) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                pytest.fail(f"{what} exited at startup:\n{self.log_path.read_text()[-3000:]}")
            return _answers(url, expected)

        wait_for(ready, 90, what=f"{what} (log: {self.log_path})")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="package")
def stack(settings, tmp_path_factory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("e2e")
    with churn_environment(tmp, schema=SCHEMA, model_name=MODEL) as churn:
        drop_schema(churn, SCHEMA)
        simulate(churn)
        build_warehouse(churn, AS_OF)
        redis.Redis.from_url(churn.redis_url).flushdb()
        _champion_scores(churn)
        api_port, dashboard_port = free_port(), free_port()
        api_url = f"http://127.0.0.1:{api_port}"
        env = {**os.environ, "API_URL": api_url}
        api = Server(["api", "--port", str(api_port)], tmp / "api.log", env)
        dashboard = Server(["dashboard", "--port", str(dashboard_port)], tmp / "dashboard.log", env)
        try:
            api.wait_until(f"{api_url}/health", None, "the API")
            dashboard_url = f"http://127.0.0.1:{dashboard_port}"
            dashboard.wait_until(f"{dashboard_url}/_stcore/health", "ok", "the dashboard")
            with connect(churn) as conn:
                _staff(conn)
                yield Stack(Gym(churn, conn, api_url), dashboard_url)
        finally:
            dashboard.stop()
            api.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not shutil.which("chromium") and not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: run `make browser`")
    with sync_playwright() as playwright:
        # launch() gives the browser a new, empty user-data-dir of its own every time.
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT, locale="pt-BR")
    try:
        yield context.new_page()
    finally:
        context.close()


def wait_for_app_run(page: Page, timeout: float = 60_000) -> None:
    """As Streamlit's own e2e suite waits (never on "network idle": the websocket stays open):
    past the widget debounce, connected, the script done, no skeleton left."""
    page.wait_for_timeout(210)
    app = page.get_by_test_id("stApp")
    expect(app).to_have_attribute("data-test-connection-state", "CONNECTED", timeout=timeout)
    expect(app).to_have_attribute("data-test-script-state", "notRunning", timeout=timeout)
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=timeout)
    page.wait_for_timeout(100)
