"""`gympulse demo` serves until Ctrl-C (SIGINT from the terminal) or SIGTERM (a service
manager), then stops its children: the wait must end on either."""

import signal
import subprocess
import sys
import time

import pytest

from tests.churn_support import wait_for

# With a thread of its own besides the main one, as the demo has (HTTP clients, the console):
# the kernel may hand a process's signal to any thread that does not block it.
WAITER = (
    "import threading, time; from flows.demo.run import wait_for_stop; "
    "threading.Thread(target=time.sleep, args=(60,), daemon=True).start(); "
    "print('waiting', flush=True); wait_for_stop(); print('stopped', flush=True)"
)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_the_demo_stops_serving_on_ctrl_c_and_on_sigterm(stop):
    waiter = subprocess.Popen(
        [sys.executable, "-c", WAITER], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert waiter.stdout is not None and waiter.stdout.readline() == "waiting\n"
        time.sleep(0.2)  # waiting
        waiter.send_signal(stop)
        wait_for(lambda: waiter.poll() is not None, timeout=10, what="the demo to stop")
        out, err = waiter.communicate()
        assert (waiter.returncode, out) == (0, "stopped\n"), err
    finally:
        if waiter.poll() is None:
            waiter.kill()
