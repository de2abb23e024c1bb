"""The ECI table printed after mining: one row per strategy, the chosen one marked.

Columns: K, H, S and ECI of the strategy's negatives as mined (per-query values averaged); ``unsafe``: how many
of them the false-negative margins dropped; ``ECI kept``: ECI of the negatives actually written.
"""

from __future__ import annotations

from typing import Any


def eci_table(manifest: dict[str, Any]):
    """A rich Table of ``manifest["eci"]`` (see :func:`retriever.mine.pipeline.mine`)."""
    from rich.table import Table

    table = Table(title=f"ECI per negative strategy ({manifest['counts']['examples']} queries)")
    for column in ("strategy", "K", "H", "S", "ECI", "unsafe", "ECI kept"):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    for name, entry in manifest["eci"].items():
        row = entry["as_mined"]
        chosen = name == manifest["strategy"]
        table.add_row(
            f"{name} (chosen)" if chosen else name,
            f"{row['k']:.2f}",
            f"{row['hardness']:.3f}",
            f"{row['safety']:.3f}",
            f"[bold]{row['eci']:.3f}[/bold]" if chosen else f"{row['eci']:.3f}",
            str(entry["unsafe_dropped"]),
            f"{entry['filtered']['eci']:.3f}",
        )
    return table
