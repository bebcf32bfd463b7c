"""`gympulse demo` (what `make demo` runs): a gym on a fresh machine, end to end.

Migrates, creates the admin from the environment, starts the API and the check-in consumer,
simulates a gym's year (imported through the history import, its last days replayed through the
API and the queue), registers members and a kiosk through the API and posts today's check-ins
as the kiosk, waits until every accepted check-in is in PostgreSQL, runs the churn pipeline
(dbt build of visits, attendance, cohorts and churn features; train, register in MLflow,
promote, score every member, daily report), scores a synthetic student on demand, has
the job worker produce a report from the queue, then keeps serving with the MLflow and Prefect
UIs and the dashboard.

Running it again adds nothing twice. The simulated gym is a pure function of its parameters and
the day (its year ends at the start of the gym-local day) and is simulated only into a database
that does not hold it yet; the kiosk posts the days after the latest stored check-in
(flows/demo/traffic.py), so a second run the same day posts nothing and a run the next day posts
that day. A failure is one line and an exit code (flows/demo/failures.py).
"""

import random
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import Progress
from sqlalchemy import func, select, text

from flows.demo import churn as churn_demo
from flows.demo import traffic
from flows.demo.failures import DemoFailed, api_refusal, report_failure
from serving.config import REPO_ROOT, Settings
from serving.db.engine import session_scope
from serving.db.migrate import upgrade
from serving.db.tables import Checkin
from serving.simulator import FIRST, LAST
from serving.users import upsert_admin

console = Console()
errors = Console(stderr=True)
REPLAY_DAYS = 3
WALK_INS = 10
LOG_DIR = REPO_ROOT / "var" / "log"


def _spawn(args: list[str], log_name: str, log_dir: Path) -> subprocess.Popen:
    log_dir.mkdir(parents=True, exist_ok=True)
    log = (log_dir / f"{log_name}.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "flows.cli", *args], stdout=log, stderr=subprocess.STDOUT
    )


