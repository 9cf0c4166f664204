"""How a run reports: a check that did not hold stops it, a step that passed is printed."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


class Failed(Exception):
    """A check did not hold: the message says which and what was seen."""


def check(condition: bool, message: str) -> None:
    """Stop the run with ``message``: every later step builds on what this one proved."""
    if not condition:
        raise Failed(message)


@dataclass
class Timings:
    """Each step's time, printed as it passes (so a slow step shows before the run ends) and
    kept for the summary."""

    steps: list[tuple[str, float]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    mark: float = field(default_factory=time.monotonic)

    def passed(self, step: str, message: str) -> None:
        now = time.monotonic()
        seconds, self.mark = now - self.mark, now
        self.steps.append((step, seconds))
        print(f"ok: {step[:2]} {message} ({seconds:.1f} s)", flush=True)
