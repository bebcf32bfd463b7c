"""Create a RabbitMQ vhost from scratch, for the tests' and benchmarks' own isolated brokers.

`rabbitmqctl` when it is on this machine, otherwise the management API (compose.yml)."""

import shutil
import subprocess
import time

import httpx

MANAGEMENT_API = "http://127.0.0.1:15672/api"


def _rabbitmqctl(*args: str, attempts: int = 5) -> None:
    """With retries: the broker may be restarting (a fault test, or services.sh)."""
    for attempt in range(attempts):
        done = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True)
        if done.returncode == 0:
            return
        if attempt == attempts - 1:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {done.stderr.strip()}")
        time.sleep(2)


def recreate_vhost(vhost: str, user: str = "guest") -> None:
    """Delete the vhost with everything in it, create it again and let `user` use it."""
    if shutil.which("rabbitmqctl"):
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], capture_output=True)
        _rabbitmqctl("add_vhost", vhost)
        _rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
        return
    with httpx.Client(base_url=MANAGEMENT_API, auth=("guest", "guest")) as api:
        api.delete(f"/vhosts/{vhost}")
        api.put(f"/vhosts/{vhost}").raise_for_status()
        api.put(
            f"/permissions/{vhost}/{user}", json={"configure": ".*", "write": ".*", "read": ".*"}
        ).raise_for_status()