def _wait_healthy(url: str, process: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DemoFailed(
                f"the API exited at startup: see {log} (is the port taken? --port picks another)"
            )
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise DemoFailed(f"the API did not answer within {timeout:.0f} s: see {log}")


def _admin_credentials(settings: Settings) -> tuple[str, str, bool]:
    if settings.admin_username and settings.admin_password:
        return settings.admin_username, settings.admin_password.get_secret_value(), False
    return settings.admin_username or "admin", secrets.token_urlsafe(12), True


def _seed(client: httpx.Client, members: int, rng: random.Random) -> list[int]:
    plan_ids = [plan["id"] for plan in client.get("/planos").raise_for_status().json()]
    ids = []
    for i in range(members):
        email = f"demo.aluno{i:04d}@gympulse.dev"
        found = client.get("/alunos", params={"q": email}).raise_for_status().json()["data"]
        if found:
            ids.append(found[0]["id"])
            continue
        body = {
            "nome": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            "email": email,
            "plano_id": rng.choice(plan_ids),
            "telefone": f"+55 11 9{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
        }
        ids.append(client.post("/aluno/registro", json=body).raise_for_status().json()["id"])
    return ids


def _active_members(client: httpx.Client) -> list[traffic.Member]:
    """The members the stored data says are active: the only ones the kiosk posts for."""
    members, page = [], 1
    while True:
        body = client.get("/alunos", params={"ativo": True, "page": page, "page_size": 200})
        data = body.raise_for_status().json()["data"]
        members += [
            traffic.Member(m["id"], datetime.fromisoformat(m["data_matricula"])) for m in data
        ]
        if len(data) < 200:
            return members
        page += 1


def _latest_checkin(database_url: str) -> datetime | None:
    with session_scope(database_url) as session:
        return session.scalar(select(func.max(Checkin.ocorrido_em)))


def _kiosk_events(
    settings: Settings, members: list[traffic.Member], per_day: int, now: datetime
) -> list[traffic.KioskEvent]:
    """The check-ins of the days after the latest stored one, up to now: whole days for the
    days the demo did not run, today until now; at most `per_day` a day. Empty when today's
    were posted by an earlier run."""
    zone = settings.tz
    latest = _latest_checkin(settings.database_url)
    days = traffic.days_to_post(latest, now, zone)
    if not days:
        when = latest.astimezone(zone).strftime("%H:%M") if latest else "?"
        console.print(
            f"✔ today's kiosk check-ins were posted by an earlier run (latest at {when}): "
            "nothing new to post"
        )
        return []
    events = []
    for day in days:
        until = min(now, traffic.day_start(day + timedelta(days=1), zone))
        events += traffic.day_events(SEED, day, members, until=until, limit=per_day, zone=zone)
    first, last = days[0], days[-1]
    span = "today" if len(days) == 1 else f"{len(days)} days since the last run ({first} to {last})"
    console.print(
        f"✔ {len(events)} kiosk check-ins to post for {span}, until "
        f"{now.astimezone(zone):%H:%M} (gym opens at {traffic.OPENING:%H:%M})"
    )
    return events


def _stored(database_url: str, ids: list[str]) -> int:
    with session_scope(database_url) as session:
        stored = session.scalar(
            select(func.count()).select_from(Checkin).where(Checkin.checkin_id.in_(ids))
        )
        return stored or 0


SEED = 42


def _simulated_members(database_url: str) -> int:
    with session_scope(database_url) as session:
        loaded = session.scalar(
            text("select count(*) from alunos where aluno_ref like :prefix"),
            {"prefix": f"SIM{SEED}-%"},
        )
        return loaded or 0


def _simulate(settings: Settings, members: int, url: str, now: datetime) -> None:
    """The gym's year, imported and its last days replayed, unless the database holds it."""
    from serving.simulator import simulate_gym

    # A database that holds the gym keeps it: simulating again on another day would draw
    # another gym under the same member references. The kiosk adds the days since.
    loaded = _simulated_members(settings.database_url)
    if loaded:
        note = f"; --members {members} applies to a new gym" if loaded != members else ""
        console.print(
            f"✔ simulated gym already loaded ({loaded:,} members): kept "
            f"(drop the database to simulate a new one{note})"
        )
        return
    # Its year ends at the start of today (gym time): the same gym whatever the hour, and
    # today's visits come from the kiosk only.
    end = traffic.day_start(now.astimezone(settings.tz).date(), settings.tz)
    result = simulate_gym(
        members=members,
        months=12,
        seed=SEED,
        replay_days=REPLAY_DAYS,
        database_url=settings.database_url,
        gym_timezone=settings.gym_timezone,
        redis_url=settings.redis_url,
        api_url=url,
        end=end,
        progress=True,
        log=lambda line: console.print(f"  {line}"),
    )
    if (result.replay_stored or 0) < result.replay_accepted:
        raise DemoFailed(
            f"{result.replay_accepted - (result.replay_stored or 0)} replayed check-ins did not "
            "reach PostgreSQL: see var/log/worker.log, then run the demo again (it keeps the gym)"
        )
    console.print(
        f"✔ simulated gym: {result.summary.members} members over the 12 months before today, "
        f"{result.summary.cancelled} cancellations; last {REPLAY_DAYS} days replayed through "
        f"the API ({result.replay_accepted} events accepted)"
    )


def _describe_warehouse(settings: Settings) -> None:
    """What the pipeline's dbt build made."""
    schema = settings.dbt_schema
    with session_scope(settings.database_url) as session:
        rows = session.execute(
            text(
                f"select (select count(*) from {schema}.int_visits where evento = 'visita'),"
                f" (select count(*) from {schema}.churn_features),"
                f" (select count(*) from {schema}.churn_features where is_scoring_row),"
                f" (select avg(churn_30d) from {schema}.churn_features where churn_30d is not null)"
            )
        ).one()
    console.print(
        f"  warehouse: {rows[0]:,} visits; churn_features {rows[1]:,} rows "
        f"({rows[2]:,} members to score today; {float(rows[3] or 0):.1%} of labelled rows churn "
        "within 30 days)"
    )


def _front_desk(
    url: str, headers: dict[str, str], rng: random.Random
) -> tuple[list[traffic.Member], str]:
    """Walk-ins registered at the front desk and a kiosk: the active members and its key."""
    with httpx.Client(base_url=url, headers=headers, timeout=30) as admin:
        member_ids = _seed(admin, WALK_INS, rng)
        console.print(f"✔ {len(member_ids)} walk-in members registered at the front desk")
        active = _active_members(admin)
        kiosk = admin.post(
            "/admin/dispositivos",
            json={"nome": f"demo-kiosk-{uuid.uuid4().hex[:6]}", "local": "Entrada"},
        )
        return active, kiosk.raise_for_status().json()["api_key"]


def _post_as_kiosk(
    settings: Settings, url: str, key: str, events: list[traffic.KioskEvent]
) -> None:
    """The check-ins posted one by one as the kiosk (progress bar), in time order; fails
    unless every one answered 202 is in PostgreSQL within a minute."""
    accepted = []
    refused: Counter[str] = Counter()
    with (
        httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=10) as kiosk_client,
        Progress(console=console) as progress,
    ):
        task = progress.add_task("posting check-ins as the kiosk", total=len(events))
        for event in events:
            response = kiosk_client.post("/aluno/checkin", json=event.body())
            if response.status_code == 202:
                accepted.append(str(event.checkin_id))
            else:
                refused[api_refusal(response)] += 1
            progress.advance(task)
    deadline = time.monotonic() + 60
    stored = _stored(settings.database_url, accepted)
    while stored < len(accepted) and time.monotonic() < deadline:
        time.sleep(0.5)
        stored = _stored(settings.database_url, accepted)
    console.print(f"✔ {len(accepted)} check-ins accepted (202), {stored} in PostgreSQL")
    for reason, count in refused.items():
        console.print(f"  {count} refused: {reason}")
    if stored != len(accepted):
        raise DemoFailed(
            f"{len(accepted) - stored} accepted check-ins did not reach PostgreSQL within 60 s: "
            "see var/log/worker.log, then run the demo again (retries keep their checkin_id)"
        )


