"""The table ``region.py`` prints: one row per measured operation with its median, p95,
baseline, ratio and target, as Markdown (readable as it is, and pasted into
docs/performance.md).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from protection import fmt_ms


def p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


@dataclass
class Row:
    operation: str
    timings_ms: list[float]
    baseline: str = "—"
    baseline_ms: float | None = None
    #: "time" (ratio = this / baseline, lower is better) or "speedup" (baseline / this).
    ratio_kind: str = "time"
    target: str = "—"
    #: The target as a test of the ratio, if there is one.
    meets: Callable[[float], bool] | None = None
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.timings_ms)

    @property
    def ratio(self) -> float | None:
        if self.baseline_ms is None:
            return None
        if self.ratio_kind == "speedup":
            return self.baseline_ms / self.median
        return self.median / self.baseline_ms


# -- output ---------------------------------------------------------------------------------


def fmt_s(ms: float) -> str:
    return f"{ms / 1e3:,.2f} s"


def table_rows(rows: Sequence[Row]) -> list[tuple[str, ...]]:
    lines = []
    for row in rows:
        seconds = row.median >= 10_000
        show = fmt_s if seconds else fmt_ms
        ratio = row.ratio
        if ratio is None:
            ratio_text = "—"
        elif row.ratio_kind == "speedup":
            ratio_text = f"{ratio:,.0f}× faster"
        else:
            ratio_text = f"{ratio:,.2f}×"
        met_text = "—" if row.meets is None or ratio is None else (
            "yes" if row.meets(ratio) else "no"
        )  # fmt: skip
        baseline_ms = "—" if row.baseline_ms is None else show(row.baseline_ms)
        lines.append((row.operation, show(row.median), show(p95(row.timings_ms)), row.baseline,
                      baseline_ms, ratio_text, row.target, met_text))  # fmt: skip
    return lines


def print_table(headers: Sequence[str], lines: Sequence[Sequence[str]]) -> None:
    """A Markdown table (readable as it is, and pasted into docs/performance.md)."""
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("| " + " | ".join("-" * w for w in widths) + " |")
    for line in lines:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |")
