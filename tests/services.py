"""Start, stop and probe the machine's services, for fault-injection tests."""

import socket
import subprocess
import time


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
    if port_open(5432):
        return
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main", "start"],
        capture_output=True,
    )
    _wait(lambda: port_open(5432), 30)


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
