"""Plumbing shared by the benchmarks: an isolated environment, subprocesses that are always torn
down, PostgreSQL probes, the load generator and CPU accounting per component.

Isolation: database `gympulse_bench`, RabbitMQ vhost `gympulse_bench`, Redis database 12. All
traffic goes to 127.0.0.1.
"""

import contextlib
import json
import os
import platform
import pwd
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "bench" / "results"
LUA_SCRIPT = Path(__file__).resolve().parent / "checkin.lua"

BENCH_DATABASE = "gympulse_bench"
BENCH_VHOST = "gympulse_bench"
BENCH_REDIS_DB = 12
BENCH_ENV = {
    "ENVIRONMENT": "development",
    "DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{BENCH_DATABASE}",
    "RABBITMQ_URL": f"amqp://guest:guest@127.0.0.1:5672/{BENCH_VHOST}",
    "REDIS_URL": f"redis://127.0.0.1:6379/{BENCH_REDIS_DB}",
    "JWT_SECRET": "bench-only-secret-" + "x" * 40,
}
LIBPQ_URL = f"postgresql://postgres@127.0.0.1:5432/{BENCH_DATABASE}"
KIOSK_NAME = "bench-kiosk"
TICKS = os.sysconf("SC_CLK_TCK")


# --- environment --------------------------------------------------------------------------


