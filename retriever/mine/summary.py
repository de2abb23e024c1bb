"""The ECI table printed after mining, and ``report.md`` (that table, with the ``plots`` extra ``eci.png``).

One row per strategy, the chosen one marked. Columns: K, H, S and ECI of the strategy's negatives as mined
(per-query values averaged); ``unsafe``: how many of them the false-negative margins dropped; ``K kept``: the
negatives actually written, per query; ``none kept``: the queries left with no negative at all (they train on
in-batch negatives only: with many positives a query, the margins against its weakest positive can empty most
sets); ``ECI kept``: ECI of the negatives actually written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from retriever.files import atomic_write_text

REPORT = "report.md"
FIGURE = "eci.png"
COLUMNS = ("strategy", "K", "H", "S", "ECI", "unsafe", "K kept", "none kept", "ECI kept")


def _cells(name: str, entry: dict[str, Any]) -> list[str]:
    row = entry["as_mined"]
    return [
        name,
        f"{row['k']:.2f}",
        f"{row['hardness']:.3f}",
        f"{row['safety']:.3f}",
        f"{row['eci']:.3f}",
        str(entry["unsafe_dropped"]),
        f"{entry['filtered']['k']:.2f}",
        str(entry.get("queries_without_negatives", "-")),  # older manifests lack the count
        f"{entry['filtered']['eci']:.3f}",
    ]


def eci_table(manifest: dict[str, Any]):
    """A rich Table of ``manifest["eci"]`` (see :func:`retriever.mine.pipeline.mine`)."""
    from rich.table import Table

    table = Table(
        title=f"ECI per negative strategy ({manifest['counts']['examples']} queries)",
        collapse_padding=True,
        pad_edge=False,
    )
    # The strategy's name stays whole on one line; on a narrow terminal the numbers' headers wrap instead.
    for column in COLUMNS:
        is_strategy = column == "strategy"
        table.add_column(column, justify="left" if is_strategy else "right", no_wrap=is_strategy)
    for name, entry in manifest["eci"].items():
        cells = _cells(name, entry)
        if name == manifest["strategy"]:
            cells[0], cells[4] = f"{name} (chosen)", f"[bold]{cells[4]}[/bold]"
        table.add_row(*cells)
    return table


def markdown(manifest: dict[str, Any], figure: str | None = None) -> str:
    """``report.md`` of a mining run: what was mined, the ECI table, then ``figure`` (a file name) if given."""
    dataset = manifest["dataset"]
    lines = [
        f"# Mining: {dataset['data']} ({dataset['split']})",
        "",
        f"{dataset['queries']} queries, {dataset['documents']} documents; teacher `{manifest['teacher']['kind']}`, "
        f"judge `{manifest['judge']['kind']}`; {manifest['counts']['examples']} examples written to "
        f"`train.jsonl` with the negatives of `{manifest['strategy']}`. Everything measured: `manifest.json`.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|---|" + "---:|" * (len(COLUMNS) - 1),
    ]
    for name, entry in manifest["eci"].items():
        cells = _cells(name, entry)
        if name == manifest["strategy"]:
            cells[0], cells[4] = f"**{name}** (chosen)", f"**{cells[4]}**"
        lines.append("| " + " | ".join(cells) + " |")
    if figure:
        lines += ["", f"![hardness, safety and ECI per strategy]({figure})"]
    return "\n".join(lines) + "\n"


def write_report(out: str | Path, manifest: dict[str, Any]) -> Path:
    """Write ``eci.png`` (with the ``plots`` extra) and ``report.md`` into ``out``; returns the report path."""
    from retriever import plots

    out = Path(out)
    figure = plots.eci_figure(manifest["eci"], out / FIGURE, manifest["strategy"])
    path = out / REPORT
    atomic_write_text(path, markdown(manifest, figure.name if figure else None))
    return path
