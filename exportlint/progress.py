"""Progress on stderr while models are captured and converters run, drawn by rich.

Shown only inside `shown(True)` when stderr is a terminal; never a byte on stdout (the report). Code
that does long work says what with `step`, and loops over models with `each_model`: with no display
active both cost nothing and import nothing.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterable, Iterator, TypeVar

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

T = TypeVar("T")


class _Display:
    """One live line: the model under way (`done/all` and a bar), and the step it is at."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.task: TaskID = progress.add_task("", total=None, count="")
        self.model = ""

    def say(self, step: str | None = None, **fields) -> None:
        description = " · ".join(part for part in (self.model, step) if part)
        self.progress.update(self.task, description=description, **fields)
        self.progress.refresh()  # steps can be shorter than the refresh period


_display: _Display | None = None


@contextmanager
def shown(enabled: bool) -> Iterator[None]:
    """Show progress within the block when `enabled` and stderr is a terminal. Colours follow rich's
    reading of NO_COLOR / FORCE_COLOR; the lines are removed when the block ends."""
    global _display
    if not enabled or not sys.stderr.isatty() or _display is not None:
        yield
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    # The stream itself, not `sys.stderr` at each write: library work redirects that (`capture.spec.quiet`).
    console = Console(file=sys.stderr, stderr=True)
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                        TextColumn("{task.fields[count]}"), TimeElapsedColumn(), console=console, transient=True,
                        redirect_stdout=False, redirect_stderr=False)
    with progress:
        _display = _Display(progress)
        try:
            yield
        finally:
            _display = None


@contextmanager
def step(text: str) -> Iterator[None]:
    """Show `text` as the work under way during the block."""
    if _display is not None:
        _display.say(text)
    yield


def each_model(items: Iterable[T], name=str) -> Iterator[T]:
    """`items` (models to check), counted on the display."""
    items = list(items)
    if _display is None or not items:
        yield from items
        return
    for i, item in enumerate(items):
        _display.model = f"model {name(item)}"
        _display.say(total=len(items), completed=i, count=f"{i}/{len(items)}")
        yield item
    _display.say(completed=len(items), count=f"{len(items)}/{len(items)}")
