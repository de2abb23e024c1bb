"""Choose dense pseudo-relevance feedback (``retriever eval --feedback-depth D --feedback-weight W``) on a dev
split, over several models at once (seeds of one recipe): the way a user would set it.

For every model the corpus vectors come from the embedding cache (encoded once if missing), the queries of
``--split`` are searched plainly and with every (depth, weight) of the grid
(:func:`retriever.retrieval.search.with_feedback`, the queries encoded once per model, depth 1000, self-hits removed as BEIR does, nDCG@10 by
:func:`retriever.eval.metrics.evaluate_run`); the table gives each setting's nDCG@10 per model, their mean, and
the paired difference from the plain search (95% interval over the queries, :mod:`retriever.eval.significance`)
per model. The setting with the best mean is marked; read test once for it with ``retriever eval``. With
``--expand-with SPLIT`` the documents are first expanded with that split's labelled queries
(:mod:`retriever.retrieval.expansion`, ``--expansion-weight``), as ``retriever eval --expand-with`` does.

    python eval/tune_feedback.py --data nfcorpus --split dev -m runs/a/model -m runs/b/model
"""

from __future__ import annotations

import argparse

from tuning_table import METRIC, per_query, print_tuning_table

from retriever.data.loader import load_dataset
from retriever.retrieval.config import EncoderConfig, ExpansionConfig, FeedbackConfig
from retriever.retrieval.dense_index import DenseIndex
from retriever.retrieval.embedding_cache import EmbeddingCache
from retriever.retrieval.encoder import Encoder
from retriever.retrieval.expansion import DocumentExpansion
from retriever.retrieval.search import corpus_embeddings, vector_search, with_feedback

DEPTH = 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, help="Dataset directory or name.")
    parser.add_argument("--split", default="dev")
    parser.add_argument("-m", "--model", action="append", required=True, help="Model path; repeat.")
    parser.add_argument("--depths", default="1,2,3,5,10")
    parser.add_argument("--weights", default="0.25,0.5,0.75,1")
    parser.add_argument("--expand-with", default=None, help="Expand the documents with this split's labels.")
    parser.add_argument("--expansion-weight", type=float, default=ExpansionConfig().weight)
    args = parser.parse_args()
    grid = [
        FeedbackConfig(depth=int(d), weight=float(w))
        for d in args.depths.split(",")
        for w in args.weights.split(",")
    ]
    dataset = load_dataset(args.data, args.split)
    queries = dataset.judged_queries()
    cache = EmbeddingCache()
    expansion = None
    if args.expand_with is not None:
        labelled = load_dataset(args.data, args.expand_with, dataset.corpus)
        expansion = DocumentExpansion.from_dataset(labelled, args.expansion_weight)
    scores: dict[str, list[dict[str, float]]] = {}  # setting -> per model, per-query nDCG@10
    for model in args.model:
        encoder = Encoder(model, EncoderConfig())
        documents = corpus_embeddings(encoder, dataset.corpus, cache)
        if expansion is not None:
            documents = expansion.vectors(documents, list(dataset.corpus.ids), encoder)
        index = DenseIndex.build(documents, list(dataset.corpus.ids))
        vectors = encoder.encode_queries(list(queries.values()))  # once: every setting moves these
        for setting in [None, *grid]:
            moved = with_feedback(index, vectors, setting, encoder.normalized)
            run = vector_search(index, list(queries), moved, DEPTH)
            scores.setdefault(name(setting), []).append(per_query(dataset, run))
    expanded = f", documents expanded with {args.expand_with} (weight {args.expansion_weight:g})"
    title = f"{args.split} {METRIC}" + (expanded if expansion is not None else "")
    print_tuning_table(title, args.model, scores, "plain", "feedback")


def name(setting: FeedbackConfig | None) -> str:
    return "plain" if setting is None else f"depth {setting.depth}, weight {setting.weight:g}"


if __name__ == "__main__":
    main()
