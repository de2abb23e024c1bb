"""`retriever index` writes a complete index directory; loading it checks the model, the files and the manifest."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from retriever.cli import app
from retriever.errors import InputError
from retriever.provenance import library_versions
from tests.dataset_files import jsonl, write_beir
from tests.tiny_models import WORDS

QUERIES = {f"q{i}": " ".join(WORDS[(i * 5 + j) % len(WORDS)] for j in range(4)) for i in range(12)}


def corpus_records() -> list[dict]:
    """40 documents over the tiny vocabulary; every fifth has no title."""
    return [
        {
            "_id": f"doc{i}",
            "title": "" if i % 5 == 0 else f"{WORDS[i % len(WORDS)]} {WORDS[(i * 3) % len(WORDS)]}",
            "text": " ".join(WORDS[(i * 11 + j * 7) % len(WORDS)] for j in range(15)),
        }
        for i in range(40)
    ]


def write_dataset(root):
    """A BEIR directory with the tiny corpus and :data:`QUERIES` (qrels: each query -> one document)."""
    queries = [{"_id": qid, "text": text} for qid, text in QUERIES.items()]
    qrels = ["query-id\tcorpus-id\tscore"] + [f"{qid}\tdoc{i}\t1" for i, qid in enumerate(QUERIES)]
    return write_beir(root, corpus=jsonl(corpus_records()), queries=jsonl(queries), qrels={"test": qrels})


def cli(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result


@pytest.fixture(scope="module")
def built(tiny_bi_encoder, tmp_path_factory):
    """(model, dataset dir, index dir) with a flat index and BM25."""
    root = tmp_path_factory.mktemp("index")
    data = write_dataset(root / "tiny-beir")
    out = root / "index"
    result = cli(
        "index", "--model", tiny_bi_encoder, "--data", data, "--out", out, "--bm25", "--no-cache"
    )  # the old, hidden name of --output
    assert result.exit_code == 0, result.output
    return tiny_bi_encoder, data, out


@pytest.fixture
def copy_of(built, tmp_path):
    """A private copy of the built index (for tests that damage it)."""
    target = tmp_path / "copy"
    shutil.copytree(built[2], target)
    return target


def test_manifest_describes_model_index_and_corpus(built):
    from retriever.data.loader import load_dataset

    model, data, out = built
    manifest = json.loads((out / "manifest.json").read_text())
    corpus = load_dataset(str(data)).corpus
    assert manifest["format"] == "retriever-index" and manifest["format_version"] == 1
    assert (
        manifest["dimension"] == 32 and manifest["similarity"] == "cosine" and manifest["normalized"] is True
    )
    assert manifest["index"]["type"] == "flat" and manifest["index"]["size"] == 40
    assert manifest["corpus"]["fingerprint"] == corpus.fingerprint and manifest["corpus"]["documents"] == 40
    assert manifest["model"]["source"] == str(model.resolve())
    assert np.asarray(manifest["model"]["fingerprint"]["vectors"]).shape == (3, 32)
    assert manifest["bm25"]["k1"] == 1.5 and manifest["encoder"]["title_separator"] == " "
    assert manifest["versions"] == library_versions()
    for name in ("docs.arrow", "dense/index.faiss", "bm25/bm25.json"):
        assert (out / name).is_file()


def test_loaded_index_searches_like_in_process(built):
    from retriever.data.loader import load_dataset
    from retriever.index.directory import load_index
    from retriever.retrieval.encoder import Encoder
    from retriever.retrieval.search import dense_search, index_corpus

    model, data, out = built
    loaded = load_index(out)
    corpus = load_dataset(str(data)).corpus
    assert loaded.documents.ids == corpus.ids
    assert loaded.documents.get(["doc7", "doc0"]) == [
        (corpus.titles[7], corpus.texts[7]),
        (corpus.titles[0], corpus.texts[0]),
    ]
    encoder = Encoder(model, progress=False)
    fresh = dense_search(encoder, index_corpus(encoder, corpus), QUERIES, 10)
    served = dense_search(loaded.encoder, loaded.dense, QUERIES, 10)
    assert served.keys() == fresh.keys()
    for qid in QUERIES:
        assert list(served[qid]) == list(fresh[qid])
        np.testing.assert_allclose(list(served[qid].values()), list(fresh[qid].values()), rtol=1e-5)


def test_model_with_other_weights_is_refused(built, tmp_path):
    from tests.tiny_models import build_bi_encoder

    other = build_bi_encoder(tmp_path / "other", seed=1)
    result = cli("serve", built[2], "--model", other)
    assert result.exit_code == 2
    assert "gives different vectors" in result.output and "rebuild the index" in result.output


def test_model_with_other_dimension_is_refused(built, tmp_path):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense, Normalize

    base = SentenceTransformer(str(built[0]), device="cpu")
    projected = SentenceTransformer(modules=[base[0], base[1], Dense(32, 16), Normalize()], device="cpu")
    projected.save(str(tmp_path / "projected"))
    result = cli("serve", built[2], "--model", tmp_path / "projected")
    assert result.exit_code == 2 and "dimension 32" in result.output and "dimension 16" in result.output


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda d: (d / "dense" / "index.faiss").write_bytes(b"garbage" * 10),
            "corrupt or unreadable FAISS index",
        ),
        (lambda d: (d / "docs.arrow").write_bytes(b"garbage"), "corrupt or unreadable documents file"),
        (lambda d: (d / "manifest.json").write_text('{"format": '), "manifest.json:1: invalid JSON"),
        (lambda d: (d / "manifest.json").unlink(), "no manifest.json"),
        (lambda d: (d / "bm25" / "bm25.json").write_text("{"), "corrupt or unreadable BM25 index"),
        (lambda d: (d / "dense" / "ids.json").write_text('["x"]'), "disagree"),
    ],
)
def test_damaged_directory_is_a_one_line_error(copy_of, damage, message):
    damage(copy_of)
    result = cli("serve", copy_of, "--port", "1")
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1


def test_bm25_serving_needs_a_bm25_index(copy_of):
    shutil.rmtree(copy_of / "bm25")
    result = cli("serve", copy_of, "--retriever", "hybrid")
    assert result.exit_code == 2 and "--bm25" in result.output


def test_index_refuses_a_non_empty_output_and_bad_settings(built, tmp_path):
    model, data, out = built
    result = cli("index", "--model", model, "--data", data, "--output", out)
    assert result.exit_code == 2 and "not an empty directory" in result.output
    result = cli("index", "--model", model, "--data", data, "--output", tmp_path / "x", "--index", "annoy")
    assert result.exit_code == 2 and "index.type" in result.output
    result = cli(
        "index", "--model", model, "--data", data, "--output", tmp_path / "x", "--set", "index.hnsw_m=0"
    )
    assert result.exit_code == 2 and "index.hnsw_m" in result.output


def test_replace_rebuilds_an_index_but_no_other_folder(built, copy_of, tmp_path):
    """A recipe run again replaces its index; a folder that is not an index is never replaced, and a build that
    fails leaves the old index as it was."""
    from retriever.index.config import IndexBuildConfig
    from retriever.index.directory import build_index

    model, data, _ = built
    config = IndexBuildConfig(model=str(model), data=str(data), output=copy_of, cache=False)
    (copy_of / "manifest.json").write_text(
        (copy_of / "manifest.json").read_text().replace('"format_version"', '"stale": 1, "format_version"')
    )
    assert build_index(config, replace=True) == copy_of
    manifest = json.loads((copy_of / "manifest.json").read_text())
    assert "stale" not in manifest and not (copy_of / "bm25").exists()  # this build's settings: no BM25
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy"]  # no staging folder left beside it

    before = (copy_of / "manifest.json").read_text()
    with pytest.raises(InputError):
        build_index(config.model_copy(update={"data": str(tmp_path / "missing")}), replace=True)
    assert (copy_of / "manifest.json").read_text() == before

    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="not an index directory"):
        build_index(config.model_copy(update={"output": other}), replace=True)
    assert (other / "keep.txt").read_text() == "mine"


def test_hnsw_index_with_override(built, tmp_path):
    from retriever.index.directory import load_index

    model, data, _ = built
    out = tmp_path / "hnsw"
    args = ("index", "--model", model, "--data", data, "--output", out, "--index", "hnsw", "--no-cache")
    result = cli(*args, "--set", "index.hnsw_m=8")
    assert result.exit_code == 0, result.output
    loaded = load_index(out)
    assert loaded.manifest["index"]["params"]["hnsw_m"] == 8 and loaded.dense.config.type == "hnsw"


def test_bf16_index_serves_with_bf16_queries(built, tmp_path):
    """A bf16-built index encodes its queries (and checks its fingerprint) in bf16 on load; a fp32 loader
    differed from the bf16 fingerprint by 0.00126 on the quickstart model, above the tolerance, and refused
    the index at `make demo`'s serve stage."""
    from retriever.index.directory import load_index

    model, data, _ = built
    out = tmp_path / "bf16"
    result = cli(
        "index", "--model", model, "--data", data, "--output", out, "--precision", "bf16", "--no-cache"
    )
    assert result.exit_code == 0, result.output
    loaded = load_index(out)
    assert loaded.manifest["encoder"]["precision"] == "bf16"
    assert loaded.encoder.config.precision == "bf16"


def test_read_manifest_rejects_other_formats(copy_of):
    from retriever.index.directory import read_manifest

    manifest = json.loads((copy_of / "manifest.json").read_text())
    (copy_of / "manifest.json").write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(InputError, match="format version 99"):
        read_manifest(copy_of)


def test_serve_settings_are_validated_before_loading(built):
    result = cli("serve", built[2], "--retriever", "hybrid", "--fusion", "max")
    assert result.exit_code == 2 and "fusion.method" in result.output
    result = cli("serve", built[2], "--max-k", "0")
    assert result.exit_code == 2 and "max_k" in result.output
