"""Choose the dense weight of document expansion with labelled queries (``retriever eval --expand-with SPLIT
--expansion-weight W``, :mod:`retriever.retrieval.expansion`) on a dev split, over several models at once.

For every model the corpus vectors come from the embedding cache, the documents are moved towards their labelled
queries (those of ``--expand-with``, each spreading the weight over its relevant documents) at every weight of the
grid, and the queries of ``--split``
are searched (depth 1000, self-hits removed as BEIR does); the table gives each weight's nDCG@10 per model,
their mean, and the paired difference from the unexpanded index per model. BM25 over the texts with the
queries appended is printed next to plain BM25. Read test once for the chosen weight with ``retriever eval``.

A dataset without a dev split (SciFact) holds out ``--holdout`` of the labelled split's queries instead: they
are searched, the others expand the documents (use a model not trained on those queries).

    python eval/tune_expansion.py --data nfcorpus --split dev --expand-with train -m runs/a/model -m runs/b/model
    python eval/tune_expansion.py --data scifact --split train --expand-with train --holdout 0.2 -m <base model>
"""

from __future__ import annotations

import argparse
import dataclasses
import random

from tuning_table import METRIC, mean, per_query, print_tuning_table

from retriever.data.dataset import Dataset
from retriever.data.loader import load_dataset
from retriever.eval.significance import paired_difference
from retriever.retrieval.bm25 import BM25Index
from retriever.retrieval.config import BM25Config, EncoderConfig
from retriever.retrieval.dense_index import DenseIndex
from retriever.retrieval.embedding_cache import EmbeddingCache
from retriever.retrieval.encoder import Encoder
from retriever.retrieval.expansion import DocumentExpansion
from retriever.retrieval.search import corpus_embeddings, moved_towards, vector_search

DEPTH = 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, help="Dataset directory or name.")
    parser.add_argument("--split", default="dev", help="The queries searched.")
    parser.add_argument("--expand-with", default="train", help="The split whose labelled queries expand.")
    parser.add_argument("--holdout", type=float, default=None, help="Fraction held out when the two are one.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the held-out draw.")
    parser.add_argument("-m", "--model", action="append", required=True, help="Model path; repeat.")
    parser.add_argument("--weights", default="0.5,1,1.5,2,3,4,6")
    args = parser.parse_args()
    searched, labelled = split_queries(args)
    queries = searched.judged_queries()
    ids = list(searched.corpus.ids)
    expansion = DocumentExpansion.from_dataset(labelled, weight=1.0)  # weight unused: the grid gives it
    scores: dict[str, list[dict[str, float]]] = {}  # setting -> per model, per-query nDCG@10
    for model in args.model:
        encoder = Encoder(model, EncoderConfig())
        documents = corpus_embeddings(encoder, searched.corpus, EmbeddingCache())
        vectors = encoder.encode_queries(list(queries.values()))
        targets = expansion.targets(ids, encoder)  # once: every weight moves the documents towards these
        for weight in [None, *map(float, args.weights.split(","))]:
            moved = (
                documents if weight is None else moved_towards(documents, targets, weight, encoder.normalized)
            )
            run = vector_search(DenseIndex.build(moved, ids), list(queries), vectors, DEPTH)
            name = "plain" if weight is None else f"weight {weight:g}"
            scores.setdefault(name, []).append(per_query(searched, run))
    title = f"{searched.split} {METRIC} ({len(queries)} queries), documents expanded with {labelled.split}"
    print_tuning_table(title, args.model, scores, "plain", "expansion")
    lexical = {
        name: per_query(searched, BM25Index.build(corpus, BM25Config()).search(queries, DEPTH))
        for name, corpus in [("plain", searched.corpus), ("expanded", expansion.corpus(searched.corpus))]
    }
    print(
        f"\nBM25 {METRIC}: plain {mean(lexical['plain']):.4f}, with the labelled queries appended "
        f"{mean(lexical['expanded']):.4f} ({paired_difference(lexical['expanded'], lexical['plain'])})"
    )


def split_queries(args: argparse.Namespace) -> tuple[Dataset, Dataset]:
    """(the dataset whose queries are searched, the one whose labelled queries expand): two splits, or with
    ``--holdout`` one split's queries drawn apart (seeded)."""
    searched = load_dataset(args.data, args.split)
    if args.holdout is None:
        return searched, load_dataset(args.data, args.expand_with, searched.corpus)
    if args.split != args.expand_with:
        raise SystemExit(
            "--holdout draws the searched queries from the --expand-with split: give it as --split"
        )
    ids = sorted(searched.qrels)
    held = set(random.Random(args.seed).sample(ids, round(args.holdout * len(ids))))
    keep = {qid: docs for qid, docs in searched.qrels.items() if qid not in held}
    held_out = {qid: docs for qid, docs in searched.qrels.items() if qid in held}
    split = f"{args.split} (held out {args.holdout:g})"
    return dataclasses.replace(searched, qrels=held_out, split=split), dataclasses.replace(
        searched, qrels=keep
    )


if __name__ == "__main__":
    main()
