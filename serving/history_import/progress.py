"""The import's progress bar (rich, on stderr), or nothing."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import rich.progress


class Progress:
    """A rich progress bar on stderr, or nothing."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: rich.progress.Progress | None = None

    def __enter__(self) -> "Progress":
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self.bar = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            )
            self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()

    def add(self, description: str, total: float | None) -> "rich.progress.TaskID | None":
        return self.bar.add_task(description, total=total) if self.bar else None

    def update(self, task: "rich.progress.TaskID | None", **kwargs) -> None:
        if self.bar is not None and task is not None:
            self.bar.update(task, **kwargs)
