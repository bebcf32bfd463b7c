"""One status line under a long command's output, on a terminal: what the run said last (a dbt
node, a training or scoring step, from our loggers and the Prefect run's alike) and how long the
command has run. Prefect's own INFO lines stay off the console (they are for its UI), so without
this a dbt build or a forest fit printed nothing for minutes.

Nothing changes when the output is not a terminal (CI, a log file): there, a rewritten line is
noise."""

import contextlib
import logging
import sys
import time
from collections.abc import Iterator

from rich.console import Console
from rich.text import Text


class _StatusLine:
    """The line's text, rendered afresh at every refresh: the clock runs between messages."""

    def __init__(self, title: str, width: int) -> None:
        self.title = title
        self.width = width
        self.message = ""
        self.started = time.monotonic()

    def __rich__(self) -> Text:
        elapsed = int(time.monotonic() - self.started)
        line = f"{self.title} [{elapsed // 60}:{elapsed % 60:02d}] {self.message}"
        # Text, not markup: a message may hold brackets (dbt node names, reprs).
        return Text(line[: max(0, self.width - 4)], no_wrap=True)


class _LatestMessage(logging.Handler):
    def __init__(self, line: _StatusLine) -> None:
        super().__init__(logging.INFO)
        self.line = line

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.line.message = record.getMessage().partition("\n")[0].strip()
        except Exception:  # a record that cannot be formatted is not worth a status line
            return


@contextlib.contextmanager
def live_status(title: str, console: Console | None = None) -> Iterator[None]:
    console = console or Console(stderr=True)
    if not console.is_terminal:
        yield
        return
    root = logging.getLogger()
    streams = [h for h in root.handlers if type(h) is logging.StreamHandler]
    line = _StatusLine(title, console.width)
    with console.status(line):
        # The status redirects stderr so that lines print above it; the console handlers
        # still hold the stream they were made with, so point them at the redirected one.
        previous = [handler.setStream(sys.stderr) for handler in streams]
        latest = _LatestMessage(line)
        root.addHandler(latest)
        try:
            yield
        finally:
            root.removeHandler(latest)
            for handler, stream in zip(streams, previous, strict=True):
                if stream is not None:
                    handler.setStream(stream)