def configure_environment(overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Point this process (and return the environment for children) at the bench services.
    Must run before anything reads `serving.config.get_settings()`."""
    os.environ.update(BENCH_ENV)
    os.environ.update(overrides or {})
    for name in ("GYMPULSE_ADMIN_USERNAME", "GYMPULSE_ADMIN_PASSWORD", "GYMPULSE_ADMIN_EMAIL"):
        os.environ.pop(name, None)
    from serving.config import get_settings

    get_settings.cache_clear()
    return dict(os.environ)


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit (and make sure SIGINT raises KeyboardInterrupt, even when
    started in the background), so `finally` blocks stop the subprocesses."""

    def handler(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def ensure_services() -> None:
    if not (_port_open(5432) and _port_open(5672) and _port_open(6379)):
        subprocess.run(["bash", "scripts/services.sh"], check=True, cwd=REPO_ROOT)


def free_port(port: int) -> int:
    if _port_open(port):
        raise SystemExit(f"port {port} on 127.0.0.1 is taken: pass another one")
    return port


@dataclass(frozen=True)
class Seed:
    member_first: int
    member_last: int
    api_key: str

    @property
    def members(self) -> int:
        return self.member_last - self.member_first + 1


def prepare_environment(members: int) -> Seed:
    """Fresh database (migrated), vhost with the topology, empty Redis db; N active members and
    one kiosk key."""
    import psycopg
    import redis

    from serving.config import get_settings
    from serving.db.migrate import drop_database, upgrade
    from serving.messaging import topology
    from serving.messaging.vhosts import recreate_vhost
    from serving.users import create_device_key

    ensure_services()
    settings = get_settings()
    drop_database(settings.database_url)
    upgrade(settings.database_url)
    recreate_vhost(BENCH_VHOST)
    redis.Redis.from_url(settings.redis_url).flushdb()
    with _channel() as channel:
        topology.declare_with_pika(channel, settings.queue_delivery_limit)
    with psycopg.connect(LIBPQ_URL, autocommit=True) as conn:
        plan = conn.execute(
            "insert into planos (nome, valor_mensal, duracao_meses) values ('Bench', 99.9, 1) "
            "returning id"
        ).fetchone()[0]
        conn.execute(
            "insert into alunos (nome, email, plano_id, data_matricula) "
            "select 'Aluno ' || n, 'bench' || n || '@example.com', %s, now() - interval '90 days' "
            "from generate_series(1, %s) as n",
            (plan, members),
        )
        first, last, count = conn.execute(
            "select min(id), max(id), count(*) from alunos"
        ).fetchone()
    if last - first + 1 != count:
        raise RuntimeError("member ids are not contiguous")
    return Seed(
        first, last, create_device_key(KIOSK_NAME, "bench", database_url=settings.database_url)
    )


# --- subprocesses -------------------------------------------------------------------------


class Service:
    """A long-running child in its own process group, so stopping it stops its workers too."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> "Service":
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(
                self.args,
                env=self.env,
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 20) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        # Workers left behind by a master that died first.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process = None

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def python_service(name: str, module_args: list[str], env: dict[str, str], log_dir: Path):
    return Service(name, [sys.executable, "-m", *module_args], env, log_dir)


def consumers(count: int, env: dict[str, str], log_dir: Path) -> list[Service]:
    """`gympulse worker checkins`, `count` processes on the same queue."""
    return [
        python_service(
            "consumer" if i == 0 else f"consumer{i + 1}",
            ["flows.cli", "worker", "checkins"],
            env,
            log_dir,
        )
        for i in range(count)
    ]


def wait_healthy(port: int, service: Service, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not service.running():
            raise RuntimeError(f"{service.name} exited at startup:\n{service.tail()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{service.name} did not answer within {timeout:.0f}s:\n{service.tail()}")


def registered_champion() -> str | None:
    """Version of the `@champion` in the MLflow store the API reads (settings'
    MLFLOW_TRACKING_URI: after `make demo`, the repo's var/ store), or None."""
    from models import registry
    from serving.config import get_settings

    settings = get_settings()
    uri = settings.mlflow_tracking_uri
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        return None
    registry.use_tracking(
        settings.mlflow_tracking_uri, settings.mlflow_experiment, settings.mlflow_artifact_root
    )
    version = registry.champion(settings.churn_model_name)
    return None if version is None else str(version.version)


CHAMPION_LOADED = "champion {name} v{version} loaded"
CHAMPION_FAILED = "champion not preloaded"


def wait_champion_loaded(service: Service, version: str, workers: int, timeout: float = 300):
    """Until each of the app's `workers` processes has logged that it loaded the champion (the
    state of an API that has been up for a while: `serving.on_demand` preloads it in the
    background at startup)."""
    from serving.config import get_settings

    loaded = CHAMPION_LOADED.format(name=get_settings().churn_model_name, version=version)
    deadline = time.monotonic() + timeout
    while True:
        text = service.log_path.read_text(errors="replace")
        if CHAMPION_FAILED in text:
            raise RuntimeError(f"{service.name} could not preload the champion:\n{service.tail()}")
        if text.count(loaded) >= workers:
            return
        if time.monotonic() >= deadline:
            raise RuntimeError(
                f"{service.name}: {text.count(loaded)} of {workers} workers loaded the champion "
                f"within {timeout:.0f}s:\n{service.tail()}"
            )
        if not service.running():
            raise RuntimeError(f"{service.name} exited:\n{service.tail()}")
        time.sleep(0.5)


def wait_consuming(count: int = 1, timeout: float = 30) -> None:
    """Until the check-in queue has `count` consumers."""
    from serving.messaging.topology import CHECKIN_QUEUE

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with _channel() as channel:
            if channel.queue_declare(CHECKIN_QUEUE, passive=True).method.consumer_count >= count:
                return
        time.sleep(0.2)
    raise RuntimeError("the check-in consumer did not attach to the queue")


# --- RabbitMQ and PostgreSQL probes -------------------------------------------------------


@contextlib.contextmanager
def _channel() -> Iterator[Any]:
    import pika
    from pika.exceptions import AMQPConnectionError

    deadline = time.monotonic() + 60
    while True:
        try:
            connection = pika.BlockingConnection(pika.URLParameters(BENCH_ENV["RABBITMQ_URL"]))
            break
        except AMQPConnectionError:
            # Someone else's test may have stopped the broker for a few seconds.
            if time.monotonic() >= deadline:
                raise
            print("  (RabbitMQ unavailable; retrying)")
            ensure_services()
            time.sleep(1)
    try:
        yield connection.channel()
    finally:
        with contextlib.suppress(Exception):
            connection.close()


def queue_depth() -> int:
    """Messages ready on the check-in queue (not counting those the consumer holds unacked)."""
    from serving.messaging.topology import CHECKIN_QUEUE

    with _channel() as channel:
        return channel.queue_declare(CHECKIN_QUEUE, passive=True).method.message_count


def dead_lettered() -> int:
    from serving.messaging.topology import CHECKIN_QUEUE, dead_letter_queue

    with _channel() as channel:
        return channel.queue_declare(
            dead_letter_queue(CHECKIN_QUEUE), passive=True
        ).method.message_count


def pg():
    import psycopg

    return psycopg.connect(LIBPQ_URL, autocommit=True)


PG_COUNTERS = ("sessions", "xact_commit", "xact_rollback", "tup_inserted", "tup_returned")


def pg_counters() -> dict[str, int]:
    """Cumulative activity of the bench database. Backends publish their counters when they
    go idle (at most once a second) or disconnect, so read this after the app has stopped."""
    with pg() as conn:
        row = conn.execute(
            f"select {', '.join(PG_COUNTERS)} from pg_stat_database where datname = %s",
            (BENCH_DATABASE,),
        ).fetchone()
    return dict(zip(PG_COUNTERS, row, strict=True))


def truncate_checkins() -> None:
    with pg() as conn:
        conn.execute("truncate checkins")


@dataclass
class Landing:
    """How the accepted check-ins ended up in PostgreSQL."""

    accepted: int
    present: int = 0
    rows_total: int = 0
    all_in_at: float | None = None  # wall clock when the poll saw the last one
    last_written_at: float | None = None  # max(gravado_em) of the accepted ones
    queue_latency_ms: dict[str, float] = field(default_factory=dict)

    @property
    def lost(self) -> int:
        return self.accepted - self.present

    @property
    def extra(self) -> int:
        """Rows that no 202 announced: requests in flight when the load stopped, or answered
        with an error after the broker had the message."""
        return self.rows_total - self.present


def _check_landed(conn, ids: list[str]) -> tuple[int, datetime | None, list[float] | None]:
    row = conn.execute(
        "select count(*), max(c.gravado_em), "
        "percentile_cont(array[0.5, 0.99]) within group "
        "(order by extract(epoch from c.gravado_em - c.aceito_em)) "
        "from checkins c join unnest(%s::uuid[]) as a(id) on c.checkin_id = a.id",
        (ids,),
    ).fetchone()
    return row[0], row[1], row[2]


def wait_landed(ids: list[str], timeout: float, poll: float = 0.05) -> Landing:
    """Poll PostgreSQL until every accepted checkin_id is stored (or timeout). Survives a
    PostgreSQL restart (other users of the machine stop it in their tests)."""
    import psycopg

    landing = Landing(accepted=len(ids))
    deadline = time.monotonic() + timeout
    conn = None
    try:
        while True:
            try:
                if conn is None or conn.closed:
                    conn = pg()
                total = conn.execute("select count(*) from checkins").fetchone()[0]
                timed_out = time.monotonic() >= deadline
                if total >= len(ids) or timed_out:
                    present, last, latency = _check_landed(conn, ids)
                    if present == len(ids) or timed_out:
                        if present == len(ids):
                            landing.all_in_at = time.time()
                        landing.present = present
                        landing.rows_total = conn.execute(
                            "select count(*) from checkins"
                        ).fetchone()[0]
                        if last is not None:
                            landing.last_written_at = last.timestamp()
                        if latency:
                            landing.queue_latency_ms = {
                                "p50": latency[0] * 1000,
                                "p99": latency[1] * 1000,
                            }
                        return landing
            except psycopg.OperationalError as exc:
                print(f"  (PostgreSQL unavailable while polling: {exc}; retrying)")
                if conn is not None:
                    conn.close()
                conn = None
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.5)
                continue
            time.sleep(poll)
    finally:
        if conn is not None:
            conn.close()


def settle(timeout: float = 60) -> None:
    """Until the queue is empty and the row count stops moving (stragglers of a previous run)."""
    deadline = time.monotonic() + timeout
    previous = -1
    with pg() as conn:
        while time.monotonic() < deadline:
            total = conn.execute("select count(*) from checkins").fetchone()[0]
            if queue_depth() == 0 and total == previous:
                return
            previous = total
            time.sleep(0.5)


# --- CPU accounting -----------------------------------------------------------------------


def _processes() -> dict[int, tuple[int, int, float]]:
    """pid -> (ppid, uid, cpu seconds) for every process we can read."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            uid = entry.stat().st_uid
        except OSError:
            continue
        rest = stat[stat.rindex(")") + 2 :].split()
        table[int(entry.name)] = (int(rest[1]), uid, (int(rest[11]) + int(rest[12])) / TICKS)
    return table


def _machine_busy() -> float:
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / TICKS


def _uid(user: str) -> int | None:
    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        return None


class CpuMeter:
    """CPU seconds per component between two snapshots: our services (by process tree),
    RabbitMQ and PostgreSQL (by system user, so other users of the machine count there too),
    the load generator (children that exited, via rusage) and the machine as a whole."""

    def __init__(self, services: dict[str, "Service | list[Service]"]) -> None:
        self.services = services
        self.uids = {"rabbitmq": _uid("rabbitmq"), "postgres": _uid("postgres")}

    def snapshot(self) -> dict[str, float]:
        procs = _processes()
        children: dict[int, list[int]] = {}
        for pid, (ppid, *_rest) in procs.items():
            children.setdefault(ppid, []).append(pid)
        result: dict[str, float] = {}
        for name, group in self.services.items():
            roots = [
                s.pid for s in ([group] if isinstance(group, Service) else group) if s.running()
            ]
            if not roots:
                continue
            total, stack = 0.0, roots
            while stack:
                pid = stack.pop()
                if pid in procs:
                    total += procs[pid][2]
                stack.extend(children.get(pid, ()))
            result[name] = total
        for name, uid in self.uids.items():
            if uid is not None:
                result[name] = sum(cpu for _p, u, cpu in procs.values() if u == uid)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        result["loadgen"] = usage.ru_utime + usage.ru_stime
        own = resource.getrusage(resource.RUSAGE_SELF)
        result["bench"] = own.ru_utime + own.ru_stime
        result["machine"] = _machine_busy()
        return result

    @staticmethod
    def delta(start: dict[str, float], end: dict[str, float], seconds: float) -> dict[str, Any]:
        """Per component: CPU seconds and share of the machine (100% = every core busy)."""
        cores = os.cpu_count() or 1
        used = {k: end[k] - start[k] for k in end if k in start}
        known = sum(v for k, v in used.items() if k != "machine")
        used["other"] = max(used.get("machine", 0.0) - known, 0.0)
        return {
            name: {
                "cpu_s": round(value, 2),
                "machine_pct": round(100 * value / (seconds * cores), 1) if seconds else 0.0,
            }
            for name, value in used.items()
        }


# --- load generation ----------------------------------------------------------------------


def find_wrk(mode: str, install: bool) -> str | None:
    """Path of wrk, installing the Debian package when allowed; None means use the Python
    generator."""
    if mode == "python":
        return None
    path = shutil.which("wrk")
    if path or not install:
        if path is None and mode == "wrk":
            raise SystemExit("wrk is not installed (apt-get install -y wrk)")
        return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print(
            "• wrk not found: installing the Debian package (apt-get update; apt-get install wrk)"
        )
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        subprocess.run(["apt-get", "update", "-qq"], check=False, **quiet)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, **quiet)
        path = shutil.which("wrk")
    if path is None:
        if mode == "wrk":
            raise SystemExit("wrk could not be installed")
        print("• wrk unavailable: falling back to the asyncio/aiohttp generator (bench.loadgen)")
    return path


@dataclass
class LoadResult:
    summary: dict[str, Any]
    ids: list[str]
    started_at: float
    ended_at: float

    @property
    def accepted(self) -> int:
        return len(self.ids)

    @property
    def rate(self) -> float:
        return len(self.ids) / self.summary["duration_s"]


def run_load(
    *,
    wrk: str | None,
    port: int,
    seed: Seed,
    duration: float,
    connections: int,
    threads: int,
    out_prefix: Path,
    timeout: float = 5.0,
) -> LoadResult:
    """One closed-loop run against POST /aluno/checkin: `connections` keep-alive connections,
    each sending the next check-in as soon as the previous one is answered."""
    run = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "BENCH_OUT": str(out_prefix),
        "BENCH_RUN": run,
        "BENCH_MEMBER_FIRST": str(seed.member_first),
        "BENCH_MEMBER_LAST": str(seed.member_last),
        "BENCH_API_KEY": seed.api_key,
    }
    url = f"http://127.0.0.1:{port}"
    if wrk:
        args = [
            wrk,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration:g}s",
            f"--timeout={timeout:g}s",
            "-s",
            str(LUA_SCRIPT),
            url,
        ]
    else:
        args = [
            sys.executable,
            "-m",
            "bench.loadgen",
            url,
            f"--connections={connections}",
            f"--duration={duration:g}",
            f"--timeout={timeout:g}",
        ]
    started = time.time()
    completed = subprocess.run(args, env=env, cwd=REPO_ROOT, capture_output=True, text=True)
    ended = time.time()
    out_prefix.with_suffix(".stdout").write_text(completed.stdout + completed.stderr)
    summary_path = Path(f"{out_prefix}.json")
    if completed.returncode != 0 or not summary_path.exists():
        raise RuntimeError(
            f"load generator failed ({completed.returncode}):\n{completed.stdout}{completed.stderr}"
        )
    summary = json.loads(summary_path.read_text())
    ids: list[str] = []
    for path in sorted(out_prefix.parent.glob(f"{out_prefix.name}.*.ids")):
        ids.extend(line for line in path.read_text().splitlines() if line)
        path.unlink()
    if len(ids) != summary["accepted"]:
        raise RuntimeError(f"{summary['accepted']} answered 202 but {len(ids)} ids were recorded")
    if len(set(ids)) != len(ids):
        raise RuntimeError("the load generator sent the same checkin_id twice")
    return LoadResult(summary, ids, started, ended)


# --- reporting ----------------------------------------------------------------------------


def run_dir(name: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"{name}-{stamp}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def machine_info() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()
    versions = {}
    with contextlib.suppress(Exception):
        import psycopg

        with psycopg.connect(LIBPQ_URL.rsplit("/", 1)[0] + "/postgres", connect_timeout=3) as conn:
            versions["postgresql"] = conn.execute("show server_version").fetchone()[0]
    if shutil.which("rabbitmqctl"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            done = subprocess.run(
                ["rabbitmqctl", "-q", "version"], capture_output=True, text=True, timeout=20
            )
            versions["rabbitmq"] = done.stdout.strip()
    if shutil.which("wrk"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            done = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=5)
            versions["wrk"] = (done.stdout + done.stderr).split("[")[0].strip()
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "services_on_same_machine": True,
        "versions": versions,
        "loadavg_at_start": [round(v, 2) for v in load],
    }


def write_results(directory: Path, name: str, payload: dict[str, Any]) -> Path:
    path = directory / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str))
    latest = RESULTS_DIR / f"{name}-latest.json"
    latest.write_text(json.dumps(payload, indent=2, default=str))
    return path


def table(rows: Iterable[tuple[str, ...]]) -> str:
    rows = list(rows)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells))
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
