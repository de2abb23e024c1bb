"""A seeded synthetic BEIR corpus for the scale benchmark (issue #13): any number of passages, with queries
whose positives are known.

Everything is drawn from the shared corpora (default ``../shared/data/scifact`` and ``nfcorpus``), read
with :mod:`retriever.data` and split into lowercase ``\\w+`` words:

- the vocabulary and its unigram frequencies: every word of every source document (title and text);
- topics: source documents, ``ceil(passages / topic_size)`` of them (all of them when fewer) in a seeded
  order; each passage belongs to one topic drawn uniformly;
- a passage's length in words: the length of a source document drawn uniformly (so the length distribution
  is the sources'); each word, with probability ``topic_share``, is a word of its topic's document (drawn by
  its frequency there), otherwise a word of the whole vocabulary (drawn by its unigram frequency). The topic
  words give passages the burstiness and shared terms of real text; titles are empty;
- a query: 1, 2 or 3 positives (probabilities 0.5 / 0.3 / 0.2): a passage drawn uniformly and others of
  its topic; a length in words drawn from the source queries' lengths (at least 2); its words are distinct
  words of the positives, taken from them in turn, each drawn in proportion to its squared self-information
  ``log(p(word))**2`` (content words far more often than function words, as in real queries). The positives
  are its qrels (grade 1); other passages of the topic share words with it and are unjudged, as in real
  sparse qrels.

Writes ``corpus.jsonl`` (ids ``p0``...), ``queries.jsonl`` (``q0``...; the train queries, then the test
ones), ``qrels/train.tsv``, ``qrels/test.tsv`` and, last, ``synthetic.json`` (the parameters and counts; a
folder without it is incomplete). The same arguments give byte-identical files. Passages are generated and
written in chunks: memory holds the sources, one chunk, the positives' words and two integers per passage.

Usage: ``python eval/make_synthetic_corpus.py --passages 100000 --train-queries 10000 --test-queries 1000
--output eval/output/scale/synthetic-1e5`` (``eval/output/scale/`` is not committed).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retriever.errors import RetrieverError

ROOT = Path(__file__).resolve().parents[1]
SOURCES = (ROOT.parent / "shared" / "data" / "scifact", ROOT.parent / "shared" / "data" / "nfcorpus")
POSITIVE_COUNTS = (1, 2, 3)
POSITIVE_SHARES = (0.5, 0.3, 0.2)
CHUNK = 10_000  # passages generated per step (part of the output's definition: the draws follow it)
WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Sources:
    """What the generator draws from: the vocabulary (most frequent first) with unigram probabilities, the
    token ids of every non-empty source document, and the word count of every source query."""

    words: np.ndarray
    probabilities: np.ndarray
    documents: list[np.ndarray]
    query_lengths: np.ndarray


def read_sources(paths: tuple[Path, ...] | list[Path]) -> Sources:
    """The vocabulary, documents and query lengths of the BEIR folders ``paths``."""
    from retriever.data import load_dataset

    texts, query_texts = [], []
    for path in paths:
        dataset = load_dataset(str(path))
        texts += dataset.corpus.joined(" ")
        query_texts += list(dataset.queries.values())
    tokenized = [WORD.findall(text.lower()) for text in texts]
    counts = Counter(word for tokens in tokenized for word in tokens)
    vocabulary = sorted(counts, key=lambda word: (-counts[word], word))
    index = {word: i for i, word in enumerate(vocabulary)}
    frequencies = np.array([counts[word] for word in vocabulary], dtype=np.float64)
    documents = [np.array([index[w] for w in tokens], dtype=np.int32) for tokens in tokenized if tokens]
    lengths = np.array([len(WORD.findall(q.lower())) for q in query_texts], dtype=np.int64)
    return Sources(np.array(vocabulary, dtype=object), frequencies / frequencies.sum(), documents, lengths)


class Topics:
    """The topics' documents as one flat token array with each topic's offset and size (vectorised draws)."""

    def __init__(self, documents: list[np.ndarray]) -> None:
        self.count = len(documents)
        self.sizes = np.array([len(d) for d in documents], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)[:-1]])
        self.tokens = np.concatenate(documents)

    def draw(self, rng: np.random.Generator, owners: np.ndarray) -> np.ndarray:
        """One token of each owner's topic, drawn by its frequency in that topic's document."""
        return self.tokens[
            self.offsets[owners] + (rng.random(len(owners)) * self.sizes[owners]).astype(np.int64)
        ]


def _passage_words(
    rng: np.random.Generator,
    sources: Sources,
    topics: Topics,
    topic_of: np.ndarray,
    lengths: np.ndarray,
    topic_share: float,
) -> list[np.ndarray]:
    """Token ids of the passages whose topics are ``topic_of`` and lengths ``lengths`` (one chunk)."""
    total = int(lengths.sum())
    from_topic = rng.random(total) < topic_share
    tokens = np.empty(total, dtype=np.int32)
    tokens[~from_topic] = rng.choice(
        len(sources.words), size=int((~from_topic).sum()), p=sources.probabilities
    )
    tokens[from_topic] = topics.draw(rng, np.repeat(topic_of, lengths)[from_topic])
    return np.split(tokens, np.cumsum(lengths)[:-1])


def _positives(rng: np.random.Generator, topic_of: np.ndarray, count: int) -> list[list[int]]:
    """For each of ``count`` queries, its positive passages: one drawn uniformly, then up to 1 or 2 more of
    its topic."""
    order = np.argsort(topic_of, kind="stable")
    starts = np.searchsorted(topic_of[order], np.arange(topic_of.max() + 2))
    chosen = []
    for _ in range(count):
        wanted = int(rng.choice(POSITIVE_COUNTS, p=POSITIVE_SHARES))
        first = int(rng.integers(len(topic_of)))
        topic = topic_of[first]
        mates = order[starts[topic] : starts[topic + 1]]
        mates = mates[mates != first]
        extra = rng.choice(mates, size=min(wanted - 1, len(mates)), replace=False) if wanted > 1 else []
        chosen.append(sorted([first, *map(int, extra)]))
    return chosen


def _query(
    rng: np.random.Generator, sources: Sources, positives: list[np.ndarray], weights: np.ndarray
) -> str:
    """A query made of distinct words of ``positives``, taken from each in turn, each drawn with weight
    ``weights[word]``."""
    pools = [np.unique(tokens) for tokens in positives]
    length = max(2, int(rng.choice(sources.query_lengths)))
    length = min(length, len(np.unique(np.concatenate(pools))))
    chosen: list[int] = []
    turn = 0
    while len(chosen) < length:
        pool = pools[turn % len(pools)]
        turn += 1
        pool = pool[~np.isin(pool, chosen)]
        if len(pool):
            chosen.append(int(rng.choice(pool, p=weights[pool] / weights[pool].sum())))
    return " ".join(sources.words[chosen])


def make_corpus(
    output: Path,
    passages: int,
    train_queries: int,
    test_queries: int,
    seed: int = 0,
    topic_share: float = 0.5,
    topic_size: int = 20,
    sources: tuple[Path, ...] | list[Path] = SOURCES,
) -> dict:
    """Write the synthetic BEIR folder ``output`` (see the module docstring) and return its ``synthetic.json``
    record. ``ValueError`` (one line) for sizes the generator cannot honour."""
    if passages < 1 or train_queries < 0 or test_queries < 0 or train_queries + test_queries < 1:
        raise ValueError("need at least one passage and one query")
    if not 0 <= topic_share <= 1 or topic_size < 1:
        raise ValueError("topic_share must lie in [0, 1] and topic_size be at least 1")
    started = time.perf_counter()
    source = read_sources(sources)
    rng = np.random.default_rng(seed)
    topic_count = min(len(source.documents), math.ceil(passages / topic_size))
    topics = Topics([source.documents[i] for i in rng.permutation(len(source.documents))[:topic_count]])
    topic_of = rng.integers(topic_count, size=passages)
    lengths = rng.choice(np.array([len(d) for d in source.documents]), size=passages)
    positives = _positives(rng, topic_of, train_queries + test_queries)
    needed = {p for group in positives for p in group}
    kept: dict[int, np.ndarray] = {}
    (output / "qrels").mkdir(parents=True, exist_ok=True)
    (output / "synthetic.json").unlink(missing_ok=True)
    with open(output / "corpus.jsonl", "w", encoding="utf-8") as corpus:
        for start in range(0, passages, CHUNK):
            end = min(passages, start + CHUNK)
            words = _passage_words(rng, source, topics, topic_of[start:end], lengths[start:end], topic_share)
            for offset, tokens in enumerate(words):
                if start + offset in needed:
                    kept[start + offset] = tokens
                record = {"_id": f"p{start + offset}", "title": "", "text": " ".join(source.words[tokens])}
                corpus.write(json.dumps(record) + "\n")
    weights = np.log(source.probabilities) ** 2
    texts = [_query(rng, source, [kept[p] for p in group], weights) for group in positives]
    with open(output / "queries.jsonl", "w", encoding="utf-8") as queries:
        for i, text in enumerate(texts):
            queries.write(json.dumps({"_id": f"q{i}", "text": text}) + "\n")
    for split, ids in (("train", range(train_queries)), ("test", range(train_queries, len(texts)))):
        rows = [f"q{i}\tp{p}\t1\n" for i in ids for p in positives[i]]
        (output / "qrels" / f"{split}.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(rows))
    record = {
        "passages": passages,
        "train_queries": train_queries,
        "test_queries": test_queries,
        "seed": seed,
        "topic_share": topic_share,
        "topic_size": topic_size,
        "topics": topic_count,
        "sources": [str(Path(p).resolve()) for p in sources],
        "vocabulary": len(source.words),
        "mean_passage_words": round(float(lengths.mean()), 1),
        "positives_per_query": round(sum(map(len, positives)) / len(positives), 3),
        "seconds": round(time.perf_counter() - started, 1),
    }
    (output / "synthetic.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, required=True)
    parser.add_argument("--train-queries", type=int, default=1000)
    parser.add_argument("--test-queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--topic-share", type=float, default=0.5, help="share of a passage's words from its topic"
    )
    parser.add_argument("--topic-size", type=int, default=20, help="passages per topic (while topics last)")
    parser.add_argument("--source", type=Path, action="append", help="BEIR folder to draw from (repeatable)")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        record = make_corpus(
            args.output,
            args.passages,
            args.train_queries,
            args.test_queries,
            args.seed,
            args.topic_share,
            args.topic_size,
            tuple(args.source or SOURCES),
        )
    except (ValueError, RetrieverError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
