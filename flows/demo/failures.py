"""How `gympulse demo` fails: one line saying which step failed, why and what to do, and an exit
code (flows/cli/errors.py); the traceback goes to the demo's log for a developer, never to the
terminal."""

import traceback
from datetime import UTC, datetime
from pathlib import Path

import httpx
from rich.console import Console
from rich.markup import escape

from flows.cli.errors import operator_message

FAILED = 1
AGAIN = "fix it and run `gympulse demo` again: it keeps what it already loaded"


class DemoFailed(Exception):
    """A step failed for a reason the user can act on: the message says what to do."""


def api_refusal(response: httpx.Response) -> str:
    """`409 member is inactive`: the status and the API's detail, shortened."""
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = response.reason_phrase
    return f"{response.status_code} {str(detail)[:200]}"


def _api_answer(exc: httpx.HTTPStatusError) -> str:
    return (
        f"the API answered {api_refusal(exc.response)} to "
        f"{exc.request.method} {exc.request.url.path}"
    )


def failure_line(step: str, exc: Exception, log_dir: Path) -> tuple[str, int]:
    """(the one line, the exit code) for a failure during `step`."""
    known = operator_message(exc)
    if known is not None:
        message, code = known
        return f"{step} failed: {message}", code
    if isinstance(exc, DemoFailed):
        return f"{step} failed: {exc}", FAILED
    if isinstance(exc, httpx.HTTPStatusError):
        why = _api_answer(exc)
        return f"{step} failed: {why}; see {log_dir / 'api.log'}, then {AGAIN}", FAILED
    if isinstance(exc, httpx.TransportError):
        why = f"the API stopped answering ({type(exc).__name__})"
        return f"{step} failed: {why}; see {log_dir / 'api.log'}, then {AGAIN}", FAILED
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    why = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return f"{step} failed: {why}; {AGAIN} (traceback in {log_dir / 'demo.log'})", FAILED


def report_failure(console: Console, step: str, exc: Exception, log_dir: Path) -> int:
    """Print the one line, keep the traceback in demo.log; returns the exit code."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / "demo.log").open("a", encoding="utf-8") as log:
        log.write(f"{datetime.now(UTC).isoformat()} {step} failed\n")
        log.write("".join(traceback.format_exception(exc)))
    line, code = failure_line(step, exc, log_dir)
    console.print(f"[red]✘ {escape(line)}[/red]", soft_wrap=True, highlight=False)
    return code
