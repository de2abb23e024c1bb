"""PNG figures for the eval, train and mine reports (the ``plots`` extra: ``pip install retriever[plots]``).

matplotlib is imported only when a figure is drawn, through its non-interactive Agg canvas (no pyplot, so the
caller's backend and global figure state are left alone). Without matplotlib every figure function returns
None and one warning per process says so (``figures skipped: install retriever[plots]``); a figure that fails
to draw is logged and skipped too, so a report is never lost to a plot. A figure not drawn removes an older
file of the same name, so a report folder never shows a stale figure from an earlier run.

Figures (100 dpi, written atomically by :mod:`retriever.files`; the callers link them from their reports):

- :func:`cutoff_figure`: ``retriever eval``'s nDCG@k / Recall@k (/ Accuracy@k) by cutoff, one line per system;
- :func:`training_figure`: ``retriever train``'s loss and dev metrics over optimizer steps;
- :func:`eci_figure`: ``retriever mine``'s hardness, safety and ECI per negative strategy (grouped bars).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from retriever.files import atomic_open

logger = logging.getLogger("retriever.plots")

DPI = 100
MISSING = "figures skipped: install retriever[plots] (matplotlib) to get PNG figures next to the reports"
_warned = False


def _matplotlib() -> tuple[type, type] | None:
    """(Figure, FigureCanvasAgg), or None (warning once per process) when matplotlib is not installed."""
    global _warned
    try:
        import matplotlib  # noqa: F401  (first, so a blocked matplotlib fails here even if submodules are cached)
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        if not _warned:
            logger.warning(MISSING)
            _warned = True
        return None
    return Figure, FigureCanvasAgg


def available() -> bool:
    """Whether figures can be drawn (warns once when they cannot)."""
    return _matplotlib() is not None


def _discard(path: str | Path) -> None:
    Path(path).unlink(missing_ok=True)


def _draw(path: str | Path, size: tuple[float, float], panels: int, paint: Callable[[Any, list], None]):
    """A figure of ``panels`` side-by-side axes painted by ``paint(figure, axes)``, saved to ``path`` as PNG;
    returns the path, or None when matplotlib is missing or drawing fails."""
    path = Path(path)
    classes = _matplotlib()
    if classes is None:
        _discard(path)
        return None
    figure_class, canvas_class = classes
    try:
        figure = figure_class(figsize=size, dpi=DPI, layout="constrained")
        canvas_class(figure)
        axes = [figure.add_subplot(1, panels, i + 1) for i in range(panels)]
        paint(figure, axes)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(path, "wb") as handle:
            figure.savefig(handle, format="png", dpi=DPI)
    except Exception as exc:  # a figure never costs the report it illustrates
        _discard(path)
        logger.warning("figure %s not written: %s", path.name, exc)
        return None
    return path


def cutoff_figure(
    curves: Mapping[str, Mapping[str, Mapping[int, float]]], path: str | Path, title: str = ""
) -> Path | None:
    """One panel per metric family (``{"nDCG": {system: {k: mean}}, "Recall": ...}``), one line per system,
    cutoffs on a log axis."""
    families = [(name, systems) for name, systems in curves.items() if any(systems.values())]
    if not families:
        _discard(path)
        return None
    ticks = sorted({k for _, systems in families for values in systems.values() for k in values})

    def paint(figure, axes) -> None:
        for ax, (family, systems) in zip(axes, families, strict=True):
            for system, values in systems.items():
                ks = sorted(values)
                ax.plot(ks, [values[k] for k in ks], marker="o", markersize=3, label=system)
            ax.set_xscale("log")
            ax.set_xticks(ticks, [str(k) for k in ticks])
            ax.minorticks_off()
            ax.set_xlabel("cutoff k")
            ax.set_title(f"{family}@k")
            ax.set_ylim(bottom=0)
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize="small")
        if title:
            figure.suptitle(title)

    return _draw(path, (4.5 * len(families), 3.6), len(families), paint)


def training_figure(records: Sequence[Mapping[str, Any]], path: str | Path, metric: str = "") -> Path | None:
    """Loss by step (with a moving average when there are many steps) and, when the log has dev
    evaluations, every dev metric by step; ``metric`` (the configured dev metric) is drawn first.

    ``records`` are ``train_log.jsonl`` rows: ``{"step", "loss", ...}`` and ``{"step", "dev": {...}}``."""
    steps = [(r["step"], r["loss"]) for r in records if "loss" in r]
    dev = [(r["step"], r["dev"]) for r in records if r.get("dev")]
    if not steps and not dev:
        _discard(path)
        return None
    first = [metric] if any(metric in d for _, d in dev) else []
    names = list(dict.fromkeys([*first, *(name for _, d in dev for name in d)]))
    panels = int(bool(steps)) + int(bool(dev))

    def paint(figure, axes) -> None:
        from matplotlib.ticker import MaxNLocator

        for ax in axes:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if steps:
            ax = axes[0]
            x, y = zip(*steps, strict=True)
            ax.plot(x, y, linewidth=1, alpha=0.5 if len(y) >= 20 else 1.0, label="loss")
            if len(y) >= 20:
                window = max(2, len(y) // 20)
                smooth = [sum(y[max(0, i - window + 1) : i + 1]) / min(window, i + 1) for i in range(len(y))]
                ax.plot(x, smooth, linewidth=1.5, label=f"mean of {window} steps")
                ax.legend(fontsize="small")
            ax.set_xlabel("step")
            ax.set_title("training loss")
            ax.grid(alpha=0.3)
        if dev:
            ax = axes[-1]
            for name in names:
                points = [(s, d[name]) for s, d in dev if name in d and math.isfinite(d[name])]
                if points:
                    x, y = zip(*points, strict=True)
                    ax.plot(x, y, marker="o", markersize=3, label=name)
            ax.set_xlabel("step")
            ax.set_title("dev")
            ax.grid(alpha=0.3)
            ax.legend(fontsize="small")

    return _draw(path, (4.5 * panels, 3.4), panels, paint)


ECI_BARS = (
    ("hardness", "as_mined", "hardness H"),
    ("safety", "as_mined", "safety S"),
    ("eci", "as_mined", "ECI as mined"),
    ("eci", "filtered", "ECI kept"),
)


def eci_figure(
    eci: Mapping[str, Mapping[str, Any]], path: str | Path, chosen: str | None = None
) -> Path | None:
    """Grouped bars per strategy of ``manifest["eci"]``: H, S and ECI of the negatives as mined, and ECI of
    the negatives kept after the false-negative filters; the chosen strategy is marked."""
    strategies = list(eci)
    if not strategies:
        _discard(path)
        return None

    def paint(figure, axes) -> None:
        ax = axes[0]
        width = 0.8 / len(ECI_BARS)
        for i, (field, part, label) in enumerate(ECI_BARS):
            values = [float(eci[s][part][field]) for s in strategies]
            positions = [j + (i - (len(ECI_BARS) - 1) / 2) * width for j in range(len(strategies))]
            bars = ax.bar(positions, values, width, label=label)
            ax.bar_label(bars, fmt="%.2f", fontsize=6, padding=1)
        ax.set_xticks(range(len(strategies)), [f"{s}\n(chosen)" if s == chosen else s for s in strategies])
        top = max((float(eci[s][part][field]) for s in strategies for field, part, _ in ECI_BARS), default=0)
        ax.set_title("negatives per strategy: hardness, safety, ECI")
        ax.set_ylim(0, max(top, 1e-6) * 1.3)  # headroom for the legend
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize="small", ncols=len(ECI_BARS), loc="upper left")

    return _draw(path, (max(4.5, 1.6 * len(strategies) + 1.5), 3.6), 1, paint)
