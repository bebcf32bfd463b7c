"""`gympulse demo` (what `make demo` runs): a gym on a fresh machine, end to end.

Migrates, creates the admin from the environment, starts the API and the check-in consumer,
simulates a gym's year (imported through the history import, its last days replayed through the
API and the queue), registers members and a kiosk through the API and posts today's check-ins
as the kiosk, waits until every accepted check-in is in PostgreSQL, runs the churn pipeline
(dbt build of visits, attendance, cohorts and churn features; train, register in MLflow,
promote, score every member, daily report), scores a synthetic student on demand, has
the job worker produce a report from the queue, then keeps serving with the MLflow and Prefect
UIs and the dashboard.
"""

import os
import random
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
from rich.console import Console
from rich.progress import Progress
from sqlalchemy import func, select, text

from flows.demo import churn as churn_demo
from serving.config import Settings
from serving.db.engine import session_scope
from serving.db.migrate import upgrade
from serving.db.tables import Checkin
from serving.simulator import FIRST, LAST
from serving.users import upsert_admin

console = Console()
REPLAY_DAYS = 3
WALK_INS = 10


def _spawn(args: list[str], log_name: str) -> subprocess.Popen:
    os.makedirs("var/log", exist_ok=True)
    log = open(f"var/log/{log_name}.log", "ab")  # noqa: SIM115 - lives as long as the child
    return subprocess.Popen(
        [sys.executable, "-m", "flows.cli", *args], stdout=log, stderr=subprocess.STDOUT
    )


def _wait_healthy(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the API exited at startup: see var/log/api.log")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("the API did not answer within 30 s: see var/log/api.log")


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


def _active_members(client: httpx.Client) -> list[int]:
    ids, page = [], 1
    while True:
        body = client.get("/alunos", params={"ativo": True, "page": page, "page_size": 200})
        data = body.raise_for_status().json()["data"]
        ids += [member["id"] for member in data]
        if len(data) < 200:
            return ids
        page += 1


def _todays_visits(member_ids: list[int], checkins: int, rng: random.Random) -> list[dict]:
    """One visit today for each of some members: an entry since opening, an exit about an hour
    later when that is already past."""
    now = datetime.now(UTC)
    opening = now.replace(hour=9, minute=0, second=0, microsecond=0)  # 06:00 in São Paulo
    if opening > now:
        opening -= timedelta(days=1)
    events = []
    for aluno in rng.sample(member_ids, min(len(member_ids), checkins // 2 + 1)):
        start = opening + (now - opening) * rng.random()
        events.append(
            {
                "checkin_id": str(uuid.uuid4()),
                "aluno_id": aluno,
                "tipo": "entrada",
                "ocorrido_em": start.isoformat(),
            }
        )
        end = start + timedelta(minutes=max(20, rng.gauss(62, 15)))
        if end < now:
            events.append(
                {
                    "checkin_id": str(uuid.uuid4()),
                    "aluno_id": aluno,
                    "tipo": "saida",
                    "ocorrido_em": end.isoformat(),
                }
            )
    return events[:checkins]


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


def _simulate(settings: Settings, members: int, url: str) -> None:
    from serving.simulator import simulate_gym

    # A simulated year ends now; a second run would simulate a slightly different year (other
    # members cancelled, other visits) over the first and replay visits of members the first
    # one cancelled. The gym a database already holds is kept; today's check-ins are added.
    loaded = _simulated_members(settings.database_url)
    if loaded:
        console.print(
            f"✔ simulated gym already loaded ({loaded:,} members): kept "
            "(drop the database to simulate a new one)"
        )
        return
    result = simulate_gym(
        members=members,
        months=12,
        seed=SEED,
        replay_days=REPLAY_DAYS,
        database_url=settings.database_url,
        gym_timezone=settings.gym_timezone,
        redis_url=settings.redis_url,
        api_url=url,
        progress=True,
        log=lambda line: console.print(f"  {line}"),
    )
    console.print(
        f"✔ simulated gym: {result.summary.members} members over 12 months, "
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


def _front_desk(url: str, headers: dict[str, str], rng: random.Random) -> tuple[list, str]:
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


def _post_as_kiosk(settings: Settings, url: str, key: str, events: list[dict]) -> bool:
    """Today's check-ins posted one by one as the kiosk (progress bar); True when every one
    answered 202 is in PostgreSQL within a minute."""
    accepted = []
    refused: Counter[str] = Counter()
    with (
        httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=10) as kiosk_client,
        Progress(console=console) as progress,
    ):
        task = progress.add_task("posting today's check-ins as the kiosk", total=len(events))
        for event in events:
            response = kiosk_client.post("/aluno/checkin", json=event)
            if response.status_code == 202:
                accepted.append(event["checkin_id"])
            else:
                refused[f"{response.status_code} {response.json().get('detail')}"] += 1
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
        console.print("[red]✘ some accepted check-ins did not land: see var/log/worker.log")
    return stored == len(accepted)


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


def _stop(children: list[subprocess.Popen]) -> None:
    for child in children:
        child.terminate()
    for child in children:
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()


def run_demo(settings: Settings, *, members: int, checkins: int, port: int, serve: bool) -> int:
    rng = random.Random(SEED)
    console.rule("[bold]gympulse demo")
    upgrade(settings.database_url)
    console.print("✔ database migrated")
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

    url = f"http://127.0.0.1:{port}"
    children = [
        _spawn(["api", "--port", str(port)], "api"),
        _spawn(["worker", "checkins"], "worker"),
    ]
    if serve:  # the UIs start now: the Prefect server takes a while
        children += churn_demo.start_uis(settings)
    try:
        _wait_healthy(url, children[0])
        console.print(f"✔ API up at {url}; check-in consumer running")
        _simulate(settings, members, url)
        token = httpx.post(f"{url}/auth/token", data={"username": username, "password": password})
        token.raise_for_status()
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        active, key = _front_desk(url, headers, rng)
        events = _todays_visits(active, checkins, rng)
        if not _post_as_kiosk(settings, url, key, events):
            return 1
        _show_attendance(url, headers, events[0]["aluno_id"])
        prefect_up = serve and churn_demo.wait_for_prefect(console)
        # The pipeline's first step is the dbt build (models, unit and data tests).
        if not churn_demo.run_pipeline(console):
            return 1
        _describe_warehouse(settings)
        children += churn_demo.start_workers(serve_flows=prefect_up)
        with httpx.Client(base_url=url, headers=headers, timeout=60) as admin:
            churn_demo.show_on_demand_score(admin, console)
            churn_demo.request_report(admin, console)
        _print_running(settings, url, login, key, serve=serve, prefect_up=prefect_up)
        if serve:
            console.print("Press Ctrl-C to stop.")
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
        return 0
    finally:
        _stop(children)
