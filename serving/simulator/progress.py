"""The generation progress bar (rich), or nothing."""


class _NoBar:
    def __enter__(self):
        return None

    def __exit__(self, *exc) -> None:
        return None


class _Bar:
    def __init__(self, total: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("generating members"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        self.total = total

    def __enter__(self):
        self.progress.__enter__()
        task = self.progress.add_task("generate", total=self.total)
        progress = self.progress

        class Tracker:
            @staticmethod
            def update(_unused: int, completed: int) -> None:
                progress.update(task, completed=completed)

        return Tracker

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)


def progress_bar(show: bool, total: int):
    """A context manager yielding a tracker with `.update(0, completed=n)`, or None."""
    return _Bar(total) if show else _NoBar()
