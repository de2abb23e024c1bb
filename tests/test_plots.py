"""Figures next to the reports (the ``plots`` extra): eval's metrics by cutoff, train's loss and dev curves,
mine's ECI bars are valid PNGs linked from their reports; without matplotlib nothing is drawn, one warning
says so and every report is still written."""

from __future__ import annotations

import logging
import struct
import sys

import pytest

from retriever import plots
from retriever.eval.config import EvalConfig
from retriever.eval.metrics import evaluate_run
from retriever.eval.report import FIGURE, cutoff_curves
from retriever.eval.runner import evaluate
from retriever.mine.summary import write_report as write_mine_report
from retriever.train.trainer import FIGURE_FILE, train
from tests.test_eval_runner import QRELS, write_beir
from tests.test_train_trainer import config as train_config
from tests.test_train_trainer import write_tiny_training_file

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

ECI = {
    name: {
        "queries": 7,
        "as_mined": {"k": 3.0, "hardness": hardness, "safety": safety, "eci": eci},
        "filtered": {"k": 3.0, "hardness": hardness, "safety": 1.0, "eci": kept},
        "unsafe_dropped": 5,
        "queries_short_of_negatives": 0,
        "queries_without_negatives": 1,
    }
    for name, hardness, safety, eci, kept in (
        ("bm25", 0.386, 0.656, 0.324, 0.333),
        ("dense", 0.601, 0.439, 0.234, 0.304),
        ("hybrid", 0.535, 0.515, 0.274, 0.421),
    )
}
MANIFEST = {
    "dataset": {"data": "tiny", "split": "train", "documents": 40, "queries": 7},
    "teacher": {"kind": "cross-encoder"},
    "judge": {"kind": "none"},
    "strategy": "bm25",
    "eci": ECI,
    "counts": {"examples": 7},
}


def assert_png(path, min_bytes: int = 5_000) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert 200 <= width <= 2000 and 200 <= height <= 1000  # ~100 dpi, a few inches
    assert len(data) >= min_bytes, f"{path.name} is only {len(data)} bytes"
    assert data.rstrip(b"\0")[-8:-4] == b"IEND"


