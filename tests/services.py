"""Start, stop and probe the machine's services, for fault-injection tests; and a private
RabbitMQ node and a private PostgreSQL cluster for the tests that restart the broker or the
database while others use the machine's."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def ensure_all() -> None:
    if not (port_open(5432) and port_open(5672) and port_open(6379)):
        subprocess.run(["bash", "scripts/services.sh"], check=True)


def _wait(check, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise TimeoutError("service did not reach the expected state")


def stop_rabbitmq_app() -> None:
    subprocess.run(["rabbitmqctl", "-q", "stop_app"], check=True, capture_output=True)
    _wait(lambda: not port_open(5672), 30)


def start_rabbitmq_app() -> None:
    subprocess.run(["rabbitmqctl", "-q", "start_app"], capture_output=True)
    subprocess.run(["rabbitmqctl", "-q", "await_startup"], capture_output=True)
    _wait(lambda: port_open(5672), 60)


def stop_postgres() -> None:
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main", "stop", "-m", "fast"],
        check=True,
        capture_output=True,
    )
    _wait(lambda: not port_open(5432), 30)


def start_postgres() -> None:
    if _postgres_accepts_connections():
        return
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main", "start"],
        capture_output=True,
    )
    # The port opens before recovery ends ("the database system is starting up").
    _wait(_postgres_accepts_connections, 60)


def _postgres_accepts_connections() -> bool:
    ready = subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"], check=False)
    return ready.returncode == 0


def stop_redis() -> None:
    subprocess.run(["redis-cli", "-p", "6379", "shutdown", "nosave"], capture_output=True)
    _wait(lambda: not port_open(6379), 15)


def start_redis() -> None:
    if port_open(6379):
        return
    subprocess.run(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "-::1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        capture_output=True,
    )
    _wait(lambda: port_open(6379), 15)


def free_port_pair(start: int) -> int:
    """The first port from `start` that, with the next one, nothing listens on."""
    return next(
        port
        for port in range(start, start + 100, 2)
        if not (port_open(port) or port_open(port + 1))
    )


class PrivateRabbit:
    """A RabbitMQ node of its own (name, ports, data and logs under /tmp), started from the
    machine's rabbitmq-server, so a test can stop and restart "the broker" without touching the
    one on 5672 that everyone else's tests and workers use. No plugins: no management port."""

    def __init__(self, name: str, port: int) -> None:
        """`port` for AMQP, `port + 1` for Erlang distribution (rabbitmqctl)."""
        self.node = f"{name}@localhost"
        self.port = port
        self.base = Path(tempfile.gettempdir()) / name
        self.pid_file = self.base / "mnesia" / f"{self.node}.pid"

    @staticmethod
    def available() -> bool:
        return (
            shutil.which("rabbitmq-server") is not None and shutil.which("rabbitmqctl") is not None
        )

    def url(self, vhost: str) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/{vhost}"

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.port + 1),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            # Not the machine's files: they name its node and its port 5672.
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": str(self.base / "rabbitmq-env.conf"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    def ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["rabbitmqctl", "-q", "-n", self.node, *args],
            check=check,
            capture_output=True,
            text=True,
        )

    def create(self) -> "PrivateRabbit":
        """A fresh node: a leftover of an interrupted run with the same name is stopped first."""
        self.destroy()
        for folder in ("mnesia", "log"):
            (self.base / folder).mkdir(parents=True)
        (self.base / "enabled_plugins").write_text("[].\n")
        (self.base / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        (self.base / "rabbitmq-env.conf").write_text("ERL_EPMD_ADDRESS=127.0.0.1\n")
        if os.geteuid() == 0:  # rabbitmq-server switches to the rabbitmq user when run as root
            subprocess.run(["chown", "-R", "rabbitmq:rabbitmq", str(self.base)], check=True)
        return self.start()

    def start(self) -> "PrivateRabbit":
        """Start the node (again, after `stop`, with its data) and wait until it takes clients."""
        subprocess.run(["rabbitmq-server", "-detached"], env=self._env(), check=True)
        # -detached returns before the node has registered with epmd: await_startup fails
        # until then.
        _wait(lambda: self.ctl("await_startup", check=False).returncode == 0, 90)
        _wait(lambda: port_open(self.port), 30)
        return self

    def stop(self) -> None:
        """Stop the whole node (the Erlang VM, not only the app) and wait for its process."""
        self.ctl("stop", str(self.pid_file), check=False)
        _wait(lambda: not port_open(self.port), 30)

    def stop_app(self) -> None:
        self.ctl("stop_app")
        _wait(lambda: not port_open(self.port), 30)

    def start_app(self) -> None:
        self.ctl("start_app")
        self.ctl("await_startup")
        _wait(lambda: port_open(self.port), 60)

    def add_vhost(self, vhost: str, user: str = "guest") -> None:
        self.ctl("add_vhost", vhost)
        self.ctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")

    def destroy(self) -> None:
        if self.pid_file.exists() or self.ctl("ping", check=False).returncode == 0:
            self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


class PrivatePostgres:
    """A PostgreSQL cluster of its own (initdb under /tmp, trust auth, 127.0.0.1 on one port),
    from the machine's PostgreSQL 15 binaries, so a test can stop and restart "the database"
    without touching the one on 5432. Run as the `postgres` user (PostgreSQL refuses root),
    which is why it lives under /tmp rather than pytest's tmp_path (private to root)."""

    BIN = Path("/usr/lib/postgresql/15/bin")

    def __init__(self, name: str, port: int) -> None:
        self.port = port
        self.base = Path(tempfile.gettempdir()) / name
        self.data = self.base / "data"

    @classmethod
    def available(cls) -> bool:
        return (cls.BIN / "initdb").exists() and shutil.which("runuser") is not None

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, *args: str, check: bool = True) -> None:
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(
            [*as_postgres, str(self.BIN / program), *args], check=check, capture_output=True
        )

    def create(self) -> "PrivatePostgres":
        """A fresh cluster: a leftover of an interrupted run with the same name is stopped first."""
        self.destroy()
        self.base.mkdir(parents=True)
        if os.geteuid() == 0:
            subprocess.run(["chown", "postgres:postgres", str(self.base)], check=True)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        return self.start()

    def start(self) -> "PrivatePostgres":
        """Start the cluster (again, after `stop`, with its data) and wait until it answers."""
        # No fsync: a test cluster; a fast shutdown still writes everything committed.
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
        log_file = str(self.base / "postgres.log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log_file, "-o", options, "-w", "start")
        _wait(lambda: port_open(self.port), 30)
        return self

    def stop(self) -> None:
        """Fast shutdown: open sessions are cut, as when the server goes down under them."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)
        _wait(lambda: not port_open(self.port), 30)

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
