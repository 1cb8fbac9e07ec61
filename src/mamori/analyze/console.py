"""The terminal side of `mamori analyze`: a rich progress bar and the closing summary."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from mamori.analyze.run import Analysis

__all__ = ["RichProgress", "summary"]


class RichProgress:
    """`mamori.analyze.progress.Progress` as one bar per stage (on stderr, so a report
    written to stdout stays clean)."""

    def __init__(self, console: Console) -> None:
        self._bar = Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> RichProgress:
        self._bar.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._bar.stop()

    def begin(self, stage: str) -> None:
        self.end()
        self._task = self._bar.add_task(stage, total=1.0)

    def advance(self, fraction: float) -> None:
        if self._task is not None:
            self._bar.update(self._task, completed=max(0.0, min(1.0, fraction)))

    def end(self) -> None:
        if self._task is not None:
            self._bar.update(self._task, completed=1.0)
            self._task = None


def summary(a: Analysis, console: Console) -> None:
    rows = a.loaded.rows
    rate = rows / a.elapsed if a.elapsed > 0 else 0.0
    console.print(
        f"{rows:,} logins in {a.elapsed:.1f} s: [bold]{rate:,.0f} rows/s[/bold]  ("
        + ", ".join(f"{stage} {s:.1f} s" for stage, s in a.seconds.items())
        + ")"
    )
    console.print(
        f"incidents: {len(a.outcome.incidents)}, sources banned: {len(a.bans):,}, rows flagged: "
        f"{a.flagged:,}, accounts whose password was confirmed from attack sources: "
        f"{len(a.affected):,}"
    )
    if a.scores:
        table = Table("flags", "TP", "FP", "missed", "precision", "recall")
        for s in a.scores:
            table.add_row(
                s.name,
                f"{s.tp:,}",
                f"{s.fp:,}",
                f"{s.fn:,}",
                "-" if s.precision is None else f"{s.precision:.3f}",
                "-" if s.recall is None else f"{s.recall:.3f}",
            )
        console.print(table)