@pytest.fixture
def no_matplotlib(monkeypatch):
    """matplotlib cannot be imported, and the once-per-process warning has not been given yet."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setattr(plots, "_warned", False)


def eval_config(data, tmp_path, out):
    return EvalConfig(
        data=str(data),
        retrievers=["bm25"],
        k=20,
        output=str(out),
        cache_dir=str(tmp_path / "cache"),
        encoder={"device": "cpu"},
    )


def test_eval_writes_a_cutoff_figure_linked_from_the_report(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "out"
    report = evaluate(eval_config(write_beir(tmp_path / "data"), tmp_path, out))
    assert_png(out / FIGURE)
    assert f"]({FIGURE})" in (out / "report.md").read_text()
    curves = cutoff_curves(report, QRELS)
    (system,) = report.systems
    assert sorted(curves["nDCG"]["bm25"]) == [1, 3, 5, 10, 20]  # cutoffs up to the run depth
    assert curves["nDCG"]["bm25"][10] == pytest.approx(system.metrics["nDCG@10"], abs=1e-12)
    direct = evaluate_run(QRELS, system.run, ["Recall@5"]).mean["Recall@5"]
    assert curves["Recall"]["bm25"][5] == direct
    assert all(0 <= value <= 1 for family in curves.values() for v in family.values() for value in v.values())


def test_train_writes_curves_next_to_the_model_linked_from_the_card(tiny_bi_encoder, tmp_path):
    pytest.importorskip("matplotlib")
    data = write_tiny_training_file(tmp_path / "train.jsonl")
    cfg = train_config(tiny_bi_encoder, data, tmp_path / "model", epochs=2, dev={"dev_fraction": 0.25})
    final = train(cfg)
    assert_png(final / FIGURE_FILE)
    card = (final / "README.md").read_text()
    assert f"]({FIGURE_FILE})" in card and "LSEPairLoss" in card  # appended, the card kept


def test_mine_report_links_the_eci_figure(tmp_path):
    pytest.importorskip("matplotlib")
    report = write_mine_report(tmp_path, MANIFEST)
    assert_png(tmp_path / "eci.png")
    text = report.read_text()
    assert (
        "](eci.png)" in text
        and "| **bm25** (chosen) | 3.00 | 0.386 | 0.656 | **0.324** | 5 | 3.00 | 1 | 0.333 |" in text
    )


def test_figures_draw_from_log_records_and_skip_empty_input(tmp_path):
    pytest.importorskip("matplotlib")
    records = [{"step": s, "epoch": s / 40, "loss": 2.0 / s} for s in range(1, 41)]
    records += [{"step": 40, "epoch": 1, "dev": {"nDCG@10": 0.3, "Recall@100": float("nan")}}]
    assert plots.training_figure(records, tmp_path / "t.png", "nDCG@10") == tmp_path / "t.png"
    assert_png(tmp_path / "t.png")
    (tmp_path / "stale.png").write_bytes(b"old")
    assert plots.training_figure([], tmp_path / "stale.png") is None
    assert not (tmp_path / "stale.png").exists()  # no stale figure left behind
    assert plots.eci_figure({}, tmp_path / "e.png") is None and not (tmp_path / "e.png").exists()


def test_without_matplotlib_no_figure_is_written_and_reports_are(
    no_matplotlib, tiny_bi_encoder, tmp_path, caplog
):
    caplog.set_level(logging.WARNING, logger="retriever.plots")
    out = tmp_path / "out"
    evaluate(eval_config(write_beir(tmp_path / "data"), tmp_path, out))
    assert (out / "report.md").is_file() and (out / "report.json").is_file()
    assert not (out / FIGURE).exists() and ".png" not in (out / "report.md").read_text()

    (tmp_path / "mine").mkdir()
    mined = write_mine_report(tmp_path / "mine", MANIFEST)
    assert "| **bm25** (chosen)" in mined.read_text() and ".png" not in mined.read_text()
    assert not (tmp_path / "mine" / "eci.png").exists()

    data = write_tiny_training_file(tmp_path / "train.jsonl")
    final = train(train_config(tiny_bi_encoder, data, tmp_path / "model", epochs=1))
    assert not (final / FIGURE_FILE).exists() and "Training curves" not in (final / "README.md").read_text()

    warnings = [r.getMessage() for r in caplog.records if r.name == "retriever.plots"]
    assert warnings == [plots.MISSING]  # said once, not once per figure
    assert "install retriever[plots]" in plots.MISSING


def test_a_figure_that_fails_to_draw_is_skipped_with_a_warning(tmp_path, caplog):
    pytest.importorskip("matplotlib")
    broken = {"bm25": {"as_mined": {"hardness": "x", "safety": 0.5, "eci": 0.3}, "filtered": {"eci": 0.3}}}
    assert plots.eci_figure(broken, tmp_path / "e.png") is None
    assert not (tmp_path / "e.png").exists() and not list(tmp_path.glob(".*tmp"))
    assert any("e.png not written" in r.getMessage() for r in caplog.records)


def test_mine_writes_its_report_and_figure(tmp_path, tiny_bi_encoder, monkeypatch):
    pytest.importorskip("matplotlib")
    from retriever.mine.pipeline import mine
    from tests.test_mine_pipeline import _config, _write_dataset

    monkeypatch.setenv("RETRIEVER_CACHE_HOME", str(tmp_path / "embeddings"))
    config = _config(_write_dataset(tmp_path / "data"), tiny_bi_encoder, strategy="dense")
    manifest = mine(config, tmp_path / "mined", lambda message: None)
    assert_png(tmp_path / "mined" / "eci.png")
    report = (tmp_path / "mined" / "report.md").read_text()
    assert "](eci.png)" in report and f"**{manifest['strategy']}** (chosen)" in report
