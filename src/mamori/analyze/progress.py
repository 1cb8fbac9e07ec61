"""How the analysis tells its caller how far it has got (the CLI draws a progress bar)."""

from __future__ import annotations

from typing import Protocol

__all__ = ["NullProgress", "Progress"]


class Progress(Protocol):
    """One stage at a time: `begin` names it, `advance` reports the fraction done (0..1)."""

    def begin(self, stage: str) -> None: ...

    def advance(self, fraction: float) -> None: ...

    def end(self) -> None: ...


class NullProgress:
    """Reports nothing (tests, library use)."""

    def begin(self, stage: str) -> None:
        pass

    def advance(self, fraction: float) -> None:
        pass

    def end(self) -> None:
        pass
