"""Time from navigation to the rendered risk table (Risco de churn) in headless Chromium, with
100,000 scored members, against a bare Streamlit page that reads the same Redis key and shows
the same table (`bench/dashboard_baseline_app.py`).

    .venv/bin/python -m bench.dashboard_render              # 100,000 members, 15 runs each
    .venv/bin/python -m bench.dashboard_render --members 20000 --runs 5

- warm: the at-risk list is in Redis (`gp:risco:lista`, 500 items, written by
  `serving.scores.publish_risk_list` from `read_at_risk`, as after a scoring batch);
- cold: Redis has no list, so the page reads the same rows from PostgreSQL
  (`alunos_em_risco`) as the read-only role. The dashboard runs with DASHBOARD_CACHE_SECONDS=1
  and each cold run waits longer than that, so every cold run reads PostgreSQL; the warm path
  does not go through that cache.

One run: from another page of the same session (the dashboard's login lives in the session, so
a page load would log out), click "Risco de churn" in the sidebar, then wait until the table
(`[data-testid='stDataFrame']`) is visible and the script has finished
(`data-test-script-state='notRunning'`, no skeleton). Both apps are measured the same way,
interleaved run by run, after warm-up runs that are not counted.

Environment: database `gympulse_bench_dash` (dropped, migrated, filled with synthetic rows by
SQL: members, 8 entries each over the last 12 weeks, one score each), Redis database 12, the
real API (`gympulse api`, for the login) and `gympulse dashboard` as subprocesses.
"""

import argparse
import os
import socket
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import (
    REPO_ROOT,
    Service,
    configure_environment,
    ensure_services,
    exit_on_sigterm,
    machine_info,
    python_service,
    run_dir,
    table,
    write_results,
)

DATABASE = "gympulse_bench_dash"
LIBPQ_URL = f"postgresql://postgres@127.0.0.1:5432/{DATABASE}"
ANALYST, PASSWORD = "analista.bench", "bench-password-not-secret"
BASELINE_APP = REPO_ROOT / "bench" / "dashboard_baseline_app.py"
CHROMIUM = "/usr/bin/chromium"
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
# Longer than the dashboard's shared-query cache in this bench (DASHBOARD_CACHE_SECONDS=1).
COLD_PAUSE_S = 1.3
RENDERED = """([title]) => {
    const app = document.querySelector("[data-testid='stApp']");
    const grid = document.querySelector("[data-testid='stDataFrame']");
    const heading = document.querySelector("[data-testid='stHeading']");
    return app && app.dataset.testScriptState === "notRunning"
        && !document.querySelector("[data-testid='stSkeleton']")
        && grid && grid.getBoundingClientRect().height > 0
        && heading && heading.textContent.includes(title);
}"""
SETTLED = """([title]) => {
    const app = document.querySelector("[data-testid='stApp']");
    const heading = document.querySelector("[data-testid='stHeading']");
    return app && app.dataset.testConnectionState === "CONNECTED"
        && app.dataset.testScriptState === "notRunning"
        && !document.querySelector("[data-testid='stSkeleton']")
        && (title === null || (heading && heading.textContent.includes(title)));
}"""
RISK_PAGE = "Risco de churn"

