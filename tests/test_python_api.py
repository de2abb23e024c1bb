"""The Python quickstart of ``retriever/__init__.py`` runs as written: evaluate, convert, train, index and
search a saved index, all from ``import retriever``; the exported names are the documented ones."""

from __future__ import annotations

import retriever
from tests.test_index_dir import corpus_records, write_dataset


def test_exports_are_listed_and_resolve():
    assert retriever.__all__ == sorted(retriever._EXPORTS)
    for name in retriever.__all__:
        assert getattr(retriever, name) is not None


def test_quickstart_evaluate_convert_train_index_search(tmp_path, tiny_bi_encoder, monkeypatch):
    monkeypatch.setenv("RETRIEVER_CACHE_HOME", str(tmp_path / "cache"))
    data = str(write_dataset(tmp_path / "beir"))
    report = retriever.evaluate(
        retriever.EvalConfig(data=data, models=[str(tiny_bi_encoder)], retrievers=["bm25", "dense"])
    )
    assert [system.retriever for system in report.systems] == ["bm25", "dense"]
    assert all(0 <= system.metrics["nDCG@10"] <= 1 for system in report.systems)

    train_file = retriever.convert(
        retriever.ConvertConfig(data=data, split="test", output=tmp_path / "train.jsonl", negatives=2)
    )
    model = retriever.train_model(
        retriever.TrainConfig(
            data=train_file, model=str(tiny_bi_encoder), output=tmp_path / "model", max_steps=2, batch_size=4
        )
    )
    directory = retriever.build_index(
        retriever.IndexBuildConfig(model=str(model), data=data, output=tmp_path / "index", bm25={})
    )
    index = retriever.load_index(directory)
    first = corpus_records()[1]
    lexical = index.search([f"{first['title']} {first['text']}"], k=3, retriever="bm25")
    assert lexical[0][0][0] == first["_id"]  # a document's own text finds it first
    dense = index.search(["anything at all", first["text"]], k=5)
    assert [len(hits) for hits in dense] == [5, 5]
    assert all(hits == sorted(hits, key=lambda hit: -hit[1]) for hits in dense)