def _show_attendance(url: str, headers: dict[str, str], aluno_id: int) -> None:
    with httpx.Client(base_url=url, headers=headers) as admin:
        freq = admin.get(f"/aluno/{aluno_id}/frequencia").raise_for_status().json()
    console.print(
        f"  member {aluno_id}: {freq['total_visitas']} visits in 90 days, "
        f"{freq['frequencia_semanal']}/week, average {freq['duracao_media_minutos']} min"
    )


def _print_running(
    settings: Settings, url: str, login: str, key: str, *, serve: bool, prefect_up: bool
) -> None:
    console.rule("[bold green]running")
    console.print(f"API            {url}   (docs: {url}/docs)")
    console.print("Consumers      gympulse worker checkins / jobs (logs: var/log/)")
    if serve:
        console.print(f"MLflow UI      http://127.0.0.1:{churn_demo.MLFLOW_PORT}")
        console.print(
            f"Prefect UI     http://127.0.0.1:{churn_demo.PREFECT_PORT}"
            + ("   (nightly and weekly schedules served)" if prefect_up else "")
        )
        console.print(
            f"Dashboard      http://127.0.0.1:{settings.dashboard_port}   (login {login})",
            highlight=False,
        )
        if not churn_demo.dashboard_up(settings):
            console.print("[yellow]! the dashboard does not answer: see var/log/dashboard.log")
    console.print(f"Admin login    {login}")
    console.print(f"Kiosk API key  {key}")


def wait_for_stop() -> None:
    """Until Ctrl-C or SIGTERM. Python runs a signal's handler in the main thread whichever
    thread the kernel handed the signal to; `signal.sigwait` did not (SIGTERM killed the demo
    and left its servers running, and Ctrl-C could be taken by another thread while the main
    one waited on)."""
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda _sig, _frame: stop.set())
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stop(children: list[subprocess.Popen]) -> None:
    for child in children:
        child.terminate()
    for child in children:
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()


@dataclass
class _Steps:
    """What the demo is doing, named in its one line if it fails."""

    current: str = "starting"

    def start(self, name: str) -> None:
        self.current = name


def run_demo(
    settings: Settings,
    *,
    members: int,
    checkins: int,
    port: int,
    serve: bool,
    churn: bool = True,
    now: datetime | None = None,
    log_dir: Path = LOG_DIR,
) -> int:
    """The demo; returns its exit code (flows/cli/errors.py). A failure is one line saying
    which step failed and what to do, never a traceback (that goes to demo.log).

    `churn=False` stops after the check-ins (no pipeline, report or UIs); `now` is the demo's
    clock (the gym's day and the kiosk's "until"), the real time when not given."""
    steps = _Steps()
    children: list[subprocess.Popen] = []
    try:
        login = _prepare(settings, steps)
        url = f"http://127.0.0.1:{port}"
        steps.start(f"starting the API on port {port} and the check-in consumer")
        children += [
            _spawn(["api", "--port", str(port)], "api", log_dir),
            _spawn(["worker", "checkins"], "worker", log_dir),
        ]
        if serve and churn:  # the UIs start now: the Prefect server takes a while
            children += churn_demo.start_uis(settings)
        _wait_healthy(url, children[0], log_dir / "api.log")
        console.print(f"✔ API up at {url}; check-in consumer running")
        headers, key = _ingest(
            settings, steps, url, login, members, checkins, now or datetime.now(UTC)
        )
        prefect_up = churn and _churn_half(settings, steps, url, headers, serve, children)
        _print_running(settings, url, login[2], key, serve=serve and churn, prefect_up=prefect_up)
        if serve:
            console.print("Press Ctrl-C to stop.")
            wait_for_stop()
        return 0
    except Exception as exc:
        # Whatever failed, the demo's last word is one line and an exit code; the traceback
        # is kept in demo.log for a developer.
        return report_failure(errors, steps.current, exc, log_dir)
    finally:
        if children:
            console.print("stopping the API, the workers, the UIs and the dashboard…")
        _stop(children)
        if children:
            console.print("✔ demo stopped (its data stays: `make demo` again picks it up)")


