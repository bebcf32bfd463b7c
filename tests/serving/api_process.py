"""`gympulse api` as a real process on the test database, for the tests that need a server a
client can stream to or a browser can load (body limits, security headers). A test module
imports `api_fixture` to use the fixture `api`."""

import os
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import Server

PORTS = range(18200, 18300)  # this suite's share of the machine's ports


@dataclass
class ApiProcess:
    server: Server
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss(self) -> int:
        """The server process's resident memory, in bytes."""
        status = Path(f"/proc/{self.server.process.pid}/status").read_text()
        found = re.search(r"VmRSS:\s+(\d+) kB", status)
        assert found, status
        return int(found.group(1)) * 1024


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError(f"no free port in {PORTS}")


@pytest.fixture(scope="module", name="api")
def api_fixture(settings, tmp_path_factory) -> Iterator[ApiProcess]:
    port = free_port()
    log = tmp_path_factory.mktemp("api") / "api.log"
    server = Server(["api", "--port", str(port)], log, {**os.environ})
    try:
        server.wait_until(f"http://127.0.0.1:{port}/health", None, "the API")
        yield ApiProcess(server, port)
    finally:
        server.stop()
