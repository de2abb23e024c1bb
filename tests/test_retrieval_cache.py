"""Embedding cache: a hit does not call the model, an interrupted encode resumes, keys separate settings."""

from __future__ import annotations

import numpy as np
import pytest

from retriever.data.dataset import Corpus
from retriever.retrieval.config import EncoderConfig
from retriever.retrieval.embedding_cache import EmbeddingCache, default_cache_dir
from retriever.retrieval.encoder import Encoder

CORPUS = Corpus(
    ids=[f"d{i}" for i in range(7)],
    titles=["Heart", "", "Liver", "", "Virus", "", "Brain"],
    texts=[f"patients study {w} risk" for w in ("blood", "dose", "gene", "cell", "tumor", "lung", "immune")],
)


class CountingEncoder(Encoder):
    """Counts document batches; ``fail_after`` raises on that call to simulate a crash mid-encode."""

    def __init__(self, model, config=None, fail_after: int | None = None):
        super().__init__(model, config, progress=False)
        self.calls = 0
        self.fail_after = fail_after

    def encode_documents(self, texts):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise KeyboardInterrupt
        return super().encode_documents(texts)


@pytest.fixture(scope="module")
def model(tiny_bi_encoder):
    return Encoder(str(tiny_bi_encoder), EncoderConfig(device="cpu"), progress=False).model


def test_second_call_is_a_memory_mapped_hit(tmp_path, model):
    cache = EmbeddingCache(tmp_path, shard_size=3)
    first = CountingEncoder(model)
    vectors = cache.corpus_embeddings(first, CORPUS)
    assert first.calls == 3 and vectors.shape == (7, first.dimension)
    np.testing.assert_allclose(vectors, first.encode_documents(first.document_texts(CORPUS)), atol=1e-5)

    second = CountingEncoder(model)
    again = cache.corpus_embeddings(second, CORPUS)
    assert second.calls == 0
    assert isinstance(again, np.memmap) and again.dtype == np.float32
    np.testing.assert_array_equal(again, vectors)
    assert sorted(p.name for p in cache.directory(second, CORPUS).iterdir()) == ["embeddings.npy", "key.json"]


def test_interrupted_encode_resumes_at_the_first_missing_shard(tmp_path, model):
    cache = EmbeddingCache(tmp_path, shard_size=2)
    crashing = CountingEncoder(model, fail_after=2)
    with pytest.raises(KeyboardInterrupt):
        cache.corpus_embeddings(crashing, CORPUS)
    directory = cache.directory(crashing, CORPUS)
    assert sorted(p.name for p in directory.glob("shard-*.npy")) == ["shard-00000.npy", "shard-00001.npy"]
    assert not list(directory.glob(".*tmp")) and not cache.contains(crashing, CORPUS)

    resumed = CountingEncoder(model)
    vectors = cache.corpus_embeddings(resumed, CORPUS)
    assert resumed.calls == 2  # shards 2 and 3 of 4
    np.testing.assert_allclose(vectors, resumed.encode_documents(resumed.document_texts(CORPUS)), atol=1e-5)


def test_settings_that_change_vectors_change_the_key(tmp_path, model):
    cache = EmbeddingCache(tmp_path)
    base = Encoder(model, progress=False)
    variants = [
        Encoder(model, EncoderConfig(document_prompt="passage: "), progress=False),
        Encoder(model, EncoderConfig(max_seq_length=16), progress=False),
        Encoder(model, EncoderConfig(title_separator=". "), progress=False),
    ]
    directories = {cache.directory(e, CORPUS) for e in [base, *variants]}
    assert len(directories) == 4
    assert Encoder(model, EncoderConfig(batch_size=3), progress=False).cache_key(CORPUS) == base.cache_key(
        CORPUS
    )
    edited = Corpus(ids=CORPUS.ids, titles=CORPUS.titles, texts=[*CORPUS.texts[:-1], "changed"])
    assert base.cache_key(edited) != base.cache_key(CORPUS)


def test_default_directory_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RETRIEVER_CACHE_HOME", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    assert EmbeddingCache().root == tmp_path / "c"
    monkeypatch.delenv("RETRIEVER_CACHE_HOME")
    assert default_cache_dir().parts[-3:] == (".cache", "retriever", "embeddings")