def _prepare(settings: Settings, steps: _Steps) -> tuple[str, str, str]:
    """Migrations, the admin and the signing secret: (username, password, login shown)."""
    console.rule("[bold]gympulse demo")
    steps.start("migrating the database")
    upgrade(settings.database_url)
    console.print("✔ database migrated")
    steps.start("creating the admin")
    username, password, generated = _admin_credentials(settings)
    upsert_admin(username, password, settings.admin_email, database_url=settings.database_url)
    console.print(
        f"✔ admin '{username}' ready" + (" (password generated below)" if generated else "")
    )
    # Created now, before the API's processes start and would race to create it.
    settings.signing_secret  # noqa: B018
    console.print(
        "✔ token signing secret "
        + (
            "from JWT_SECRET"
            if settings.jwt_secret
            else f"generated once and kept in {settings.secrets_dir / 'jwt_secret'}"
        )
    )
    login = username + (
        f" / {password}" if generated else " (password from GYMPULSE_ADMIN_PASSWORD)"
    )
    return username, password, login


def _ingest(
    settings: Settings,
    steps: _Steps,
    url: str,
    login: tuple[str, str, str],
    members: int,
    checkins: int,
    now: datetime,
) -> tuple[dict[str, str], str]:
    """The gym (simulated once), the walk-ins and the kiosk's new check-ins: (admin headers,
    kiosk key)."""
    steps.start("simulating the gym")
    _simulate(settings, members, url, now)
    steps.start("logging in as the admin")
    username, password, _ = login
    token = httpx.post(f"{url}/auth/token", data={"username": username, "password": password})
    headers = {"Authorization": f"Bearer {token.raise_for_status().json()['access_token']}"}
    steps.start("registering walk-ins and a kiosk at the front desk")
    active, key = _front_desk(url, headers, random.Random(SEED))
    steps.start("posting the kiosk's check-ins")
    events = _kiosk_events(settings, active, checkins, now)
    if events:
        _post_as_kiosk(settings, url, key, events)
        _show_attendance(url, headers, events[0].aluno_id)
    return headers, key


def _churn_half(
    settings: Settings,
    steps: _Steps,
    url: str,
    headers: dict[str, str],
    serve: bool,
    children: list[subprocess.Popen],
) -> bool:
    """The pipeline once, an on-demand score and a report job; True when the Prefect server
    serves the schedules."""
    steps.start("waiting for the Prefect server")
    prefect_up = serve and churn_demo.wait_for_prefect(console)
    flow_server = None
    if prefect_up:
        # Served before the pipeline, which then runs as the nightly deployment's flow run,
        # listed under it in the Prefect UI with its logs; the process keeps the schedules.
        steps.start("serving the flows (gympulse flows serve)")
        flow_server = churn_demo.start_flow_server()
        children.append(flow_server.process)
        churn_demo.wait_until_served(flow_server, console)
    # The pipeline's first step is the dbt build (models, unit and data tests).
    steps.start("running the churn pipeline")
    if flow_server is None:
        churn_demo.run_pipeline(console)
    else:
        churn_demo.run_served_pipeline(console, flow_server)
    _describe_warehouse(settings)
    steps.start("starting the job worker")
    children.append(churn_demo.start_job_worker())
    steps.start("scoring on demand and queueing a report")
    with httpx.Client(base_url=url, headers=headers, timeout=60) as admin:
        churn_demo.show_on_demand_score(admin, console)
        churn_demo.request_report(admin, console)
    return prefect_up
