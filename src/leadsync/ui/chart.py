"""The runs chart: outcomes per run over time as stacked bars, as SVG geometry. Pure.

Drawn on the server as inline SVG: no JavaScript, no chart library, no network, and the same
markup works in `leadsync ui` and in the self-contained HTML report. Each bar is one run (oldest
left), stacked created / already in Salesforce / skipped / failed / pending, which add up to
the run's `seen` (the report's invariant); every segment carries a tooltip with its number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from leadsync.ui.labels import OUTCOMES
from leadsync.ui.times import parse_time

WIDTH = 960
HEIGHT = 260
LEFT = 48  # room for the y axis labels
BOTTOM = 28  # room for the date labels
TOP = 12
MAX_BARS = 60


@dataclass(frozen=True, slots=True)
class Segment:
    y: float
    height: float
    colour: str
    title: str


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    width: float
    run_id: str
    title: str  # the whole run, for the bar's tooltip
    segments: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True, slots=True)
class XLabel:
    x: float
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    left: int
    plot_bottom: float
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    x_labels: tuple[XLabel, ...]

    @property
    def empty(self) -> bool:
        return not self.bars


def nice_step(largest: int, ticks: int = 4) -> int:
    """The axis step: 1, 2 or 5 x 10^k, so that at most `ticks` steps cover `largest` and the
    axis reads 0, 2, 4, 6 or 0, 500, 1,000 (never 2.5 or 7)."""
    rough = max(largest, 1) / ticks
    power = 10 ** max(0, math.floor(math.log10(rough))) if rough >= 1 else 1
    for factor in (1, 2, 5, 10):
        if factor * power >= rough:
            return factor * power
    return 10 * power  # pragma: no cover - the loop always returns


def outcome_chart(runs_newest_first: list[dict[str, Any]], *, max_bars: int = MAX_BARS) -> Chart:
    """Bars for the newest `max_bars` runs, oldest on the left."""
    runs = list(reversed(runs_newest_first[:max_bars]))
    plot_bottom = HEIGHT - BOTTOM
    plot_height = plot_bottom - TOP
    largest = max((int((r.get("totals") or {}).get("seen", 0)) for r in runs), default=0)
    step = nice_step(largest)
    steps = max(1, math.ceil(largest / step))
    top = step * steps
    slot = (WIDTH - LEFT) / max(len(runs), 1)
    bar_width = max(2.0, min(40.0, slot * 0.7))
    bars = []
    for i, run in enumerate(runs):
        totals = run.get("totals") or {}
        x = LEFT + i * slot + (slot - bar_width) / 2
        y = plot_bottom
        segments = []
        for outcome in OUTCOMES:
            n = int(totals.get(outcome.report_key, 0))
            if n <= 0:
                continue
            h = plot_height * n / top
            y -= h
            segments.append(
                Segment(round(y, 2), round(h, 2), outcome.colour, f"{outcome.label}: {n:,}")
            )
        when = str(run.get("started_at") or "")
        title = f"{when} · run {run.get('run_id')} · {int(totals.get('seen', 0)):,} seen"
        bars.append(
            Bar(round(x, 2), round(bar_width, 2), str(run.get("run_id")), title, tuple(segments))
        )
    ticks = tuple(
        Tick(round(plot_bottom - plot_height * k / steps, 2), f"{step * k:,}")
        for k in range(steps + 1)
    )
    return Chart(WIDTH, HEIGHT, LEFT, plot_bottom, tuple(bars), ticks, _x_labels(runs, slot))


def _x_labels(runs: list[dict[str, Any]], slot: float, most: int = 6) -> tuple[XLabel, ...]:
    """Dates under at most `most` evenly spaced bars (first and last included)."""
    if not runs:
        return ()
    step = max(1, math.ceil(len(runs) / most))
    picked = list(range(0, len(runs), step))
    if picked[-1] != len(runs) - 1 and len(runs) - 1 - picked[-1] >= step / 2:
        picked.append(len(runs) - 1)
    return tuple(
        XLabel(round(LEFT + (i + 0.5) * slot, 2), _short_time(str(runs[i].get("started_at") or "")))
        for i in picked
    )


def _short_time(iso: str) -> str:
    """`2026-11-29T13:23:11Z` -> `29 Nov 13:23`."""
    moment = parse_time(iso)
    return moment.strftime("%d %b %H:%M") if moment else iso[:16]
