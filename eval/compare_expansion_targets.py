"""Where document expansion moves a document's vector: three targets compared on a dev split, per label budget.

``d' = d + w * target(d)`` (unit length again for cosine models) with, over the labelled queries ``Q(d)`` of
document ``d`` (``n = |Q(d)|``) and the documents ``D(q)`` each query is relevant to:

- ``mean``: ``sum_q q / n``, the toolkit's formula until this comparison;
- ``shrunk``: ``sum_q q / (n + 10)``, the mean shrunk towards no move by 10 pseudo-queries;
- ``spread``: ``sum_q q / |D(q)|``, each query spreading one weight over its relevant documents
  (:mod:`retriever.retrieval.expansion` now).

Every ``--expand-with`` split (e.g. seeded subsets of train written by ``eval/label_subsets.py``) is compared on
the same searched queries, at each weight, for every model, as ``eval/tune_expansion.py`` tables one target.

    python eval/compare_expansion_targets.py --data runs/label_budget/nfcorpus --split dev \
        --expand-with train-50-s42 --expand-with train -m sentence-transformers/all-MiniLM-L6-v2
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
from tune_expansion import DEPTH, split_queries
from tuning_table import per_query, print_tuning_table

from retriever.retrieval.config import EncoderConfig
from retriever.retrieval.dense_index import DenseIndex
from retriever.retrieval.embedding_cache import EmbeddingCache
from retriever.retrieval.encoder import Encoder
from retriever.retrieval.expansion import DocumentExpansion
from retriever.retrieval.search import corpus_embeddings, moved_towards, vector_search

SHRINKAGE = 10


def targets(expansion: DocumentExpansion, ids: list[str], encoder: Encoder) -> dict[str, np.ndarray]:
    """The three targets of the module docstring, row i for document ``ids[i]``."""
    counted = dataclasses.replace(
        expansion, queries={doc: [(text, 1.0) for text, _ in qs] for doc, qs in expansion.queries.items()}
    )
    sums = counted.targets(ids, encoder)
    n = np.array([len(expansion.queries.get(doc, ())) for doc in ids], dtype=np.float32)[:, None]
    return {
        "mean": sums / np.maximum(n, 1),
        f"shrunk {SHRINKAGE}": sums / (n + SHRINKAGE),
        "spread": expansion.targets(ids, encoder),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, help="Dataset directory or name.")
    parser.add_argument("--split", default="dev", help="The queries searched.")
    parser.add_argument("--expand-with", action="append", required=True, help="A labelled split; repeat.")
    parser.add_argument("--holdout", type=float, default=None, help="As in tune_expansion.py (one split).")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the held-out draw.")
    parser.add_argument("-m", "--model", action="append", required=True, help="Model path; repeat.")
    parser.add_argument("--weights", default="0.5,1,2,3,5")
    args = parser.parse_args()
    weights = [float(w) for w in args.weights.split(",")]
    for split in args.expand_with:
        searched, labelled = split_queries(argparse.Namespace(**{**vars(args), "expand_with": split}))
        queries = searched.judged_queries()
        ids = list(searched.corpus.ids)
        expansion = DocumentExpansion.from_dataset(labelled, weight=1.0)
        scores: dict[str, list[dict[str, float]]] = {}
        for model in args.model:
            encoder = Encoder(model, EncoderConfig())
            documents = corpus_embeddings(encoder, searched.corpus, EmbeddingCache())
            vectors = encoder.encode_queries(list(queries.values()))
            scores.setdefault("plain", []).append(
                per_query(
                    searched, vector_search(DenseIndex.build(documents, ids), list(queries), vectors, DEPTH)
                )
            )
            for name, target in targets(expansion, ids, encoder).items():
                for weight in weights:
                    index = DenseIndex.build(
                        moved_towards(documents, target, weight, encoder.normalized), ids
                    )
                    run = vector_search(index, list(queries), vectors, DEPTH)
                    scores.setdefault(f"{name} w={weight:g}", []).append(per_query(searched, run))
        labels = sum(len(qs) for qs in expansion.queries.values())
        title = (
            f"\n### {searched.split} nDCG@10 ({len(queries)} queries), documents expanded with {labelled.split}: "
            f"{len({t for qs in expansion.queries.values() for t, _ in qs})} queries, {len(expansion.queries)} "
            f"documents, {labels / max(len(expansion.queries), 1):.1f} labelled queries a document"
        )
        print_tuning_table(title, args.model, scores, "plain", "target")


if __name__ == "__main__":
    main()
