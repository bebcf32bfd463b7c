"""`gympulse demo` (what `make demo` runs): a gym on a fresh machine, end to end.

Migrates, creates the admin from the environment, starts the API and the check-in consumer,
registers plans, members and a kiosk through the API, posts check-ins as the kiosk, waits until
every accepted check-in is in PostgreSQL, shows one member's attendance, then keeps serving.
"""

import os
import random
import secrets
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from rich.console import Console
from rich.progress import Progress
from sqlalchemy import func, select

from serving.config import Settings
from serving.db.engine import session_scope
from serving.db.migrate import upgrade
from serving.db.tables import Checkin
from serving.users import upsert_admin

console = Console()
PLANS = [
    {"nome": "Mensal", "valor_mensal": "129.90", "duracao_meses": 1},
    {"nome": "Trimestral", "valor_mensal": "109.90", "duracao_meses": 3},
    {"nome": "Anual", "valor_mensal": "89.90", "duracao_meses": 12},
]
FIRST = [
    "Ana",
    "Bruno",
    "Carla",
    "Diego",
    "Elisa",
    "Fábio",
    "Gabriela",
    "Heitor",
    "Isabela",
    "João",
    "Karina",
    "Lucas",
    "Marina",
    "Nicolas",
    "Olívia",
    "Pedro",
    "Renata",
    "Sérgio",
    "Tatiane",
    "Vitor",
]
LAST = [
    "Silva",
    "Souza",
    "Oliveira",
    "Santos",
    "Pereira",
    "Lima",
    "Costa",
    "Ferreira",
    "Almeida",
    "Ribeiro",
]


def _spawn(args: list[str], log_name: str) -> subprocess.Popen:
    os.makedirs("var/log", exist_ok=True)
    log = open(f"var/log/{log_name}.log", "ab")  # noqa: SIM115 - lives as long as the child
    return subprocess.Popen(
        [sys.executable, "-m", "serving.cli", *args], stdout=log, stderr=subprocess.STDOUT
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
    existing = {p["nome"]: p["id"] for p in client.get("/planos").raise_for_status().json()}
    plan_ids = []
    for plan in PLANS:
        if plan["nome"] not in existing:
            existing[plan["nome"]] = (
                client.post("/planos", json=plan).raise_for_status().json()["id"]
            )
        plan_ids.append(existing[plan["nome"]])
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


def _visits(member_ids: list[int], checkins: int, rng: random.Random) -> list[dict]:
    """Entry/exit pairs over the last four weeks, at plausible hours."""
    now = datetime.now(UTC)
    events = []
    while len(events) < checkins:
        start = now - timedelta(days=rng.uniform(0.2, 27), hours=0)
        start = start.replace(hour=rng.choice([9, 10, 11, 12, 20, 21, 22, 23]))
        aluno = rng.choice(member_ids)
        events.append(
            {
                "checkin_id": str(uuid.uuid4()),
                "aluno_id": aluno,
                "tipo": "entrada",
                "ocorrido_em": start.isoformat(),
            }
        )
        end = start + timedelta(minutes=rng.gauss(65, 15))
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


def _stored(ids: list[str]) -> int:
    with session_scope() as session:
        return session.scalar(
            select(func.count()).select_from(Checkin).where(Checkin.checkin_id.in_(ids))
        )


def run_demo(settings: Settings, *, members: int, checkins: int, port: int, serve: bool) -> int:
    rng = random.Random(42)
    console.rule("[bold]gympulse demo")
    upgrade(settings.database_url)
    console.print("✔ database migrated")
    username, password, generated = _admin_credentials(settings)
    upsert_admin(username, password, settings.admin_email)
    console.print(
        f"✔ admin '{username}' ready" + (" (password generated below)" if generated else "")
    )

    url = f"http://127.0.0.1:{port}"
    children = [
        _spawn(["api", "--port", str(port)], "api"),
        _spawn(["worker", "checkins"], "worker"),
    ]
    try:
        _wait_healthy(url, children[0])
        console.print(f"✔ API up at {url}; check-in consumer running")
        token = httpx.post(f"{url}/auth/token", data={"username": username, "password": password})
        token.raise_for_status()
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as admin:
            member_ids = _seed(admin, members, rng)
            console.print(f"✔ {len(PLANS)} plans and {len(member_ids)} members registered")
            kiosk = admin.post(
                "/admin/dispositivos",
                json={"nome": f"demo-kiosk-{uuid.uuid4().hex[:6]}", "local": "Entrada"},
            )
            key = kiosk.raise_for_status().json()["api_key"]
        events = _visits(member_ids, checkins, rng)
        accepted = []
        with (
            httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=10) as kiosk_client,
            Progress(console=console) as progress,
        ):
            task = progress.add_task("posting check-ins as the kiosk", total=len(events))
            for event in events:
                response = kiosk_client.post("/aluno/checkin", json=event)
                if response.status_code == 202:
                    accepted.append(event["checkin_id"])
                progress.advance(task)
        deadline = time.monotonic() + 60
        while (stored := _stored(accepted)) < len(accepted) and time.monotonic() < deadline:
            time.sleep(0.5)
        console.print(f"✔ {len(accepted)} check-ins accepted (202), {stored} in PostgreSQL")
        if stored != len(accepted):
            console.print("[red]✘ some accepted check-ins did not land: see var/log/worker.log")
            return 1
        with httpx.Client(base_url=url, headers=headers) as admin:
            freq = admin.get(f"/aluno/{member_ids[0]}/frequencia").raise_for_status().json()
        console.print(
            f"  member {member_ids[0]}: {freq['total_visitas']} visits in 90 days, "
            f"{freq['frequencia_semanal']}/week, average {freq['duracao_media_minutos']} min"
        )
        console.rule("[bold green]running")
        console.print(f"API            {url}   (docs: {url}/docs)")
        console.print("Consumer       gympulse worker checkins (log: var/log/worker.log)")
        console.print(
            f"Admin login    {username}"
            + (f" / {password}" if generated else " (password from GYMPULSE_ADMIN_PASSWORD)")
        )
        console.print(f"Kiosk API key  {key}")
        if not serve:
            return 0
        console.print("Press Ctrl-C to stop.")
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
        return 0
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