FIRST = [
    "Ana",
    "Bruno",
    "Carla",
    "Diego",
    "Elisa",
    "Felipe",
    "Gabriela",
    "Heitor",
    "Isabela",
    "João",
]
LAST = [
    "Silva",
    "Souza",
    "Oliveira",
    "Santos",
    "Lima",
    "Pereira",
    "Costa",
    "Rocha",
    "Alves",
    "Gomes",
]
# Three reasons per member, in the shape `models.reasons` writes them.
REASONS_SQL = """jsonb_build_array(
    jsonb_build_object('fator', 'inatividade', 'valor', 5 + n % 40,
                       'descricao', 'sem visitas há ' || (5 + n % 40) || ' dias'),
    jsonb_build_object('fator', 'baixa_frequencia', 'valor', 1.0,
                       'descricao', '1,0 visitas por semana no último mês (quem fica faz 2,5)'),
    jsonb_build_object('fator', 'fim_contrato', 'valor', 1 + n % 30,
                       'descricao', 'contrato vence em ' || (1 + n % 30) || ' dias')
)"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- data -----------------------------------------------------------------------------------


def fill_database(members: int) -> None:
    """Members, their visits and one current score each, generated in SQL."""
    import psycopg

    from serving.security import hash_password

    name = f"(array{FIRST!r})[1 + n %% 10] || ' ' || (array{LAST!r})[1 + (n / 10) %% 10]"
    with psycopg.connect(LIBPQ_URL, autocommit=True) as conn:
        conn.execute(
            "insert into planos (nome, valor_mensal, duracao_meses) values "
            "('Mensal', 129.9, 1), ('Semestral', 109.9, 6), ('Anual', 89.9, 12)"
        )
        conn.execute(
            "insert into alunos (aluno_ref, nome, plano_id, data_matricula) "
            f"select 'BENCH-' || n, {name} || ' ' || n, (select min(id) from planos) + n %% 3, "
            "now() - make_interval(days => 1 + n %% 700) "
            "from generate_series(1, %s) as n",
            (members,),
        )
        conn.execute(
            "insert into checkins (checkin_id, aluno_id, tipo, ocorrido_em, origem) "
            "select gen_random_uuid(), a.id, 'entrada', "
            "now() - make_interval(days => cast((a.id * 7 + k * 11) % 84 as integer), hours => k), 'importacao' "
            "from alunos a cross join generate_series(1, 8) as k"
        )
        # Skewed towards low risk, as a gym is; cut points as the model's tiers usually fall.
        conn.execute(
            "insert into previsoes_churn (aluno_id, data_referencia, probabilidade, faixa_risco, "
            "modelo_nome, modelo_versao, fatores) "
            "select id, current_date, p, "
            "case when p >= 0.25 then 'alto' when p >= 0.1 then 'medio' else 'baixo' end, "
            f"'bench-dashboard', '1', {REASONS_SQL} "
            "from (select id, id as n, power(random(), 3) as p from alunos) as scored"
        )
        conn.execute(
            "insert into usuarios (username, role, senha_hash) values (%s, 'analista', %s)",
            (ANALYST, hash_password(PASSWORD)),
        )
        conn.execute("analyze")


@dataclass(frozen=True)
class _Score:
    aluno_id: int
    probabilidade: float
    faixa_risco: str
    fatores: list[dict[str, Any]]


def publish_warm_list() -> int:
    """The at-risk list and KPI summary a scoring batch leaves in Redis."""
    import redis
    import sqlalchemy as sa

    from serving.config import get_settings
    from serving.db.engine import sync_engine
    from serving.scores import kpi_summary, publish_risk_list, read_at_risk

    settings = get_settings()
    engine = sync_engine(settings.database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("select aluno_id, probabilidade, faixa_risco, fatores from previsoes_churn")
        ).all()
    scores = [_Score(r[0], r[1], r[2], r[3]) for r in rows]
    kpis = kpi_summary(
        scores,
        as_of=datetime.now(UTC).astimezone(settings.tz).date(),
        model_name="bench-dashboard",
        version="1",
        at=datetime.now(UTC),
    )
    items = read_at_risk(engine, settings.gym_timezone, settings.risk_list_size)
    publish_risk_list(
        redis.Redis.from_url(settings.redis_url), items, kpis, ttl=settings.churn_cache_seconds
    )
    return len(items)


def drop_warm_list() -> None:
    import redis

    from serving.config import get_settings
    from serving.scores import RISK_LIST_KEY

    redis.Redis.from_url(get_settings().redis_url).delete(RISK_LIST_KEY)


# --- browser --------------------------------------------------------------------------------


def _settle(page, title: str | None = None, timeout_ms: float = 60_000) -> None:
    """Until the script has finished (on the page with that title): right after a click the
    previous page still says notRunning for a moment."""
    page.wait_for_timeout(210)  # Streamlit's widget debounce, as its own e2e suite waits
    page.wait_for_function(SETTLED, arg=[title], timeout=timeout_ms, polling="raf")


def _nav(page, title: str):
    return page.get_by_test_id("stSidebarNavLink").filter(has_text=title)


def log_in(page, url: str) -> None:
    page.goto(url)
    _settle(page)
    inputs = page.get_by_test_id("stTextInput").locator("input")
    inputs.nth(0).fill(ANALYST)
    inputs.nth(1).fill(PASSWORD)
    page.get_by_test_id("stBaseButton-primaryFormSubmit").click()
    try:
        _nav(page, RISK_PAGE).wait_for(timeout=30_000)
    except Exception as exc:
        shown = " | ".join(page.get_by_test_id("stAlert").all_inner_texts()) or "no message"
        raise RuntimeError(f"the dashboard login failed: {shown}") from exc
    _settle(page)


@dataclass
class Target:
    name: str
    page: Any
    rest_page: str  # where each run starts from

    def one_run(self, before: Callable[[], None] | None, timeout_ms: float) -> float | str:
        """Seconds from the click to the rendered table, or what the page showed instead."""
        _nav(self.page, self.rest_page).click()
        _settle(self.page, self.rest_page)
        if self.page.get_by_test_id("stDataFrame").count():
            raise RuntimeError(f"{self.name}: the page a run starts from shows a table")
        if before is not None:
            before()
        started = time.perf_counter()
        _nav(self.page, RISK_PAGE).click()
        try:
            self.page.wait_for_function(
                RENDERED, arg=[RISK_PAGE], timeout=timeout_ms, polling="raf"
            )
        except Exception:
            shown = self.page.get_by_test_id("stAlert").all_inner_texts()
            shown += self.page.get_by_test_id("stException").all_inner_texts()
            return "no table: " + (" | ".join(shown) or "nothing rendered")[:300]
        return time.perf_counter() - started


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return {
        "median_s": round(statistics.median(ordered), 3),
        "p90_s": round(p90, 3),
        "min_s": round(ordered[0], 3),
        "max_s": round(ordered[-1], 3),
    }


def measure(targets: list[tuple[Target, Callable[[], None] | None]], runs: int, warmup: int):
    """Interleaved: run i of every target, then run i + 1."""
    times: dict[str, list[float]] = {t.name: [] for t, _ in targets}
    failures: dict[str, list[str]] = {t.name: [] for t, _ in targets}
    for i in range(warmup + runs):
        for target, before in targets:
            result = target.one_run(before, timeout_ms=30_000)
            if i < warmup:
                continue
            if isinstance(result, str):
                failures[target.name].append(result)
            else:
                times[target.name].append(result)
    return times, failures


# --- main -----------------------------------------------------------------------------------


def _wait_http(url: str, service: Service, expected: str | None = None, timeout: float = 90):
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not service.running():
            raise RuntimeError(f"{service.name} exited at startup:\n{service.tail()}")
        try:
            answer = httpx.get(url, timeout=2)
            if answer.status_code == 200 and (expected is None or answer.text == expected):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{service.name} did not answer within {timeout:.0f}s:\n{service.tail()}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard_render", description=__doc__)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15, help="measured runs per app and state")
    parser.add_argument("--warmup", type=int, default=2, help="runs not counted, per app")
    args = parser.parse_args()
    exit_on_sigterm()

    api_port, dashboard_port, baseline_port = _free_port(), _free_port(), _free_port()
    store = tempfile.mkdtemp(prefix="gympulse-bench-dash-mlflow-")
    env = configure_environment(
        {
            "DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{DATABASE}",
            "DASHBOARD_DATABASE_URL": (
                f"postgresql+psycopg://gympulse_dashboard@127.0.0.1:5432/{DATABASE}"
            ),
            "API_URL": f"http://127.0.0.1:{api_port}",
            "DASHBOARD_CACHE_SECONDS": "1",
            "MLFLOW_TRACKING_URI": f"sqlite:///{store}/mlflow.db",
            "MLFLOW_ARTIFACT_ROOT": f"{store}/artifacts",
            "WARM_CHAMPION": "false",
        }
    )
    import redis
    from playwright.sync_api import sync_playwright

    from flows.cli.platform import streamlit_command
    from serving.config import get_settings
    from serving.db.migrate import drop_database, upgrade

    ensure_services()
    settings = get_settings()
    started = time.monotonic()
    drop_database(settings.database_url)
    upgrade(settings.database_url)
    redis.Redis.from_url(settings.redis_url).flushdb()
    fill_database(args.members)
    listed = publish_warm_list()
    print(f"• {args.members:,} scored members in {DATABASE} ({time.monotonic() - started:.0f} s)")

    directory = run_dir("dashboard_render")
    services = [
        python_service("api", ["flows.cli", "api", "--port", str(api_port)], env, directory),
        python_service(
            "dashboard", ["flows.cli", "dashboard", "--port", str(dashboard_port)], env, directory
        ),
        Service("baseline", streamlit_command(baseline_port, BASELINE_APP), env, directory),
    ]
    try:
        for service in services:
            service.start()
        _wait_http(f"http://127.0.0.1:{api_port}/health", services[0])
        _wait_http(f"http://127.0.0.1:{dashboard_port}/_stcore/health", services[1], "ok")
        _wait_http(f"http://127.0.0.1:{baseline_port}/_stcore/health", services[2], "ok")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            viewport = {"width": 1440, "height": 1000}
            dashboard_page = browser.new_context(viewport=viewport).new_page()
            baseline_page = browser.new_context(viewport=viewport).new_page()
            log_in(dashboard_page, f"http://127.0.0.1:{dashboard_port}")
            baseline_page.goto(f"http://127.0.0.1:{baseline_port}")
            _settle(baseline_page)
            dashboard = Target("dashboard", dashboard_page, "Aluno")
            baseline = Target("baseline", baseline_page, "Início")
            print(
                f"• chromium {browser.version}; {args.runs} runs each after {args.warmup} warm-up"
            )

            warm, warm_failed = measure(
                [(dashboard, None), (baseline, None)], args.runs, args.warmup
            )

            def cold_start() -> None:
                drop_warm_list()
                time.sleep(COLD_PAUSE_S)

            cold, cold_failed = measure([(dashboard, cold_start)], args.runs, args.warmup)
            version = browser.version
            browser.close()
    finally:
        for service in reversed(services):
            service.stop()

    results: dict[str, Any] = {}
    for name, values, failed in (
        ("dashboard_warm", warm["dashboard"], warm_failed["dashboard"]),
        ("baseline_warm", warm["baseline"], warm_failed["baseline"]),
        ("dashboard_cold", cold["dashboard"], cold_failed["dashboard"]),
    ):
        results[name] = {
            **(summary(values) if values else {}),
            "runs": len(values),
            "failed": len(failed),
            "failures": sorted(set(failed)),
            "values_s": [round(v, 3) for v in values],
        }
    ratio = None
    if warm["dashboard"] and warm["baseline"]:
        ratio = round(
            results["dashboard_warm"]["median_s"] / results["baseline_warm"]["median_s"], 2
        )
    targets = {
        "warm_ratio_le_1.25": ratio is not None and ratio <= 1.25,
        "warm_median_lt_1.5s": bool(warm["dashboard"])
        and results["dashboard_warm"]["median_s"] < 1.5,
        "cold_median_lt_5s": bool(cold["dashboard"])
        and not cold_failed["dashboard"]
        and results["dashboard_cold"]["median_s"] < 5,
    }
    payload = {
        "benchmark": "dashboard_render",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "members": args.members,
        "risk_list_items": listed,
        "runs": args.runs,
        "warmup": args.warmup,
        "chromium": version,
        "results": results,
        "warm_ratio_median": ratio,
        "targets_met": targets,
        "machine": machine_info(),
    }
    path = write_results(directory, "dashboard_render", payload)
    rows = [("state", "runs", "failed", "median s", "p90 s", "min s", "max s")]
    for name, result in results.items():
        rows.append(
            (
                name,
                str(result["runs"]),
                str(result["failed"]),
                *(
                    f"{result[k]:.3f}" if k in result else "—"
                    for k in ("median_s", "p90_s", "min_s", "max_s")
                ),
            )
        )
    print(table(rows))
    print(f"warm ratio (median dashboard / median baseline): {ratio}")
    for name, met in targets.items():
        print(f"  {name}: {'met' if met else 'MISSED'}")
    for name, result in results.items():
        for failure in result["failures"]:
            print(f"  {name} failed: {failure}")
    print(f"results: {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return 0 if all(targets.values()) else 1


if __name__ == "__main__":
    os.chdir(REPO_ROOT)
    raise SystemExit(main())
